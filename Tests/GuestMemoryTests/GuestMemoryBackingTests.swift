#if canImport(Glibc)
    import Glibc
#endif

import Testing

@testable import GuestMemory

/// The backings of guest RAM (anonymous, memfd; huge pages need a reserved pool and are tested
/// end to end, serialized, in MemoryBackingTests).
@Suite struct GuestMemoryBackingTests {
    /// How many of the mapping's 4 KiB pages are resident (mincore).
    func residentPages(_ mapping: GuestMemory.Mapping) -> Int {
        let pages = Int(mapping.size / 4096)
        var vector = [UInt8](repeating: 0, count: pages)
        // SAFETY: the mapping is live (its GuestMemory is alive in the caller); mincore writes one
        // byte per page into the array, which has exactly that many.
        let result = vector.withUnsafeMutableBufferPointer { buffer in
            mincore(UnsafeMutableRawPointer(bitPattern: mapping.hostAddress), Int(mapping.size), buffer.baseAddress)
        }
        #expect(result == 0)
        return vector.filter { $0 & 1 == 1 }.count
    }

    @Test(arguments: [GuestMemoryBacking.anonymous, .memfd])
    func eachBackingHoldsWhatIsWrittenAndAllocatesOnFirstTouch(backing: GuestMemoryBacking) throws {
        let memory = try GuestMemory(totalBytes: 8 << 20, backing: backing)
        #expect(memory.backing == backing)
        let mapping = try #require(memory.mappings.first)
        #expect(residentPages(mapping) == 0, "nothing touched yet")
        try memory.write([1, 2, 3, 4], at: GuestAddress(5 << 20))
        #expect(try memory.readBytes(at: GuestAddress(5 << 20), count: 4) == [1, 2, 3, 4])
        // One 4 KiB page; anonymous memory asks for transparent huge pages (MADV_HUGEPAGE), so
        // where the host's THP mode allows it and a huge page is free, one 2 MiB page (512).
        let resident = residentPages(mapping)
        let hugePageAllowed = backing == .anonymous && transparentHugePagesAllowed
        #expect(resident == 1 || (hugePageAllowed && resident == 512), "\(resident) pages resident")
    }

    /// The host's THP mode is "always" or "madvise" (/sys/kernel/mm/transparent_hugepage/enabled).
    var transparentHugePagesAllowed: Bool {
        let descriptor = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 128)
        let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        let mode = String(decoding: bytes.prefix(max(0, count)), as: UTF8.self)
        return mode.contains("[always]") || mode.contains("[madvise]")
    }

    @Test(arguments: [GuestMemoryBacking.anonymous, .memfd])
    func prefaultMakesEveryPageResident(backing: GuestMemoryBacking) throws {
        let memory = try GuestMemory(totalBytes: 8 << 20, backing: backing, prefault: true)
        let mapping = try #require(memory.mappings.first)
        #expect(residentPages(mapping) == 2048)
        #expect(try memory.readBytes(at: GuestAddress(0), count: 8) == [UInt8](repeating: 0, count: 8), "zeroed")
    }

    @Test func hugePagesNeedWholePages() {
        #expect(throws: GuestMemoryError.self) {
            try GuestMemory(totalBytes: (8 << 20) + 4096, backing: .hugetlbfs)
        }
        #expect(GuestMemoryBacking.hugetlbfs.pageBytes == 2 << 20)
    }
}
