import CSeccomp

#if canImport(Glibc)
    import Glibc
#endif

/// SwiftVMM's sandbox: seccomp allow-lists per thread (libseccomp) and capabilities dropped
/// once set-up is done — on every thread, since Linux keeps capabilities per thread.
package enum Sandboxing {
    /// The exit status of a process stopped by a forbidden system call.
    package static let violationExitStatus: Int32 = 16
    /// How many times the process-wide capability drop reads /proc/self/task before it gives
    /// up (0.2 ms apart: about a second): threads that start meanwhile from a thread that still
    /// held capabilities are caught by a later round.
    static let capabilityDropRounds: Int32 = 5000

    /// Installs the SIGSYS handler that reports a forbidden call and ends the process with
    /// `violationExitStatus` (and drops a thread's capabilities when the process asks it to,
    /// `dropCapabilitiesEverywhere`). Idempotent.
    package static func installViolationHandler() throws(SandboxError) {
        let result = cseccomp_install_violation_handler(violationExitStatus)
        guard result == 0 else {
            throw SandboxError(
                "seccomp: cannot install the SIGSYS handler (errno \(-result))", operation: "sigaction(SIGSYS)",
                errno: -result)
        }
    }

    /// Restricts the calling thread to `profile` (and drops every capability it holds: no
    /// thread but the main one needs any once the machine runs).
    package static func restrictCurrentThread(_ profile: ThreadProfile, mode: FilterMode) throws(SandboxError) {
        guard mode != .off else { return }
        try installViolationHandler()
        let limited = cseccomp_limit_capabilities(0)
        guard limited == 0 else {
            throw SandboxError("cannot drop capabilities (errno \(-limited))", operation: "capset", errno: -limited)
        }
        try SeccompFilter(rules: profile.rules(processID: getpid())).load(mode: mode, allThreads: false)
    }

    /// Ends set-up for the whole process: every thread gives up every capability
    /// (`dropCapabilitiesEverywhere`), then every thread is put under `policy`'s filter
    /// (seccomp TSYNC, which also sets no_new_privs on each). Threads started later inherit
    /// both. With `mode` .off, only the capabilities go.
    package static func restrictProcess(mode: FilterMode, policy: ProcessPolicy) throws(SandboxError) {
        try installViolationHandler()
        try dropCapabilitiesEverywhere()
        guard mode != .off else { return }
        try SeccompFilter(rules: policy.rules(processID: getpid())).load(mode: mode, allThreads: true)
    }

    /// Drops every capability on every thread of the process (each thread drops its own when
    /// asked through a signal) and returns once /proc/self/task shows none left; throws,
    /// naming a thread, when one still holds some after `capabilityDropRounds` reads.
    package static func dropCapabilitiesEverywhere() throws(SandboxError) {
        var holder = [CChar](repeating: 0, count: 32)
        let result = cseccomp_drop_capabilities_everywhere(capabilityDropRounds, &holder, holder.count)
        guard result == 0 else {
            let name = String(decoding: holder.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw SandboxError(
                result == -EAGAIN
                    ? "cannot drop capabilities: thread '\(name)' still holds some after "
                        + "\(capabilityDropRounds) tries"
                    : "cannot drop capabilities (errno \(-result))")
        }
    }

    /// The effective capabilities of the calling thread (bit n = capability n).
    package static var effectiveCapabilities: UInt64 { cseccomp_effective_capabilities() }
}

extension Sandboxing {
    /// A system call no thread profile allows (socket(2)), for tests of the filters.
    package static func forbiddenCallForTests() -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        if descriptor >= 0 { close(descriptor) }
        return descriptor
    }
}

/// A call the process filter refuses, tried from inside the real binary
/// (`swiftvmm sandbox-check --process`).
package enum SandboxProbe: String, Sendable, CaseIterable {
    case executableMapping = "exec-mmap"
    case openForWriting = "open-write"
    case unlink
    case ioUringSetup = "io-uring-setup"
    case unixSocket = "unix-socket"
    /// tgkill of PID 1 with signal 0 (harmless where allowed): the filter stops the process.
    case signalOutside = "signal-outside"

    private var kind: cseccomp_probe_kind {
        switch self {
        case .executableMapping: return CSECCOMP_PROBE_EXECUTABLE_MAPPING
        case .openForWriting: return CSECCOMP_PROBE_OPEN_FOR_WRITING
        case .unlink: return CSECCOMP_PROBE_UNLINK
        case .ioUringSetup: return CSECCOMP_PROBE_IO_URING_SETUP
        case .unixSocket: return CSECCOMP_PROBE_UNIX_SOCKET
        case .signalOutside: return CSECCOMP_PROBE_SIGNAL_OUTSIDE
        }
    }

    /// Makes the call (on `path` for the file probes): 0 when it succeeded, or the errno.
    package func attempt(path: String) -> Int32 {
        Int32(truncatingIfNeeded: -cseccomp_probe(Int32(kind.rawValue), path))
    }
}
