import ArgumentParser
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// `swiftvmm sandbox-check`: makes a system call that the vCPU filter forbids, on a thread
/// under that filter — the documented way to see what a violation does (status 16 and one
/// line on stderr under `enforce`). Hidden: for tests and operators checking a host.
struct SandboxCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox-check",
        abstract: "Make a system call the vCPU seccomp filter forbids (expect exit status 16).",
        shouldDisplay: false)

    @Option(name: .long, help: ArgumentHelp("enforce or log.", valueName: "mode"))
    var seccomp: String = "enforce"

    func run() throws {
        guard let mode = SeccompMode(rawValue: seccomp), mode != .off else {
            throw ValidationError("--seccomp: '\(seccomp)' is not valid; expected enforce or log")
        }
        let result: Int32
        do { result = try ProcessSandbox.makeForbiddenCallOnAVCPUThread(mode: mode) } catch {
            throw CommandFailure(error)
        }
        writeStandardError("swiftvmm: the forbidden call returned \(result) (logged, not stopped)\n")
    }
}
