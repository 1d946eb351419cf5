@_spi(ExitPath) import Devices

/// What an exit probe has seen: guest reads and writes, and the last write.
public struct ExitProbeStatistics: Sendable, Equatable {
    /// Guest writes the probe took.
    public var writes: UInt64
    /// Guest reads the probe answered.
    public var reads: UInt64
    /// The value of the last write.
    public var lastWrittenValue: UInt64
    /// Offset of the last write inside the probe's range.
    public var lastWriteOffset: UInt64
    /// Size in bytes of the last write.
    public var lastWriteSize: Int

    /// Statistics with these values.
    public init(writes: UInt64, reads: UInt64, lastWrittenValue: UInt64, lastWriteOffset: UInt64, lastWriteSize: Int) {
        self.writes = writes
        self.reads = reads
        self.lastWrittenValue = lastWrittenValue
        self.lastWriteOffset = lastWriteOffset
        self.lastWriteSize = lastWriteSize
    }

    init(_ probe: ExitProbe) {
        let location = probe.lastWriteLocation
        self.init(
            writes: probe.writes, reads: probe.reads, lastWrittenValue: probe.lastWrittenValue,
            lastWriteOffset: location.offset, lastWriteSize: location.size)
    }
}
