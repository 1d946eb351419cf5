#if canImport(Glibc)
    import Glibc
#endif

/// Guest RAM: host mappings for each range of a `GuestMemoryLayout`, with bounds-checked
/// reads and writes. Device code sees addresses and byte copies, never host pointers.
package final class GuestMemory: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): the mapping table is immutable after init. The bytes behind
    // it are shared with the running guest by design; every access here is a bounds-checked
    // copy, and concurrent guest writes can only change the copied values, not memory safety.

    /// One host mapping backing a guest RAM range.
    package struct Mapping: Sendable {
        /// First guest-physical address of the range.
        package let guestStart: UInt64
        /// Size in bytes.
        package let size: UInt64
        /// Address of the host mapping, for KVM_SET_USER_MEMORY_REGION.
        package let hostAddress: UInt
    }

    /// The layout this memory was built from.
    package let layout: GuestMemoryLayout
    /// Host mappings in ascending guest-address order; for registering memory slots with KVM.
    package let mappings: [Mapping]

    /// Reserves anonymous host memory for every range of `layout`. Pages are allocated on
    /// first touch (MAP_NORESERVE), so an idle guest costs little.
    package init(layout: GuestMemoryLayout) throws(GuestMemoryError) {
        self.layout = layout
        var mappings: [Mapping] = []
        for range in layout.ranges {
            // SAFETY: an anonymous private mapping of `range.size` bytes; checked for MAP_FAILED,
            // unmapped in deinit (or below when a later range fails).
            let pointer = mmap(
                nil, Int(range.size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
            guard let pointer, pointer != MAP_FAILED else {
                let code = errno
                for mapping in mappings {
                    munmap(UnsafeMutableRawPointer(bitPattern: mapping.hostAddress), Int(mapping.size))
                }
                throw .allocationFailed(bytes: range.size, errno: code)
            }
            mappings.append(
                Mapping(guestStart: range.start.rawValue, size: range.size, hostAddress: UInt(bitPattern: pointer)))
        }
        self.mappings = mappings
    }

    /// Lays out and reserves `bytes` of RAM (see `GuestMemoryLayout.init(totalBytes:)`).
    package convenience init(totalBytes bytes: UInt64) throws(GuestMemoryError) {
        try self.init(layout: GuestMemoryLayout(totalBytes: bytes))
    }

    deinit {
        for mapping in mappings {
            munmap(UnsafeMutableRawPointer(bitPattern: mapping.hostAddress), Int(mapping.size))
        }
    }

    /// Whether `length` bytes from `address` are all guest RAM (within one range).
    package func contains(_ address: GuestAddress, length: UInt64) -> Bool {
        hostPointer(address, length: length) != nil
    }

    /// The host address of `length` bytes at `address`, if they lie inside one mapping.
    @inline(__always)
    func hostPointer(_ address: GuestAddress, length: UInt64) -> UnsafeMutableRawPointer? {
        for mapping in mappings where address.rawValue >= mapping.guestStart {
            let offset = address.rawValue - mapping.guestStart
            guard offset < mapping.size || (offset == mapping.size && length == 0) else { continue }
            guard length <= mapping.size - offset else { return nil }
            return UnsafeMutableRawPointer(bitPattern: mapping.hostAddress)?.advanced(by: Int(offset))
        }
        return nil
    }

    private func checkedPointer(_ address: GuestAddress, length: UInt64) throws(GuestMemoryError)
        -> UnsafeMutableRawPointer
    {
        guard let pointer = hostPointer(address, length: length) else {
            throw .outOfBounds(address: address, length: length)
        }
        return pointer
    }

    /// The host address of `size` bytes at `address`, which must be `size`-aligned.
    func alignedPointer(_ address: GuestAddress, size: Int) throws(GuestMemoryError) -> UnsafeMutableRawPointer {
        guard address.rawValue % UInt64(size) == 0 else { throw .misaligned(address: address, alignment: size) }
        return try checkedPointer(address, length: UInt64(size))
    }

    /// Copies `count` bytes starting at `address` out of guest memory.
    package func readBytes(at address: GuestAddress, count: Int) throws(GuestMemoryError) -> [UInt8] {
        let source = try checkedPointer(address, length: UInt64(max(0, count)))
        // SAFETY: checkedPointer verified that [address, address+count) lies in one mapping.
        return [UInt8](UnsafeRawBufferPointer(start: source, count: max(0, count)))
    }

    /// Copies `bytes` into guest memory at `address`.
    package func write(_ bytes: some Collection<UInt8>, at address: GuestAddress) throws(GuestMemoryError) {
        let destination = try checkedPointer(address, length: UInt64(bytes.count))
        // SAFETY: checkedPointer verified that the destination range lies in one mapping.
        let buffer = UnsafeMutableRawBufferPointer(start: destination, count: bytes.count)
        buffer.copyBytes(from: bytes)
    }

    /// Fills `count` bytes at `address` with `value`.
    package func fill(_ value: UInt8, count: Int, at address: GuestAddress) throws(GuestMemoryError) {
        let destination = try checkedPointer(address, length: UInt64(max(0, count)))
        // SAFETY: checkedPointer verified that the destination range lies in one mapping.
        destination.initializeMemory(as: UInt8.self, repeating: value, count: max(0, count))
    }

    /// Reads a little-endian integer at `address`.
    package func load<Value: FixedWidthInteger>(_ type: Value.Type, at address: GuestAddress) throws(GuestMemoryError)
        -> Value
    {
        let source = try checkedPointer(address, length: UInt64(MemoryLayout<Value>.size))
        // SAFETY: bounds checked above; loadUnaligned has no alignment requirement.
        return Value(littleEndian: source.loadUnaligned(as: Value.self))
    }

    /// Writes `value` little-endian at `address`.
    package func store<Value: FixedWidthInteger>(_ value: Value, at address: GuestAddress) throws(GuestMemoryError) {
        let destination = try checkedPointer(address, length: UInt64(MemoryLayout<Value>.size))
        // SAFETY: bounds checked above; storeBytes has no alignment requirement.
        destination.storeBytes(of: value.littleEndian, as: Value.self)
    }
}
