import CSeccomp

#if canImport(Glibc)
    import Glibc
#endif

/// How system calls outside a thread's allow-list are treated.
package enum FilterMode: String, Sendable, CaseIterable {
    /// The process stops at the first forbidden call (SIGSYS; one line on stderr naming the
    /// call and the thread; exit status 16). The default.
    case enforce
    /// Forbidden calls are allowed and logged by the kernel (audit log / dmesg): for finding
    /// what an allow-list lacks.
    case log
    /// No filters. Unsafe: a guest that takes over the VMM has every system call of the host.
    case off
}

/// Why a filter could not be installed.
package struct SandboxError: Error, Equatable, Sendable, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}

/// A seccomp allow-list being built (libseccomp), then loaded on the calling thread (or, with
/// `allThreads`, on every thread of the process).
struct SeccompFilter {
    let calls: [String]
    let ioctls: [UInt]
    let threadsOnlyClone: Bool
    /// Calls that fail with EACCES instead of stopping the process.
    var refused: [String] = []

    /// Loads the filter. `mode` .off does nothing.
    func load(mode: FilterMode, allThreads: Bool) throws(SandboxError) {
        guard mode != .off else { return }
        guard let context = cseccomp_new(Int32(mode == .log ? CSECCOMP_LOG.rawValue : CSECCOMP_TRAP.rawValue)) else {
            throw SandboxError("seccomp: cannot create a filter (libseccomp)")
        }
        for call in calls where cseccomp_allow(context, call) != 0 {
            // A name this kernel or libseccomp does not know is simply not needed here.
            if cseccomp_resolve(call) >= 0 {
                cseccomp_release(context)
                throw SandboxError("seccomp: cannot allow \(call)")
            }
        }
        for request in ioctls where cseccomp_allow_ioctl(context, request) != 0 {
            cseccomp_release(context)
            throw SandboxError("seccomp: cannot allow ioctl 0x\(String(request, radix: 16))")
        }
        for call in refused where cseccomp_fail(context, call, EACCES) != 0 {
            if cseccomp_resolve(call) >= 0 {
                cseccomp_release(context)
                throw SandboxError("seccomp: cannot refuse \(call)")
            }
        }
        if threadsOnlyClone, cseccomp_allow_clone_threads(context) != 0 {
            cseccomp_release(context)
            throw SandboxError("seccomp: cannot allow clone for threads")
        }
        let result = cseccomp_load(context, allThreads ? 1 : 0)
        guard result == 0 else { throw SandboxError("seccomp: loading the filter failed (errno \(-result))") }
    }
}
