/// How many exits of each kind one vCPU took to user space during a run.
public struct VCPUExitCounts: Sendable, Equatable {
    public var portIn: UInt64 = 0
    public var portOut: UInt64 = 0
    public var mmioRead: UInt64 = 0
    public var mmioWrite: UInt64 = 0
    /// KVM_RUN calls that returned EINTR (kicks) or KVM_EXIT_INTR.
    public var interrupted: UInt64 = 0
    /// Nanoseconds from the first KVM_RUN to the end of the loop.
    public var runNanoseconds: UInt64 = 0

    public init() {}

    /// All port and MMIO exits.
    public var total: UInt64 { portIn + portOut + mmioRead + mmioWrite }
}
