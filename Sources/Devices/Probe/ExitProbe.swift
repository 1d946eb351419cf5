import Synchronization

/// A device for measuring and testing exits: it counts guest reads and writes, keeps the last
/// value written, and answers reads with a fixed value. Benchmarks place one where a tiny guest
/// loops on `in`/`out` or MMIO accesses; tests use it to see exactly what the guest wrote.
/// SPI-public for cross-module inlining on the exit path (see `VCPUFD` in KVM).
@_spi(ExitPath) public final class ExitProbe: Sendable {
    /// The value every read returns (truncated to the access size).
    @usableFromInline package let readValue: UInt64
    @usableFromInline let writeCounter = Atomic<UInt64>(0)
    @usableFromInline let readCounter = Atomic<UInt64>(0)
    @usableFromInline let lastWrite = Atomic<UInt64>(0)
    @usableFromInline let lastWriteDetail = Atomic<UInt64>(0)

    package init(readValue: UInt64) {
        self.readValue = readValue
    }

    /// Counts the write and keeps its value, offset and size.
    @inlinable @inline(__always)
    package func write(offset: UInt64, size: Int, value: UInt64) -> MachineRequest? {
        writeCounter.wrappingAdd(1, ordering: .relaxed)
        lastWrite.store(value, ordering: .relaxed)
        lastWriteDetail.store(offset << 8 | UInt64(truncatingIfNeeded: size), ordering: .relaxed)
        return nil
    }

    /// Counts the read and returns `readValue`.
    @inlinable @inline(__always)
    package func read(offset: UInt64, size: Int) -> UInt64 {
        readCounter.wrappingAdd(1, ordering: .relaxed)
        return readValue
    }

    /// Guest writes so far.
    package var writes: UInt64 { writeCounter.load(ordering: .relaxed) }
    /// Guest reads so far.
    package var reads: UInt64 { readCounter.load(ordering: .relaxed) }
    /// The last value written.
    package var lastWrittenValue: UInt64 { lastWrite.load(ordering: .relaxed) }
    /// Offset inside the range and size in bytes of the last write.
    package var lastWriteLocation: (offset: UInt64, size: Int) {
        let detail = lastWriteDetail.load(ordering: .relaxed)
        return (detail >> 8, Int(detail & 0xff))
    }
}
