import GuestMemory
import Testing

@testable import Boot

@Suite struct ELFParsingTests {
    @Test(arguments: [UInt64(0x10_0000).bytes, UInt32(0x10_0040).bytes])
    func pvhEntryNoteOfFourOrEightBytes(descriptor: [UInt8]) throws {
        var builder = ELFBuilder()
        builder.pvhEntryDescriptor = descriptor
        let loader = try PVHLoader(elf: builder.build())
        #expect(loader.entryPoint == (descriptor.count == 8 ? 0x10_0000 : 0x10_0040))
        #expect(loader.image.segments.count == 1)
    }

    @Test func malformedAndForeignFilesAreOneLineErrors() {
        func error(_ bytes: [UInt8]) -> String? {
            do {
                _ = try PVHLoader(elf: bytes)
                return nil
            } catch {
                return error.description
            }
        }
        let good = ELFBuilder().build()
        #expect(error(Array(good.prefix(40)))?.contains("truncated") == true)
        #expect(error(Array(repeating: 0, count: 100))?.contains("not an ELF") == true)
        var builder = ELFBuilder()
        builder.elfClass = 1
        #expect(error(builder.build())?.contains("32-bit") == true)
        builder = ELFBuilder()
        builder.machine = 3
        #expect(error(builder.build())?.contains("not x86-64") == true)
        builder = ELFBuilder()
        builder.type = 3
        #expect(error(builder.build())?.contains("ET_EXEC") == true)
        builder = ELFBuilder()
        builder.pvhEntryDescriptor = nil
        #expect(error(builder.build())?.contains("no PVH entry note") == true)
        builder = ELFBuilder()
        builder.pvhEntryDescriptor = [1, 2]
        #expect(error(builder.build())?.contains("4 or 8") == true)
        builder = ELFBuilder()
        builder.pvhEntryDescriptor = UInt64(0x1_0000_0000).bytes
        #expect(error(builder.build())?.contains("above 4 GiB") == true)
        builder = ELFBuilder()
        builder.noteSizeAdjustment = 64
        #expect(error(builder.build())?.contains("past the end of the file") == true)
        builder = ELFBuilder()
        builder.segments.append(.init(physicalAddress: 0x10_0800, bytes: [1], memorySize: 0x100))
        #expect(error(builder.build())?.contains("overlap") == true)
        builder = ELFBuilder()
        builder.segments[0].memorySize = 1
        #expect(error(builder.build())?.contains("larger than p_memsz") == true)
        builder = ELFBuilder()
        builder.segments[0].physicalAddress = UInt64.max - 10
        #expect(error(builder.build())?.contains("wraps") == true)
        var truncated = ELFBuilder().build()
        truncated.removeLast(20)  // the note and part of the segment's bytes
        #expect(error(truncated) != nil)
        for message in [error(Array(good.prefix(40))), error(builder.build())] {
            #expect(message?.contains("\n") == false)
        }
    }

    @Test func everyPrefixOfAGoodFileFailsCleanly() {
        let good = ELFBuilder().build()
        for length in 0..<good.count {
            #expect(throws: BootError.self) { try PVHLoader(elf: Array(good.prefix(length))) }
        }
    }
}

@Suite struct PVHPlanTests {
    private let layout = try! GuestMemoryLayout(totalBytes: 128 << 20)

    @Test func planPlacesSegmentsStartInfoMemoryMapAndCommandLine() throws {
        var builder = ELFBuilder()
        builder.segments = [.init(physicalAddress: 0x20_0000, bytes: [1, 2, 3, 4], memorySize: 0x10)]
        builder.pvhEntryDescriptor = UInt64(0x20_0000).bytes
        let plan = try PVHLoader(elf: builder.build()).plan(
            layout: layout, commandLine: "console=ttyS0 fw.exit=3", rsdpAddress: 0xe_0000)
        #expect(plan.entry == .protected32(entryPoint: 0x20_0000, ebx: 0x6000))

        let segment = try #require(plan.placements.first { $0.address == 0x20_0000 })
        #expect(segment.bytes == [1, 2, 3, 4] && segment.zeroFill == 12)
        let commandLine = try #require(plan.placements.first { $0.address == BootLayout.commandLineAddress })
        #expect(commandLine.bytes == Array("console=ttyS0 fw.exit=3".utf8) + [0])
        let gdt = try #require(plan.placements.first { $0.address == BootLayout.gdtAddress })
        #expect(gdt.bytes.load(UInt64.self, at: 8) == 0x00cf_9b00_0000_ffff)

        let info = try #require(plan.placements.first { $0.address == BootLayout.startInfoAddress }).bytes
        #expect(info.count == 56)
        #expect(info.load(UInt32.self, at: 0) == 0x336e_c578)  // magic
        #expect(info.load(UInt32.self, at: 4) == 1)  // version
        #expect(info.load(UInt32.self, at: 12) == 0)  // nr_modules
        #expect(info.load(UInt64.self, at: 24) == BootLayout.commandLineAddress)
        #expect(info.load(UInt64.self, at: 32) == 0xe_0000)  // rsdp_paddr
        #expect(info.load(UInt64.self, at: 40) == BootLayout.memoryMapAddress)
        #expect(info.load(UInt32.self, at: 48) == 4)  // memmap_entries

        let map = try #require(plan.placements.first { $0.address == BootLayout.memoryMapAddress }).bytes
        #expect(map.count == 4 * 24)
        let entries = (0..<4).map { index in
            (
                map.load(UInt64.self, at: index * 24), map.load(UInt64.self, at: index * 24 + 8),
                map.load(UInt32.self, at: index * 24 + 16)
            )
        }
        #expect(entries[0] == (0, 0x9_fc00, 1))
        #expect(entries[1] == (0x9_fc00, 0x400, 2))
        #expect(entries[2] == (0xe_0000, 0x2_0000, 2))
        #expect(entries[3] == (0x10_0000, (128 << 20) - 0x10_0000, 1))
    }

    @Test func planWritesIntoGuestMemory() throws {
        let memory = try GuestMemory(layout: layout)
        try memory.fill(0xaa, count: 0x20, at: GuestAddress(0x10_0000))
        let plan = try PVHLoader(elf: ELFBuilder().build()).plan(layout: layout, commandLine: "x")
        try plan.write(to: memory)
        #expect(try memory.readBytes(at: GuestAddress(0x10_0000), count: 5) == [0x90, 0x90, 0xf4, 0, 0], "bss zeroed")
        #expect(try memory.load(UInt32.self, at: GuestAddress(0x6000)) == PVHLoader.startInfoMagic)
    }

    @Test func initrdGoesToTheTopOfLowRAMAsAModule() throws {
        let initrd = [UInt8](repeating: 7, count: 10_000)
        let plan = try PVHLoader(elf: ELFBuilder().build()).plan(layout: layout, commandLine: "", initrd: initrd)
        let placed = try #require(plan.placements.first { $0.bytes == initrd })
        #expect(placed.address % 4096 == 0)
        #expect(placed.address + 10_000 <= 128 << 20 && placed.address + 10_000 + 4096 > 128 << 20)
        let module = try #require(plan.placements.first { $0.address == BootLayout.moduleListAddress }).bytes
        #expect(module.load(UInt64.self, at: 0) == placed.address)
        #expect(module.load(UInt64.self, at: 8) == 10_000)
        let info = try #require(plan.placements.first { $0.address == BootLayout.startInfoAddress }).bytes
        #expect(info.load(UInt32.self, at: 12) == 1)
        #expect(info.load(UInt64.self, at: 16) == BootLayout.moduleListAddress)
    }

    @Test func imagesThatDoNotFitAreRefused() throws {
        var builder = ELFBuilder()
        builder.segments = [.init(physicalAddress: 0x8000, bytes: [1], memorySize: 1)]
        #expect(throws: BootError.self, "below 1 MiB is the boot area") {
            try PVHLoader(elf: builder.build()).plan(layout: layout, commandLine: "")
        }
        builder.segments = [.init(physicalAddress: 0x7ff_f000, bytes: [1], memorySize: 0x2000)]
        #expect(throws: BootError.self, "past the end of RAM") {
            try PVHLoader(elf: builder.build()).plan(layout: layout, commandLine: "")
        }
        #expect(throws: BootError.self, "initrd larger than RAM") {
            try PVHLoader(elf: ELFBuilder().build()).plan(
                layout: layout, commandLine: "", initrd: [UInt8](repeating: 0, count: 128 << 20))
        }
        #expect(throws: BootError.self, "command line too long") {
            try PVHLoader(elf: ELFBuilder().build()).plan(
                layout: layout, commandLine: String(repeating: "x", count: 5000))
        }
        let tiny = try GuestMemoryLayout(totalBytes: 1 << 20)
        #expect(throws: BootError.self, "no RAM above 1 MiB") {
            try PVHLoader(elf: ELFBuilder().build()).plan(layout: tiny, commandLine: "")
        }
    }

    @Test func memoryMapAboveTheHole() throws {
        let map = BootLayout.memoryMap(for: try GuestMemoryLayout(totalBytes: 4 << 30))
        #expect(map.last == MemoryMapEntry(start: 0x1_0000_0000, size: (4 << 30) - 0xc000_0000, kind: .ram))
        #expect(map.filter { $0.kind == .ram }.reduce(0) { $0 + $1.size } == (4 << 30) - 0x400 - 0x2_0000 - 0x4_0000)
    }
}
