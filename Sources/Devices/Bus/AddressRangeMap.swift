/// An error registering a device on a bus.
package enum BusError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The new range overlaps one already registered.
    case overlap(name: String, base: UInt64, length: UInt64, existing: String)
    /// The range is empty or wraps around the address space.
    case invalidRange(name: String, base: UInt64, length: UInt64)

    package var description: String {
        func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
        switch self {
        case .overlap(let name, let base, let length, let existing):
            return "\(name) at \(hex(base)) (\(length) bytes) overlaps \(existing); move one of them"
        case .invalidRange(let name, let base, let length):
            return "\(name) at \(hex(base)) has an invalid length \(length)"
        }
    }
}

/// Address ranges (I/O ports or MMIO) mapped to small device slot numbers.
///
/// Registration rejects overlaps; lookup is a scan of a small sorted contiguous array with no
/// allocation, made `@inlinable` so the vCPU exit path inlines it across modules.
/// SPI-public for cross-module inlining on the exit path (see `VCPUFD` in KVM).
@_spi(ExitPath) public struct AddressRangeMap: Sendable {
    /// One registered range.
    @_spi(ExitPath) public struct Entry: Sendable, Equatable {
        package let base: UInt64
        /// One past the last address.
        package let end: UInt64
        /// The slot the owner gave this range (an index into its device table).
        @usableFromInline package let slot: UInt16
        package let name: String
    }

    /// The result of a lookup: which slot, and the offset of the address inside its range.
    @_spi(ExitPath) public struct Hit: Sendable, Equatable {
        @usableFromInline package let slot: UInt16
        @usableFromInline package let offset: UInt64
        @inlinable package init(slot: UInt16, offset: UInt64) {
            self.slot = slot
            self.offset = offset
        }
    }

    /// Range starts, ends and slots in ascending order, kept as three flat arrays so the
    /// lookup touches only integers.
    @usableFromInline var bases: ContiguousArray<UInt64> = []
    @usableFromInline var ends: ContiguousArray<UInt64> = []
    @usableFromInline var slots: ContiguousArray<UInt16> = []
    private var names: [String] = []

    package init() {}

    /// The registered ranges in ascending order.
    package var entries: [Entry] {
        bases.indices.map { Entry(base: bases[$0], end: ends[$0], slot: slots[$0], name: names[$0]) }
    }

    /// Registers `[base, base + length)` for `slot`; `name` appears in error messages.
    package mutating func insert(base: UInt64, length: UInt64, slot: UInt16, name: String) throws(BusError) {
        let (end, overflow) = base.addingReportingOverflow(length)
        guard length > 0, !overflow else { throw .invalidRange(name: name, base: base, length: length) }
        var position = 0
        while position < bases.count, bases[position] < base { position += 1 }
        if position > 0, ends[position - 1] > base {
            throw .overlap(name: name, base: base, length: length, existing: names[position - 1])
        }
        if position < bases.count, bases[position] < end {
            throw .overlap(name: name, base: base, length: length, existing: names[position])
        }
        bases.insert(base, at: position)
        ends.insert(end, at: position)
        slots.insert(slot, at: position)
        names.insert(name, at: position)
    }

    /// The range containing `address`, if any.
    @inlinable @inline(__always)
    package func lookup(_ address: UInt64) -> Hit? {
        // SAFETY: indices stay below `bases.count`, and `ends` has the same count (kept in step by insert).
        bases.withUnsafeBufferPointer { bases in
            ends.withUnsafeBufferPointer { ends in
                var index = 0
                while index < bases.count {
                    if address < ends[index] {
                        guard address >= bases[index] else { return nil }
                        return Hit(slot: slots[index], offset: address &- bases[index])
                    }
                    index &+= 1
                }
                return nil
            }
        }
    }
}
