@_spi(ExitPath) import Devices
import Testing

@Suite struct AddressRangeMapTests {
    @Test func lookupFindsSlotAndOffset() throws {
        var map = AddressRangeMap()
        try map.insert(base: 0x3f8, length: 8, slot: 2, name: "serial")
        try map.insert(base: 0xf4, length: 4, slot: 0, name: "debug-exit")
        try map.insert(base: 0x10, length: 1, slot: 1, name: "probe")
        #expect(map.lookup(0x3f8) == .init(slot: 2, offset: 0))
        #expect(map.lookup(0x3ff) == .init(slot: 2, offset: 7))
        #expect(map.lookup(0x400) == nil)
        #expect(map.lookup(0xf6) == .init(slot: 0, offset: 2))
        #expect(map.lookup(0x10) == .init(slot: 1, offset: 0))
        #expect(map.lookup(0x11) == nil)
        #expect(map.lookup(0) == nil)
        #expect(map.entries.map(\.base) == [0x10, 0xf4, 0x3f8], "kept sorted")
    }

    @Test func overlapsAreRejectedAndNameBothRanges() throws {
        var map = AddressRangeMap()
        try map.insert(base: 0x1000, length: 0x100, slot: 0, name: "first")
        for (base, length) in [(UInt64(0x1000), UInt64(1)), (0xfff, 2), (0x10ff, 0x10), (0x800, 0x1000)] {
            #expect(throws: BusError.overlap(name: "second", base: base, length: length, existing: "first")) {
                try map.insert(base: base, length: length, slot: 1, name: "second")
            }
        }
        try map.insert(base: 0x1100, length: 1, slot: 1, name: "adjacent above")
        try map.insert(base: 0xfff, length: 1, slot: 2, name: "adjacent below")
        #expect(map.entries.count == 3)
    }

    @Test func emptyAndWrappingRangesAreRejected() {
        var map = AddressRangeMap()
        #expect(throws: BusError.self) { try map.insert(base: 0x10, length: 0, slot: 0, name: "empty") }
        #expect(throws: BusError.self) { try map.insert(base: UInt64.max, length: 2, slot: 0, name: "wraps") }
    }
}

@Suite struct PlatformDeviceTests {
    @Test func debugExitRequestsTheGuestStatus() {
        let port = DebugExitPort()
        #expect(port.write(offset: 0, size: 1, value: 0x21) == .guestExit(status: 0x21))
        #expect(port.write(offset: 0, size: 4, value: 0x1_0000) == .guestExit(status: 0x1_0000))
        #expect(port.read(offset: 0, size: 1) == .max)
    }

    @Test func exitProbeCountsAndRecords() {
        let probe = ExitProbe(readValue: 0x1122_3344)
        #expect(probe.read(offset: 0, size: 4) == 0x1122_3344)
        #expect(probe.write(offset: 3, size: 2, value: 0xbeef) == nil)
        #expect(probe.write(offset: 1, size: 1, value: 0x7) == nil)
        #expect(probe.writes == 2 && probe.reads == 1 && probe.lastWrittenValue == 7)
        #expect(probe.lastWriteLocation == (offset: 1, size: 1))
    }
}
