import Synchronization

/// A device for measuring and testing exits: it counts guest reads and writes, keeps the last
/// value written, and answers reads with a fixed value. Benchmarks place one where a tiny guest
/// loops on `in`/`out` or MMIO accesses; tests use it to see exactly what the guest wrote.
public final class ExitProbe: Sendable {
    /// The value every read returns (truncated to the access size).
    public let readValue: UInt64
    private let writeCounter = Atomic<UInt64>(0)
    private let readCounter = Atomic<UInt64>(0)
    private let lastWrite = Atomic<UInt64>(0)
    private let lastWriteDetail = Atomic<UInt64>(0)

    public init(readValue: UInt64) {
        self.readValue = readValue
    }

    /// Counts the write and keeps its value, offset and size.
    @inline(__always)
    public func write(offset: UInt64, size: Int, value: UInt64) -> MachineRequest? {
        writeCounter.add(1, ordering: .relaxed)
        lastWrite.store(value, ordering: .relaxed)
        lastWriteDetail.store(offset << 8 | UInt64(truncatingIfNeeded: size), ordering: .relaxed)
        return nil
    }

    /// Counts the read and returns `readValue`.
    @inline(__always)
    public func read(offset: UInt64, size: Int) -> UInt64 {
        readCounter.add(1, ordering: .relaxed)
        return readValue
    }

    /// What the probe has seen so far.
    public var statistics: ExitProbeCounters {
        let detail = lastWriteDetail.load(ordering: .relaxed)
        return ExitProbeCounters(
            writes: writeCounter.load(ordering: .relaxed), reads: readCounter.load(ordering: .relaxed),
            lastWrittenValue: lastWrite.load(ordering: .relaxed), lastWriteOffset: detail >> 8,
            lastWriteSize: Int(detail & 0xff))
    }
}

/// Counters of an `ExitProbe`.
public struct ExitProbeCounters: Sendable, Equatable {
    public var writes: UInt64
    public var reads: UInt64
    public var lastWrittenValue: UInt64
    public var lastWriteOffset: UInt64
    public var lastWriteSize: Int

    public init(writes: UInt64, reads: UInt64, lastWrittenValue: UInt64, lastWriteOffset: UInt64, lastWriteSize: Int) {
        self.writes = writes
        self.reads = reads
        self.lastWrittenValue = lastWrittenValue
        self.lastWriteOffset = lastWriteOffset
        self.lastWriteSize = lastWriteSize
    }
}
