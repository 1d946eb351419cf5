import CGuestMemory

#if canImport(Glibc)
    import Glibc
#endif

/// What backs guest RAM on the host.
package enum GuestMemoryBacking: String, Sendable, Equatable, CaseIterable {
    /// Private anonymous memory, allocated on first touch (MAP_NORESERVE): the default.
    case anonymous
    /// A memfd mapped shared (a file another process could map), allocated on first touch.
    case memfd
    /// 2 MiB huge pages from the host's hugetlb pool (a memfd with MFD_HUGETLB), reserved when
    /// mapped: fewer TLB misses and page-table pages; the pool must hold the whole guest.
    case hugetlbfs

    /// Bytes per page.
    package var pageBytes: UInt64 { self == .hugetlbfs ? 2 << 20 : 4096 }
}

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

    /// What backs the mappings.
    package let backing: GuestMemoryBacking

    /// Maps host memory of `backing` for every range of `layout`. Anonymous and memfd pages are
    /// allocated on first touch (MAP_NORESERVE), so an idle guest costs little; huge pages are
    /// reserved from the pool when mapped. With `prefault` every page is faulted in now
    /// (MADV_POPULATE_WRITE), so that a host short of memory fails here rather than the guest
    /// later.
    package init(layout: GuestMemoryLayout, backing: GuestMemoryBacking = .anonymous, prefault: Bool = false)
        throws(GuestMemoryError)
    {
        self.layout = layout
        self.backing = backing
        var mappings: [Mapping] = []
        func unmapAll() {
            for mapping in mappings {
                // SAFETY: each mapping was made below with exactly this size and not yet unmapped.
                munmap(UnsafeMutableRawPointer(bitPattern: mapping.hostAddress), Int(mapping.size))
            }
        }
        for range in layout.ranges {
            guard range.size % backing.pageBytes == 0 else {
                unmapAll()
                throw .invalidLayout(
                    "\(range.size >> 20) MiB of RAM at \(range.start) is not a whole number of"
                        + " \(backing.pageBytes >> 20) MiB huge pages")
            }
            let pointer: UnsafeMutableRawPointer
            do {
                pointer = try Self.map(bytes: range.size, backing: backing)
            } catch {
                unmapAll()
                throw error
            }
            mappings.append(
                Mapping(guestStart: range.start.rawValue, size: range.size, hostAddress: UInt(bitPattern: pointer)))
            if prefault, cguestmemory_populate(pointer, Int(range.size)) != 0 {
                let code = errno
                unmapAll()
                throw .prefaultFailed(bytes: range.size, errno: code)
            }
        }
        self.mappings = mappings
    }

    /// One mapping of `bytes` of `backing`.
    private static func map(bytes: UInt64, backing: GuestMemoryBacking) throws(GuestMemoryError)
        -> UnsafeMutableRawPointer
    {
        var descriptor: Int32 = -1
        var flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE
        if backing != .anonymous {
            descriptor = cguestmemory_memfd("swiftvmm-guest-ram", backing == .hugetlbfs ? 1 : 0)
            guard descriptor >= 0 else { throw .allocationFailed(bytes: bytes, errno: errno) }
            guard ftruncate(descriptor, off_t(bytes)) == 0 else {
                let code = errno
                close(descriptor)
                throw .allocationFailed(bytes: bytes, errno: code)
            }
            // Huge pages are reserved at mmap (no MAP_NORESERVE): a short pool fails here.
            flags = backing == .hugetlbfs ? MAP_SHARED : MAP_SHARED | MAP_NORESERVE
        }
        // SAFETY: a fresh mapping of `bytes` (anonymous, or of the memfd just sized to `bytes`);
        // checked for MAP_FAILED; the caller unmaps it in deinit or when a later step fails. The
        // memfd is closed at once: the mapping keeps its memory.
        let pointer = mmap(nil, Int(bytes), PROT_READ | PROT_WRITE, flags, descriptor, 0)
        let code = errno
        if descriptor >= 0 { close(descriptor) }
        guard let pointer, pointer != MAP_FAILED else {
            throw backing == .hugetlbfs
                ? .hugePagesUnavailable(bytes: bytes, errno: code) : .allocationFailed(bytes: bytes, errno: code)
        }
        if backing == .anonymous {
            // Transparent huge pages where the host allows them (its THP mode "madvise", as
            // QEMU asks too): 2 MiB pages for what the guest touches — fewer faults, TLB
            // entries and page pins per O_DIRECT request. Advice only: refused is fine.
            // SAFETY: the range is the mapping just made.
            _ = madvise(pointer, Int(bytes), MADV_HUGEPAGE)
        }
        return pointer
    }

    /// Lays out and maps `bytes` of RAM (see `GuestMemoryLayout.init(totalBytes:)`).
    package convenience init(
        totalBytes bytes: UInt64, backing: GuestMemoryBacking = .anonymous, prefault: Bool = false
    ) throws(GuestMemoryError) {
        try self.init(layout: GuestMemoryLayout(totalBytes: bytes), backing: backing, prefault: prefault)
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

    /// Copies `count` bytes at `sourceAddress` of `source` (another GuestMemory, such as a
    /// device's bounce buffer) to `address` of this memory; both ranges are bounds-checked.
    package func copy(
        _ count: Int, from source: GuestMemory, at sourceAddress: GuestAddress, to address: GuestAddress
    ) throws(GuestMemoryError) {
        let length = UInt64(max(0, count))
        let from = try source.checkedPointer(sourceAddress, length: length)
        let to = try checkedPointer(address, length: length)
        // SAFETY: both ranges were checked to lie in one mapping each; memmove allows overlap.
        memmove(to, from, Int(length))
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
        try loadInteger(type, at: address)
    }

    /// Writes `value` little-endian at `address`.
    package func store<Value: FixedWidthInteger>(_ value: Value, at address: GuestAddress) throws(GuestMemoryError) {
        try storeInteger(value, at: address)
    }

    @inline(__always)
    private func loadInteger<Value: FixedWidthInteger>(_ type: Value.Type, at address: GuestAddress)
        throws(GuestMemoryError) -> Value
    {
        let source = try checkedPointer(address, length: UInt64(MemoryLayout<Value>.size))
        // SAFETY: bounds checked above; loadUnaligned has no alignment requirement.
        return Value(littleEndian: source.loadUnaligned(as: Value.self))
    }

    @inline(__always)
    private func storeInteger<Value: FixedWidthInteger>(_ value: Value, at address: GuestAddress)
        throws(GuestMemoryError)
    {
        let destination = try checkedPointer(address, length: UInt64(MemoryLayout<Value>.size))
        // SAFETY: bounds checked above; storeBytes has no alignment requirement.
        destination.storeBytes(of: value.littleEndian, as: Value.self)
    }
}

/// Concrete loads and stores of the ring and descriptor fields. Called from other modules, the
/// generic `load`/`store` are not specialized and look their type's metadata up at run time on
/// every call (a profile of virtio-net's transmit path showed it); these compile to a bounds
/// check and one move.
extension GuestMemory {
    /// Reads the byte at `address`.
    package func load(_ type: UInt8.Type, at address: GuestAddress) throws(GuestMemoryError) -> UInt8 {
        try loadInteger(type, at: address)
    }

    /// Reads a little-endian UInt16 at `address`.
    package func load(_ type: UInt16.Type, at address: GuestAddress) throws(GuestMemoryError) -> UInt16 {
        try loadInteger(type, at: address)
    }

    /// Reads a little-endian UInt32 at `address`.
    package func load(_ type: UInt32.Type, at address: GuestAddress) throws(GuestMemoryError) -> UInt32 {
        try loadInteger(type, at: address)
    }

    /// Reads a little-endian UInt64 at `address`.
    package func load(_ type: UInt64.Type, at address: GuestAddress) throws(GuestMemoryError) -> UInt64 {
        try loadInteger(type, at: address)
    }

    /// Writes the byte `value` at `address`.
    package func store(_ value: UInt8, at address: GuestAddress) throws(GuestMemoryError) {
        try storeInteger(value, at: address)
    }

    /// Writes `value` little-endian at `address`.
    package func store(_ value: UInt16, at address: GuestAddress) throws(GuestMemoryError) {
        try storeInteger(value, at: address)
    }

    /// Writes `value` little-endian at `address`.
    package func store(_ value: UInt32, at address: GuestAddress) throws(GuestMemoryError) {
        try storeInteger(value, at: address)
    }

    /// Writes `value` little-endian at `address`.
    package func store(_ value: UInt64, at address: GuestAddress) throws(GuestMemoryError) {
        try storeInteger(value, at: address)
    }
}

/// The host's pool of 2 MiB huge pages.
package enum HugePagePool {
    /// Free 2 MiB pages (sysfs), or nil when the host has no such pool.
    package static var freePages: Int? {
        let descriptor = open("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 32)
        // SAFETY: read(2) writes at most buffer.count bytes into the array's own storage.
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return Int(String(decoding: buffer[..<count].filter { $0 >= 0x30 && $0 <= 0x39 }, as: UTF8.self))
    }
}
