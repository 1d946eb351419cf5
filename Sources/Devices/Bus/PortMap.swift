/// The 16-bit I/O port space as a flat table: one byte per port naming its range, so a lookup
/// on the exit path is one load (64 KiB per machine). Ranges and overlap checks come from an
/// `AddressRangeMap`.
/// SPI-public for cross-module inlining on the exit path (see `VCPUFD` in KVM).
@_spi(ExitPath) public struct PortMap: Sendable {
    /// Range number + 1 for every port (0: no device), as raw bytes.
    @usableFromInline let rangeOfPort: [UInt8]
    /// Per range number + 1: its slot and first port (index 0 unused).
    @usableFromInline let slots: [UInt16]
    @usableFromInline let bases: [UInt16]

    /// Most ranges a port map holds.
    package static let maximumRanges = 254

    /// Builds the table from `ranges` (port ranges; at most `maximumRanges`).
    package init(_ ranges: AddressRangeMap) throws(BusError) {
        let entries = ranges.entries
        guard entries.count <= Self.maximumRanges else {
            throw .invalidRange(name: "port ranges", base: 0, length: UInt64(entries.count))
        }
        var table = [UInt8](repeating: 0, count: 0x1_0000)
        var slots: [UInt16] = [0]
        var bases: [UInt16] = [0]
        for (index, entry) in entries.enumerated() {
            guard entry.end <= 0x1_0000 else {
                throw .invalidRange(name: entry.name, base: entry.base, length: entry.end - entry.base)
            }
            for port in Int(entry.base)..<Int(entry.end) { table[port] = UInt8(index + 1) }
            slots.append(entry.slot)
            bases.append(UInt16(entry.base))
        }
        rangeOfPort = table
        self.slots = slots
        self.bases = bases
    }

    /// The range holding `port`, if any.
    @inlinable @inline(__always)
    package func lookup(_ port: UInt16) -> AddressRangeMap.Hit? {
        rangeOfPort.withUnsafeBufferPointer { table in
            // SAFETY: the table has 65536 entries, one per UInt16 value.
            let range = Int(table[Int(port)])
            guard range != 0 else { return nil }
            return slots.withUnsafeBufferPointer { slots in
                bases.withUnsafeBufferPointer { bases in
                    // SAFETY: every non-zero table entry is a valid index of both arrays (built together).
                    AddressRangeMap.Hit(slot: slots[range], offset: UInt64(port &- bases[range]))
                }
            }
        }
    }
}
