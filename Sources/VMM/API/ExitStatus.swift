/// The process exit statuses of `swiftvmm run`, `swiftvmm serve` and `swiftvmm launch` — one
/// table, with disjoint ranges for the guest's own status and for the VMM's outcomes (see
/// docs/configuration.md, "Exit statuses").
///
/// | status | meaning |
/// |---|---|
/// | 0 | guest powered off |
/// | 1 | VMM error while running |
/// | 2 | host unsupported: no usable /dev/kvm, wrong API version, missing capability |
/// | 3 | guest reset (reboot) |
/// | 4 | triple fault |
/// | 5 | guest halted with no interrupt controller |
/// | 6 | vCPU failure (KVM internal error, failed entry, unhandled exit) |
/// | 7 | forced stop (stop request, or the grace period ran out) |
/// | 10 | invalid argument or configuration value |
/// | 11 | a file cannot be read |
/// | 12 | unsupported or malformed boot image |
/// | 13 | more than the host offers (memory, vCPUs) |
/// | 14 | a disk image is locked by another process |
/// | 15 | the host refused a network resource (no /dev/net/tun, no CAP_NET_ADMIN) |
/// | 16 | a thread made a system call its seccomp filter forbids |
/// | 17 | `launch`: the guest does not fit the pod's resources (memory limit) |
/// | 18 | `launch`: the pod network could not be set up |
/// | 19 | a disk's path is neither a regular file nor a block device |
/// | 20 | a disk is smaller than its declared size |
/// | 21 | a writable disk is on a read-only mount |
/// | 64–127 | guest debug-exit: 64 + the value written (values ≥ 63 report 127) |
public enum ExitStatus {
    /// The guest powered off.
    public static let poweredOff: Int32 = 0
    /// The VMM failed while running.
    public static let vmmError: Int32 = 1
    /// The host cannot run machines.
    public static let hostUnsupported: Int32 = 2
    /// The guest reset (rebooted).
    public static let reset: Int32 = 3
    /// A vCPU triple-faulted.
    public static let tripleFault: Int32 = 4
    /// A vCPU halted with no interrupt controller.
    public static let halted: Int32 = 5
    /// A vCPU failed (KVM internal error, failed entry, unhandled exit).
    public static let vcpuFailure: Int32 = 6
    /// A forced stop (stop request, or the grace period ran out).
    public static let forcedStop: Int32 = 7
    /// An invalid argument or configuration value.
    public static let invalidArgument: Int32 = 10
    /// A file cannot be read.
    public static let unreadableFile: Int32 = 11
    /// An unsupported or malformed boot image.
    public static let unsupportedBootImage: Int32 = 12
    /// More than the host offers (memory, vCPUs).
    public static let exceedsHost: Int32 = 13
    /// A disk image is locked by another process.
    public static let resourceBusy: Int32 = 14
    /// The host refused a network resource.
    public static let networkUnavailable: Int32 = 15
    /// A thread made a system call its seccomp filter forbids (`ProcessSandbox.violationExitStatus`).
    public static let seccompViolation: Int32 = 16
    /// `launch`: the guest does not fit the pod's resources (memory limit).
    public static let podResources: Int32 = 17
    /// `launch`: the pod network could not be set up (forwarding off, no /dev/net/tun or
    /// NET_ADMIN, no libnftables, an address clash).
    public static let podNetwork: Int32 = 18
    /// A disk's path is neither a regular file nor a block device.
    public static let diskWrongType: Int32 = 19
    /// A disk is smaller than its declared size.
    public static let diskTooSmall: Int32 = 20
    /// A writable disk is on a read-only mount.
    public static let diskReadOnlyMount: Int32 = 21
    /// First status of the guest range: debug-exit value 0.
    public static let guestStatusBase: Int32 = 64
    /// Last status of the guest range: debug-exit values of 63 or more.
    public static let guestStatusLast: Int32 = 127

    /// The status for a guest debug-exit value.
    public static func guestStatus(_ value: UInt32) -> Int32 {
        guestStatusBase + Int32(min(value, UInt32(guestStatusLast - guestStatusBase)))
    }
}

extension MachineExit {
    /// The process exit status for this outcome.
    public var exitStatus: Int32 {
        switch self {
        case .poweredOff: return ExitStatus.poweredOff
        case .reset: return ExitStatus.reset
        case .guestStatus(let value): return ExitStatus.guestStatus(value)
        case .halted: return ExitStatus.halted
        case .tripleFault: return ExitStatus.tripleFault
        case .vcpuFailure: return ExitStatus.vcpuFailure
        case .stopped: return ExitStatus.forcedStop
        case .vmmError: return ExitStatus.vmmError
        }
    }
}
