import Foundation
import GuestMemory
import Testing

@testable import Boot

/// A synthetic bzImage: setup sectors with a setup header, then a protected-mode "kernel".
private func bzImage(
    version: UInt16 = 0x020f, xloadflags: UInt16 = 1, loadflags: UInt8 = 1, setupSectors: UInt8 = 4,
    kernelBytes: Int = 4096, initSize: UInt32 = 0x10_0000, preferredAddress: UInt64 = 0x100_0000,
    initrdAddressMaximum: UInt32 = 0x37ff_ffff
) -> [UInt8] {
    var image = [UInt8](repeating: 0, count: (Int(setupSectors) + 1) * 512 + kernelBytes)
    func put<Value: FixedWidthInteger>(_ value: Value, at offset: Int) {
        for index in 0..<MemoryLayout<Value>.size {
            image[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
        }
    }
    image[0x1f1] = setupSectors
    put(UInt16(0xaa55), at: 0x1fe)
    image[0x200] = 0xeb
    image[0x201] = 0x6a  // header up to 0x26c
    put(UInt32(0x5372_6448), at: 0x202)
    put(version, at: 0x206)
    image[0x211] = loadflags
    put(initrdAddressMaximum, at: 0x22c)  // initrd_addr_max
    put(UInt32(0x20_0000), at: 0x230)  // kernel_alignment
    put(xloadflags, at: 0x236)
    put(UInt32(2048), at: 0x238)  // cmdline_size
    put(preferredAddress, at: 0x258)
    put(initSize, at: 0x260)
    for index in 0..<kernelBytes { image[(Int(setupSectors) + 1) * 512 + index] = UInt8(truncatingIfNeeded: index) }
    return image
}

private func load<Value: FixedWidthInteger>(_ bytes: [UInt8], _ offset: Int, as _: Value.Type) -> Value {
    (0..<MemoryLayout<Value>.size).reduce(Value(0)) { $0 | Value(bytes[offset + $1]) << ($1 * 8) }
}

@Suite struct BzImageLoaderTests {
    private let layout = try! GuestMemoryLayout(totalBytes: 512 << 20)

    @Test func zeroPageCarriesHeaderCommandLineE820InitrdAndRSDP() throws {
        let loader = try BzImageLoader(bzImage: bzImage())
        let initrd = [UInt8](repeating: 0x42, count: 8192)
        let plan = try loader.plan(layout: layout, commandLine: "console=ttyS0", initrd: initrd, rsdpAddress: 0xe_0000)
        #expect(plan.entry == .long64(entryPoint: 0x100_0200, rsi: 0x7000, pageTableRoot: 0x9000))
        let zeroPage = try #require(plan.placements.first { $0.address == 0x7000 }).bytes
        #expect(zeroPage.count == 4096)
        #expect(load(zeroPage, 0x202, as: UInt32.self) == 0x5372_6448, "setup header copied")
        #expect(zeroPage[0x210] == 0xff, "type_of_loader")
        #expect(load(zeroPage, 0x228, as: UInt32.self) == 0x20000, "cmd_line_ptr")
        #expect(load(zeroPage, 0x070, as: UInt64.self) == 0xe_0000, "acpi_rsdp_addr")
        #expect(zeroPage[0x1e8] == 4, "e820 entries")
        #expect(load(zeroPage, 0x2d0 + 3 * 20, as: UInt64.self) == 0x10_0000)
        #expect(load(zeroPage, 0x2d0 + 3 * 20 + 8, as: UInt64.self) == (512 << 20) - 0x10_0000)
        #expect(load(zeroPage, 0x2d0 + 3 * 20 + 16, as: UInt32.self) == 1)
        let initrdAddress = UInt64(load(zeroPage, 0x218, as: UInt32.self))
        #expect(load(zeroPage, 0x21c, as: UInt32.self) == 8192)
        #expect(initrdAddress % 4096 == 0 && initrdAddress + 8192 <= 512 << 20 && initrdAddress >= 0x110_0000)
        #expect(plan.placements.contains { $0.address == initrdAddress && $0.bytes == initrd })
        let kernel = try #require(plan.placements.first { $0.address == 0x100_0000 })
        #expect(kernel.bytes.count == 4096 && kernel.zeroFill == 0x10_0000 - 4096, "init_size reserved")
        let commandLine = try #require(plan.placements.first { $0.address == 0x20000 }).bytes
        #expect(commandLine == Array("console=ttyS0".utf8) + [0])
    }

    @Test func pageTablesIdentityMapFourGiBAndTheGDTHasTheBootSelectors() throws {
        let plan = try BzImageLoader(bzImage: bzImage()).plan(layout: layout, commandLine: "")
        let memory = try GuestMemory(layout: layout)
        try plan.write(to: memory)
        #expect(try memory.load(UInt64.self, at: GuestAddress(0x9000)) == 0xa003)
        #expect(try memory.load(UInt64.self, at: GuestAddress(0xa000 + 3 * 8)) == 0xe003)
        #expect(
            try memory.load(UInt64.self, at: GuestAddress(0xe000 + 511 * 8)) == 0xffe0_0083,
            "last 2 MiB page below 4 GiB")
        #expect(
            try memory.load(UInt64.self, at: GuestAddress(0x500 + 0x10)) == 0x00af_9a00_0000_ffff,
            "CS 0x10: 64-bit code")
        #expect(try memory.load(UInt64.self, at: GuestAddress(0x500 + 0x18)) == 0x00cf_9200_0000_ffff, "DS 0x18")
    }

    @Test func malformedAndOldKernelsAreClearErrors() {
        func error(_ bytes: [UInt8]) -> String? {
            do {
                _ = try BzImageLoader(bzImage: bytes)
                return nil
            } catch {
                return error.description
            }
        }
        var noMagic = bzImage()
        noMagic[0x202] = 0
        #expect(error(noMagic)?.contains("not a Linux bzImage") == true)
        #expect(error(bzImage(version: 0x020a))?.contains("2.10, older than 2.12") == true)
        #expect(error(bzImage(xloadflags: 0))?.contains("XLF_KERNEL_64") == true)
        #expect(error(bzImage(loadflags: 0))?.contains("zImage") == true)
        #expect(error(Array(bzImage().prefix(0x300)))?.contains("truncated") == true)
        #expect(error(bzImage(kernelBytes: 8192, initSize: 4096))?.contains("init_size") == true)
        #expect(error(Array(bzImage().prefix(2500)))?.contains("past the end") == true)
    }

    /// A header whose initrd_addr_max lies below the kernel (1 … 0xFFFFE, or anything under its
    /// end) is a clear error, not a trap.
    @Test(arguments: [UInt32(1), 0xfffe, 0xf_fffe, 0x100_0000, 0x110_0000])
    func initrdCeilingsBelowTheKernelAreRefused(ceiling: UInt32) throws {
        let loader = try BzImageLoader(bzImage: bzImage(initrdAddressMaximum: ceiling))
        #expect(throws: BootError.self) {
            try loader.plan(layout: layout, commandLine: "", initrd: [1, 2, 3])
        }
        // Without an initrd the same kernel still plans.
        _ = try loader.plan(layout: layout, commandLine: "")
    }

    @Test func kernelsLargerThanMemoryAreRefused() throws {
        let small = try GuestMemoryLayout(totalBytes: 32 << 20)
        let loader = try BzImageLoader(bzImage: bzImage(initSize: 64 << 20))
        #expect(throws: BootError.self) { try loader.plan(layout: small, commandLine: "") }
        #expect(throws: BootError.self, "command line longer than cmdline_size") {
            try BzImageLoader(bzImage: bzImage()).plan(layout: layout, commandLine: String(repeating: "x", count: 3000))
        }
    }
}

/// The cached Debian cloud kernel (scripts/fetch-cloud-kernel.sh), if there is one.
private let cloudKernel: String? = {
    let directory = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/swiftvmm/kernels")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.first { $0.hasPrefix("vmlinuz-") && $0.hasSuffix("-cloud-amd64") }.map {
        directory.appendingPathComponent($0).path
    }
}()

@Suite(
    .enabled(if: cloudKernel != nil, "SKIPPED: Debian's cloud kernel is not cached (run scripts/fetch-cloud-kernel.sh)")
)
struct DebianCloudKernelTests {
    @Test func realKernelPlansWithItsOwnHeader() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try #require(cloudKernel))))
        let loader = try BzImageLoader(bzImage: bytes)
        #expect(loader.protocolVersion >= 0x020f, "Debian 12's kernels speak protocol 2.15")
        #expect(loader.preferredAddress == 0x100_0000)
        #expect(loader.initSize > UInt64(bytes.count), "decompression needs more than the file")
        let layout = try GuestMemoryLayout(totalBytes: 256 << 20)
        let plan = try loader.plan(
            layout: layout, commandLine: "console=ttyS0 panic=-1", initrd: [1, 2, 3], rsdpAddress: 0xe_0000)
        let zeroPage = try #require(plan.placements.first { $0.address == BzImageLoader.Layout.zeroPage }).bytes
        #expect(
            Array(zeroPage[0x1f1..<0x202]) == Array(bytes[0x1f1..<0x202]), "the setup header as the kernel ships it")
        #expect(zeroPage[0x210] == 0xff && load(zeroPage, 0x21c, as: UInt32.self) == 3)
        #expect(throws: BootError.self, "too little memory for init_size") {
            try loader.plan(layout: try GuestMemoryLayout(totalBytes: 8 << 20), commandLine: "")
        }
    }
}
