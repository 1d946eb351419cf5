@_spi(ExitPath) import Devices

/// A snapshot of what a machine has done (`Machine.statistics`): one value for metrics pages,
/// health checks and benchmarks.
public struct MachineStatistics: Sendable {
    /// Per-vCPU exit counts, in vCPU order (each vCPU counts in its own memory with plain stores;
    /// reading them costs the vCPUs nothing).
    public var exitCounts: [VCPUExitCounts]
    /// The CPU time each vCPU thread has used (time in the guest included), in nanoseconds, read
    /// from the threads' CPU clocks: zeros before `start()`.
    public var vcpuCPUNanoseconds: [UInt64]
    /// Queue-notification counts of each virtio device, in window order.
    public var virtioNotificationCounts: [VirtioNotificationCounts]
    /// What each configured exit probe has seen, in configuration order.
    public var probes: [ExitProbeStatistics]
    /// What each disk has done, in configuration order (requests, bytes and errors by
    /// operation, a request-duration histogram), counted by the I/O thread.
    public var disks: [DiskStatistics]
    /// What each NIC has done, in configuration order (frames, bytes, drops).
    public var networkInterfaces: [NetworkInterfaceStatistics]
    /// What happened to the guest's console output (written, dropped).
    public var console: ConsoleStatistics
    /// CLOCK_MONOTONIC nanoseconds of the guest's ready signal (boot timer), if it came.
    public var guestReadyNanoseconds: UInt64?
    /// Nanoseconds from `start()` to the guest's ready signal, if it came.
    public var guestReadyAfterStartNanoseconds: UInt64?
    /// Whether the vCPU threads are alive and the I/O thread is turning (a health check).
    public var health: MachineHealth
}
