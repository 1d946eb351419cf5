import CSeccomp

#if canImport(Glibc)
    import Glibc
#endif

/// SwiftVMM's sandbox: seccomp allow-lists per thread (libseccomp) and capabilities dropped
/// once they are no longer needed.
package enum Sandboxing {
    /// The exit status of a process stopped by a forbidden system call.
    package static let violationExitStatus: Int32 = 16

    /// Installs the SIGSYS handler that reports a forbidden call and ends the process with
    /// `violationExitStatus`. Idempotent.
    package static func installViolationHandler() throws(SandboxError) {
        let result = cseccomp_install_violation_handler(violationExitStatus)
        guard result == 0 else { throw SandboxError("seccomp: cannot install the SIGSYS handler (errno \(-result))") }
    }

    /// Restricts the calling thread to `profile` (and drops every capability it holds: no
    /// thread but the main one needs any once the machine runs).
    package static func restrictCurrentThread(_ profile: ThreadProfile, mode: FilterMode) throws(SandboxError) {
        guard mode != .off else { return }
        try installViolationHandler()
        let limited = cseccomp_limit_capabilities(0)
        guard limited == 0 else { throw SandboxError("cannot drop capabilities (errno \(-limited))") }
        try filter(for: profile).load(mode: mode, allThreads: false)
    }

    /// Restricts every thread of the process to the `process` profile (seccomp TSYNC), and the
    /// calling thread's capabilities to `keeping`. With `networkServices`, the process may also
    /// serve and use sockets (`ThreadProfile.networkServiceCalls`: the launcher's DHCP server,
    /// netlink for libnftables, HTTP endpoints); with `ringSetup`, set up io_uring rings
    /// (`ThreadProfile.ringSetupCalls`), which otherwise fail with EACCES.
    package static func restrictProcess(
        mode: FilterMode, keeping capabilities: Set<Capability>, networkServices: Bool = false, ringSetup: Bool = false
    ) throws(SandboxError) {
        let mask = capabilities.reduce(UInt64(0)) { $0 | 1 << $1.rawValue }
        let limited = cseccomp_limit_capabilities(mask)
        guard limited == 0 else { throw SandboxError("cannot drop capabilities (errno \(-limited))") }
        guard mode != .off else { return }
        try installViolationHandler()
        let policy = processPolicy(networkServices: networkServices, ringSetup: ringSetup)
        try filter(for: .process, extraCalls: policy.extraCalls, extraRefused: policy.extraRefused)
            .load(mode: mode, allThreads: true)
    }

    /// What the process filter adds to the `process` profile: calls allowed, and calls that fail
    /// with EACCES.
    package static func processPolicy(networkServices: Bool, ringSetup: Bool) -> (
        extraCalls: [String], extraRefused: [String]
    ) {
        let network = networkServices ? ThreadProfile.networkServiceCalls : []
        return ringSetup
            ? (network + ThreadProfile.ringSetupCalls, []) : (network, ThreadProfile.ringSetupCalls)
    }

    /// The effective capabilities of the calling thread.
    package static var effectiveCapabilities: Set<Capability> {
        let mask = cseccomp_effective_capabilities()
        return Set(Capability.allCases.filter { mask & (1 << $0.rawValue) != 0 })
    }

    static func filter(for profile: ThreadProfile, extraCalls: [String] = [], extraRefused: [String] = [])
        -> SeccompFilter
    {
        SeccompFilter(
            calls: Array(Set(ThreadProfile.runtime + profile.calls + extraCalls)).sorted(),
            ioctls: profile.ioctls ?? [],
            threadsOnlyClone: true, refused: profile.refused + extraRefused)
    }
}

/// The capabilities SwiftVMM may keep (linux/capability.h numbers).
package enum Capability: UInt64, Sendable, CaseIterable {
    case dacOverride = 1
    case dacReadSearch = 2
    case netAdmin = 12
    case sysAdmin = 21
    case sysResource = 24
}

extension Sandboxing {
    /// A system call no thread profile but `process` allows (socket(2)), for tests of the filters.
    package static func forbiddenCallForTests() -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        if descriptor >= 0 { close(descriptor) }
        return descriptor
    }
}
