import EventLoop
import Threads
import Sandbox

/// Writes `text` to standard error at once, unbuffered (for failures on the machine's own
/// threads, which have no caller to throw to, and for the executable's messages).
package func writeStandardError(_ text: String) {
    _ = DescriptorIO.writeAll(2, Array(text.utf8))
}

/// Writes `bytes` to standard output at once, unbuffered (the pod's log for `launch`'s console).
package func writeStandardOutput(_ bytes: [UInt8]) {
    _ = DescriptorIO.writeAll(1, bytes)
}

/// An OS thread named `name` that restricts itself to `profile` before running `body`; when the
/// filter cannot be installed it says so on stderr and ends without running `body`.
func sandboxedThread(
    name: String, profile: ThreadProfile, seccomp: SeccompMode, _ body: @escaping @Sendable () -> Void
) throws -> OSThread {
    try OSThread(name: name) {
        do { try Sandboxing.restrictCurrentThread(profile, mode: seccomp.filterMode) } catch {
            writeStandardError("swiftvmm: thread \(name): \(error)\n")
            return
        }
        body()
    }
}
