/// What the host offers, for the checks that depend on it.
public struct HostLimits: Sendable, Equatable {
    /// Physical memory of the host in bytes (MemTotal).
    public var memoryBytes: UInt64
    /// The most vCPUs KVM allows in one VM.
    public var maximumVCPUCount: Int

    /// Limits with these values.
    public init(memoryBytes: UInt64, maximumVCPUCount: Int) {
        self.memoryBytes = memoryBytes
        self.maximumVCPUCount = maximumVCPUCount
    }
}
