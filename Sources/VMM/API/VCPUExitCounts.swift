/// How many exits of each kind one vCPU took to user space during a run.
public struct VCPUExitCounts: Sendable, Equatable {
    /// Port reads (`in`) that reached user space.
    public var portIn: UInt64 = 0
    /// Port writes (`out`) that reached user space.
    public var portOut: UInt64 = 0
    /// MMIO reads that reached user space.
    public var mmioRead: UInt64 = 0
    /// MMIO writes that reached user space.
    public var mmioWrite: UInt64 = 0
    /// KVM_RUN calls that returned EINTR (kicks) or KVM_EXIT_INTR, other than for a pause.
    public var interrupted: UInt64 = 0
    /// Times the vCPU parked for `Machine.pause()` (those kicks are not in `interrupted`).
    public var pauses: UInt64 = 0
    /// Nanoseconds from the first KVM_RUN to the end of the loop (paused time included).
    public var runNanoseconds: UInt64 = 0
    /// Nanoseconds spent parked by `Machine.pause()`.
    public var pausedNanoseconds: UInt64 = 0

    /// All zeros.
    public init() {}

    /// All port and MMIO exits.
    public var total: UInt64 { portIn + portOut + mmioRead + mmioWrite }
}
