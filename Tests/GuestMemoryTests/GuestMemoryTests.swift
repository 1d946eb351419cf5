import Testing

@testable import GuestMemory

@Suite struct GuestMemoryLayoutTests {
    @Test func smallMemoryIsOneRangeFromZero() throws {
        let layout = try GuestMemoryLayout(totalBytes: 128 << 20)
        #expect(layout.ranges == [.init(start: GuestAddress(0), size: 128 << 20)])
    }

    @Test func largeMemoryIsSplitAroundTheMMIOHole() throws {
        let layout = try GuestMemoryLayout(totalBytes: 4 << 30)
        #expect(layout.ranges.count == 2)
        #expect(layout.ranges[0] == .init(start: GuestAddress(0), size: GuestMemoryLayout.mmioHoleStart))
        #expect(layout.ranges[1].start.rawValue == GuestMemoryLayout.highMemoryStart)
        #expect(layout.ranges[1].size == (4 << 30) - GuestMemoryLayout.mmioHoleStart)
        #expect(layout.totalBytes == 4 << 30)
    }

    @Test func exactlyTheHoleStartStaysBelowIt() throws {
        let layout = try GuestMemoryLayout(totalBytes: GuestMemoryLayout.mmioHoleStart)
        #expect(layout.ranges.count == 1)
    }

    @Test func invalidSizesAndRangesAreRejected() {
        #expect(throws: GuestMemoryError.self) { try GuestMemoryLayout(totalBytes: 0) }
        #expect(throws: GuestMemoryError.self) { try GuestMemoryLayout(totalBytes: 4097) }
        #expect(throws: GuestMemoryError.self) {
            try GuestMemoryLayout(ranges: [
                .init(start: GuestAddress(0), size: 8192), .init(start: GuestAddress(4096), size: 4096),
            ])
        }
        #expect(throws: GuestMemoryError.self) {
            try GuestMemoryLayout(ranges: [.init(start: GuestAddress(UInt64.max - 4095), size: 8192)])
        }
    }
}

@Suite struct GuestMemoryAccessTests {
    @Test func bytesAndIntegersRoundTripLittleEndian() throws {
        let memory = try GuestMemory(totalBytes: 1 << 20)
        try memory.write([1, 2, 3, 4], at: GuestAddress(0x1000))
        #expect(try memory.readBytes(at: GuestAddress(0x1000), count: 4) == [1, 2, 3, 4])
        try memory.store(UInt32(0xdead_beef), at: GuestAddress(0x2001))
        #expect(try memory.readBytes(at: GuestAddress(0x2001), count: 4) == [0xef, 0xbe, 0xad, 0xde])
        #expect(try memory.load(UInt32.self, at: GuestAddress(0x2001)) == 0xdead_beef)
        try memory.fill(0xaa, count: 3, at: GuestAddress(0x3000))
        #expect(try memory.readBytes(at: GuestAddress(0x2fff), count: 5) == [0, 0xaa, 0xaa, 0xaa, 0])
    }

    @Test func accessesOutsideRAMAreErrors() throws {
        let memory = try GuestMemory(totalBytes: 1 << 20)
        let end = GuestAddress(1 << 20)
        #expect(throws: GuestMemoryError.outOfBounds(address: end, length: 1)) {
            try memory.readBytes(at: end, count: 1)
        }
        #expect(throws: GuestMemoryError.self) { try memory.store(UInt64(1), at: GuestAddress((1 << 20) - 4)) }
        #expect(throws: GuestMemoryError.self) { try memory.write([1, 2], at: GuestAddress(UInt64.max)) }
        #expect(throws: GuestMemoryError.self) { try memory.readBytes(at: GuestAddress(UInt64.max - 1), count: 8) }
        #expect(try memory.readBytes(at: end, count: 0) == [])
        #expect(memory.contains(GuestAddress((1 << 20) - 8), length: 8))
        #expect(!memory.contains(GuestAddress((1 << 20) - 8), length: 9))
    }

    @Test func accessesCannotSpanTheHole() throws {
        let layout = try GuestMemoryLayout(ranges: [
            .init(start: GuestAddress(0), size: 0x2000), .init(start: GuestAddress(0x4000), size: 0x1000),
        ])
        let memory = try GuestMemory(layout: layout)
        #expect(throws: GuestMemoryError.self) { try memory.readBytes(at: GuestAddress(0x1ffe), count: 4) }
        #expect(throws: GuestMemoryError.self) { try memory.load(UInt8.self, at: GuestAddress(0x3000)) }
        try memory.store(UInt16(0x1234), at: GuestAddress(0x4ffe))
        #expect(try memory.load(UInt16.self, at: GuestAddress(0x4ffe)) == 0x1234)
        #expect(memory.mappings.count == 2)
    }
}
