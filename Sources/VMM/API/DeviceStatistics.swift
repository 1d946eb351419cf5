@_spi(ExitPath) import Devices
@_spi(ExitPath) import Virtio

/// What one disk has done since the machine was built: counted by the I/O thread as requests
/// complete, read at any time (a metrics scrape) without disturbing it.
public struct DiskStatistics: Sendable, Equatable {
    /// The kinds of request counted apart.
    public enum Operation: String, Sendable, CaseIterable {
        case read, write, flush, discard
        case writeZeroes = "write_zeroes"
        case getIdentifier = "get_id"
        /// A descriptor chain that was not a valid request (completed with an error).
        case invalid
    }

    /// The disk's index in the configuration's `disks`.
    public var index: Int
    /// Its image or device.
    public var path: String
    /// How its requests run: `io_uring`, `threads` or `sync` (what `aio` resolved to).
    public var engine: String
    /// Requests completed, by operation.
    public var requests: [Operation: UInt64]
    /// Bytes read or written (reads, writes), or covered (discard, write-zeroes), by operation.
    public var bytes: [Operation: UInt64]
    /// Seconds spent on requests, by operation (from the backend call to the completion).
    public var seconds: [Operation: Double]
    /// Requests completed with an error status (IOERR, UNSUPP).
    public var errors: UInt64
    /// Upper bounds of the request-duration histogram's buckets, in seconds; the last bucket
    /// (one more than bounds) counts everything above the last bound.
    public var durationBucketBoundsSeconds: [Double]
    /// Requests per duration bucket (not cumulative).
    public var durationBucketCounts: [UInt64]
    /// The sum of all request durations, in seconds.
    public var durationSumSeconds: Double

    init(index: Int, path: String, engine: String, _ statistics: BlockStatistics) {
        self.index = index
        self.path = path
        self.engine = engine
        var requests: [Operation: UInt64] = [:]
        var bytes: [Operation: UInt64] = [:]
        var seconds: [Operation: Double] = [:]
        for operation in BlockStatistics.Operation.allCases {
            let name = Operation.allCases[operation.rawValue]
            requests[name] = statistics.requests[operation.rawValue]
            bytes[name] = statistics.bytes[operation.rawValue]
            seconds[name] = Double(statistics.nanoseconds[operation.rawValue]) / 1e9
        }
        self.requests = requests
        self.bytes = bytes
        self.seconds = seconds
        errors = statistics.errors
        durationBucketBoundsSeconds = BlockStatistics.durationBoundsNanoseconds.map { Double($0) / 1e9 }
        durationBucketCounts = statistics.durationBuckets
        durationSumSeconds = Double(statistics.durationSumNanoseconds) / 1e9
    }
}

/// What one NIC has done since the machine was built (counted by the I/O thread).
public struct NetworkInterfaceStatistics: Sendable, Equatable {
    /// The NIC's index in the configuration's `network_interfaces`.
    public var index: Int
    /// Its tap.
    public var tap: String
    /// Frames from the tap to the guest, and their Ethernet bytes.
    public var receivedFrames: UInt64
    public var receivedBytes: UInt64
    /// Frames from the guest to the tap, and their Ethernet bytes.
    public var transmittedFrames: UInt64
    public var transmittedBytes: UInt64
    /// Frames from the guest that were refused (malformed, too long) or that the tap would not take.
    public var droppedTransmit: UInt64
    /// Frames for the guest that did not fit its buffer, that the tap lost, or whose header
    /// asked for an offload the guest's driver did not negotiate (a GSO frame, a checksum that
    /// could not be completed).
    public var droppedReceive: UInt64
    /// Receive buffers the guest posted that could not be used (malformed, too small).
    public var unusableReceiveBuffers: UInt64
    /// Times receiving stopped because the guest had posted no buffers.
    public var receiveStarvations: UInt64
    /// The tap failed for good (receiving stopped).
    public var backendFailed: Bool

    init(index: Int, tap: String, _ counters: VirtioNetCounters) {
        self.index = index
        self.tap = tap
        receivedFrames = counters.receivedFrames
        receivedBytes = counters.receivedBytes
        transmittedFrames = counters.transmittedFrames
        transmittedBytes = counters.transmittedBytes
        droppedTransmit = counters.droppedTransmit
        droppedReceive = counters.droppedReceive
        unusableReceiveBuffers = counters.unusableReceiveBuffers
        receiveStarvations = counters.receiveStarvations
        backendFailed = counters.backendFailed
    }
}

/// Whether the machine's threads are alive and moving: what a health check reads.
public struct MachineHealth: Sendable, Equatable {
    /// The configured vCPUs.
    public var vcpuCount: Int
    /// vCPU threads started so far (`vcpuCount` once the machine is under way).
    public var vcpuThreadsStarted: Int
    /// vCPU threads that have ended (0 while the machine runs normally).
    public var vcpuThreadsEnded: Int
    /// Nanoseconds since the I/O thread's loop last turned (it turns at least once a second
    /// while it runs and is not paused); nil before it started.
    public var ioThreadNanosecondsSinceProgress: UInt64?
}
