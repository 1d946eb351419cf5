/// What a virtio-blk device did, counted on the I/O thread as requests complete and read at
/// scrape time (never on a vCPU's exit path).
package struct BlockStatistics: Sendable, Equatable {
    /// The request kinds counted apart.
    package enum Operation: Int, CaseIterable, Sendable {
        case read, write, flush, discard, writeZeroes, getIdentifier
        /// A chain that did not parse as a request (completed with nothing written).
        case invalid

        init(_ operation: BlockRequest.Operation) {
            switch operation {
            case .read: self = .read
            case .write: self = .write
            case .flush: self = .flush
            case .discard: self = .discard
            case .writeZeroes: self = .writeZeroes
            case .getIdentifier: self = .getIdentifier
            case .unsupported, .malformed: self = .invalid
            }
        }
    }

    /// Upper bounds of the request-duration buckets, in nanoseconds (the last bucket, above the
    /// last bound, is +Inf): 25 µs to 10 s.
    package static let durationBoundsNanoseconds: [UInt64] = [
        25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000,
        50_000_000, 100_000_000, 250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 10_000_000_000,
    ]

    /// Requests completed, by `Operation.rawValue`.
    package var requests = [UInt64](repeating: 0, count: Operation.allCases.count)
    /// Data bytes moved (reads and writes) or covered (discard, write-zeroes), by operation.
    package var bytes = [UInt64](repeating: 0, count: Operation.allCases.count)
    /// The time spent on requests, by operation, in nanoseconds.
    package var nanoseconds = [UInt64](repeating: 0, count: Operation.allCases.count)
    /// Requests completed with an error status (IOERR or UNSUPP), invalid ones included.
    package var errors: UInt64 = 0
    /// Requests per duration bucket (not cumulative): `durationBoundsNanoseconds.count + 1`.
    package var durationBuckets = [UInt64](repeating: 0, count: BlockStatistics.durationBoundsNanoseconds.count + 1)
    /// The sum of all durations.
    package var durationSumNanoseconds: UInt64 = 0

    package init() {}

    /// Counts one completed request.
    mutating func record(_ operation: Operation, bytes count: UInt64, failed: Bool, nanoseconds: UInt64) {
        requests[operation.rawValue] &+= 1
        bytes[operation.rawValue] &+= count
        self.nanoseconds[operation.rawValue] &+= nanoseconds
        if failed { errors &+= 1 }
        let bucket =
            Self.durationBoundsNanoseconds.firstIndex { nanoseconds <= $0 } ?? Self.durationBoundsNanoseconds.count
        durationBuckets[bucket] &+= 1
        durationSumNanoseconds &+= nanoseconds
    }
}
