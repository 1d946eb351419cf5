/// Where guest RAM lives in the guest-physical address space: below the 32-bit MMIO hole,
/// and the rest above 4 GiB. Pure arithmetic.
package struct GuestMemoryLayout: Sendable, Equatable {
    /// One contiguous piece of guest RAM.
    package struct Range: Sendable, Equatable {
        package var start: GuestAddress
        package var size: UInt64
        package var end: UInt64 { start.rawValue + size }

        package init(start: GuestAddress, size: UInt64) {
            self.start = start
            self.size = size
        }
    }

    /// Start of the 32-bit MMIO hole (3 GiB): devices, the IOAPIC and local APIC live above it.
    package static let mmioHoleStart: UInt64 = 0xC000_0000
    /// First address above 4 GiB.
    package static let highMemoryStart: UInt64 = 0x1_0000_0000

    /// The RAM ranges, in ascending address order.
    package let ranges: [Range]

    /// Total RAM in bytes.
    package var totalBytes: UInt64 { ranges.reduce(0) { $0 + $1.size } }

    /// Lays out `bytes` of RAM from address 0, split around the MMIO hole when it does not fit below it.
    package init(totalBytes bytes: UInt64) throws(GuestMemoryError) {
        guard bytes > 0 else { throw .invalidLayout("guest memory size is 0") }
        guard bytes % 4096 == 0 else { throw .invalidLayout("guest memory size \(bytes) is not a multiple of 4 KiB") }
        let low = min(bytes, Self.mmioHoleStart)
        var ranges = [Range(start: GuestAddress(0), size: low)]
        if bytes > low {
            ranges.append(Range(start: GuestAddress(Self.highMemoryStart), size: bytes - low))
        }
        self.ranges = ranges
    }

    /// Explicit ranges (sorted, non-overlapping, page-aligned); for tests and special layouts.
    package init(ranges: [Range]) throws(GuestMemoryError) {
        guard !ranges.isEmpty else { throw .invalidLayout("no memory ranges") }
        var previousEnd: UInt64 = 0
        for (offset, range) in ranges.enumerated() {
            guard range.size > 0, range.start.rawValue % 4096 == 0, range.size % 4096 == 0 else {
                throw .invalidLayout(
                    "range \(offset) at \(range.start) of \(range.size) bytes is empty or not page aligned")
            }
            guard offset == 0 || range.start.rawValue >= previousEnd else {
                throw .invalidLayout("range \(offset) at \(range.start) overlaps or precedes the one before it")
            }
            let (end, overflow) = range.start.rawValue.addingReportingOverflow(range.size)
            guard !overflow else { throw .invalidLayout("range \(offset) at \(range.start) overflows") }
            previousEnd = end
        }
        self.ranges = ranges
    }
}
