import GuestMemory

/// Boots a Linux bzImage through its 64-bit entry point (Documentation/arch/x86/boot.rst):
/// the protected-mode kernel at its preferred address, a zero page (`struct boot_params`) with
/// the setup header, command line, E820 map, initrd and RSDP address, identity-mapped page
/// tables and a GDT with CS = 0x10 and DS = 0x18, entered in long mode with RSI = zero page.
package struct BzImageLoader: Sendable {
    /// Offsets in the setup header (and in `boot_params`, where the header sits at the same place).
    enum Header {
        static let setupSectors = 0x1f1
        static let bootFlag = 0x1fe
        static let jump = 0x200
        static let magic = 0x202
        static let version = 0x206
        static let typeOfLoader = 0x210
        static let loadFlags = 0x211
        static let ramdiskImage = 0x218
        static let ramdiskSize = 0x21c
        static let commandLinePointer = 0x228
        static let initrdAddressMaximum = 0x22c
        static let kernelAlignment = 0x230
        static let relocatable = 0x234
        static let extendedLoadFlags = 0x236
        static let commandLineSize = 0x238
        static let preferredAddress = 0x258
        static let initSize = 0x260
    }

    /// boot_params fields outside the setup header.
    enum ZeroPage {
        static let size = 4096
        static let rsdpAddress = 0x070
        static let e820Entries = 0x1e8
        static let e820Table = 0x2d0
        static let e820MaximumEntries = 128
    }

    /// Where SwiftVMM puts the zero page, the page tables and the GDT.
    package enum Layout {
        package static let zeroPage: UInt64 = 0x7000
        package static let pml4: UInt64 = 0x9000
        package static let pdpt: UInt64 = 0xa000
        package static let firstPageDirectory: UInt64 = 0xb000  // four: 0xb000–0xefff
    }

    static let loadedHigh: UInt8 = 1
    static let extendedLoadFlagKernel64: UInt16 = 1

    /// The protocol version (e.g. 0x020f for 2.15).
    package let protocolVersion: UInt16
    /// The protected-mode kernel (after the setup sectors).
    let kernel: ArraySlice<UInt8>
    /// The setup header bytes, to copy into the zero page.
    let setupHeader: ArraySlice<UInt8>
    package let preferredAddress: UInt64
    package let initSize: UInt64
    let initrdAddressMaximum: UInt64
    let commandLineMaximum: Int
    let kernelAlignment: UInt64

    /// Parses the setup header of `bytes`; refuses kernels without the 64-bit entry.
    package init(bzImage bytes: [UInt8]) throws(BootError) {
        let file = ByteReader(bytes)
        guard bytes.count >= 0x264 + 4 else {
            throw .malformed("is truncated: \(bytes.count) bytes, shorter than a bzImage setup header")
        }
        guard try file.read(UInt16.self, at: UInt64(Header.bootFlag), "boot_flag") == 0xaa55,
            try file.read(UInt32.self, at: UInt64(Header.magic), "header magic") == 0x5372_6448  // "HdrS"
        else { throw .notBootable("is not a Linux bzImage (no 0xAA55 boot flag or HdrS magic)") }
        protocolVersion = try file.read(UInt16.self, at: UInt64(Header.version), "protocol version")
        let versionText = "\(protocolVersion >> 8).\(protocolVersion & 0xff)"
        guard protocolVersion >= 0x020c else {
            throw .notBootable(
                "uses boot protocol \(versionText), older than 2.12; SwiftVMM enters kernels through the 64-bit entry,"
                    + " which needs 2.12 (boot an uncompressed vmlinux through PVH instead)")
        }
        let extendedFlags = try file.read(UInt16.self, at: UInt64(Header.extendedLoadFlags), "xloadflags")
        guard extendedFlags & Self.extendedLoadFlagKernel64 != 0 else {
            throw .notBootable("has no 64-bit entry point (XLF_KERNEL_64 is clear); SwiftVMM boots 64-bit kernels")
        }
        guard bytes[Header.loadFlags] & Self.loadedHigh != 0 else {
            throw .notBootable("is not loaded high (LOADED_HIGH is clear): a zImage, not a bzImage")
        }
        var setupSectors = Int(bytes[Header.setupSectors])
        if setupSectors == 0 { setupSectors = 4 }
        let kernelOffset = (setupSectors + 1) * 512
        guard kernelOffset < bytes.count else {
            throw .malformed(
                "is truncated: the kernel would start at \(kernelOffset), past the end (\(bytes.count) bytes)")
        }
        let headerEnd = 0x202 + Int(bytes[Header.jump + 1])
        guard bytes[Header.jump] == 0xeb, headerEnd <= kernelOffset, headerEnd <= ZeroPage.size else {
            throw .malformed("has a setup header whose length (jump at 0x200) is invalid")
        }
        setupHeader = bytes[Header.setupSectors..<headerEnd]
        kernel = bytes[kernelOffset...]
        preferredAddress = try file.read(UInt64.self, at: UInt64(Header.preferredAddress), "pref_address")
        initSize = UInt64(try file.read(UInt32.self, at: UInt64(Header.initSize), "init_size"))
        initrdAddressMaximum = UInt64(
            try file.read(UInt32.self, at: UInt64(Header.initrdAddressMaximum), "initrd_addr_max"))
        commandLineMaximum = Int(try file.read(UInt32.self, at: UInt64(Header.commandLineSize), "cmdline_size"))
        kernelAlignment = UInt64(try file.read(UInt32.self, at: UInt64(Header.kernelAlignment), "kernel_alignment"))
        guard initSize >= UInt64(kernel.count) else {
            throw .malformed("has init_size \(initSize) smaller than its \(kernel.count)-byte protected-mode kernel")
        }
    }

    /// Plans the boot into RAM `layout`.
    package func plan(
        layout: GuestMemoryLayout, commandLine: String, initrd: [UInt8]? = nil, rsdpAddress: UInt64 = 0
    ) throws(BootError) -> BootPlan {
        guard let loadable = BootLayout.loadableRange(for: layout) else {
            throw .doesNotFit("needs guest RAM above 1 MiB; give the guest more memory")
        }
        let loadAddress = max(preferredAddress, loadable.lowerBound)
        let (kernelEnd, overflow) = loadAddress.addingReportingOverflow(initSize)
        guard !overflow, kernelEnd <= loadable.upperBound else {
            throw .doesNotFit(
                "needs \(initSize >> 20) MiB from 0x\(String(loadAddress, radix: 16)) (init_size) but guest RAM below"
                    + " the MMIO hole ends at 0x\(String(loadable.upperBound, radix: 16)); give the guest more memory")
        }
        let commandLineBytes = Array(commandLine.utf8)
        let limit = min(commandLineMaximum > 0 ? commandLineMaximum : 255, BootLayout.maximumCommandLineBytes)
        guard commandLineBytes.count <= limit else {
            throw .doesNotFit("command line of \(commandLineBytes.count) bytes exceeds the kernel's limit of \(limit)")
        }

        var zeroPage = [UInt8](repeating: 0, count: ZeroPage.size)
        zeroPage.replaceSubrange(Header.setupSectors..<Header.setupSectors + setupHeader.count, with: setupHeader)
        zeroPage[Header.typeOfLoader] = 0xff  // undefined loader
        func put<Value: FixedWidthInteger>(_ value: Value, at offset: Int) {
            for index in 0..<MemoryLayout<Value>.size {
                zeroPage[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
            }
        }
        put(UInt32(BootLayout.commandLineAddress), at: Header.commandLinePointer)
        put(rsdpAddress, at: ZeroPage.rsdpAddress)
        let map = BootLayout.memoryMap(for: layout)
        guard map.count <= ZeroPage.e820MaximumEntries else { throw .doesNotFit("memory map of \(map.count) entries") }
        zeroPage[ZeroPage.e820Entries] = UInt8(map.count)
        for (index, entry) in map.enumerated() {
            let base = ZeroPage.e820Table + index * 20
            put(entry.start, at: base)
            put(entry.size, at: base + 8)
            put(entry.kind.rawValue, at: base + 16)
        }

        var placements: [BootPlan.Placement] = [
            .init(address: loadAddress, bytes: Array(kernel), zeroFill: initSize - UInt64(kernel.count)),
            .init(address: BootLayout.commandLineAddress, bytes: commandLineBytes + [0], zeroFill: 0),
            .init(address: BootLayout.gdtAddress, bytes: Self.gdt.flatMap(\.littleEndianBytes), zeroFill: 0),
        ]
        placements += Self.pageTables()
        if let initrd {
            let ceiling = min(
                loadable.upperBound, initrdAddressMaximum > 0 ? initrdAddressMaximum &+ 1 : loadable.upperBound)
            guard ceiling > kernelEnd else {
                throw .doesNotFit(
                    "initrd must end below initrd_addr_max 0x\(String(initrdAddressMaximum, radix: 16)), which is below"
                        + " the kernel's end (0x\(String(kernelEnd, radix: 16))); the kernel image is damaged")
            }
            let address = try PVHLoader.initrdAddress(
                size: UInt64(initrd.count), imageEnd: kernelEnd, loadable: loadable.lowerBound..<ceiling)
            placements.append(.init(address: address, bytes: initrd, zeroFill: 0))
            put(UInt32(address), at: Header.ramdiskImage)
            put(UInt32(initrd.count), at: Header.ramdiskSize)
        }
        placements.append(.init(address: Layout.zeroPage, bytes: zeroPage, zeroFill: 0))
        return BootPlan(
            placements: placements,
            entry: .long64(entryPoint: loadAddress + 0x200, rsi: Layout.zeroPage, pageTableRoot: Layout.pml4))
    }

    /// The GDT boot.rst asks for: null, null, __BOOT_CS (0x10, 64-bit code), __BOOT_DS (0x18).
    package static let gdt: [UInt64] = [0, 0, 0x00af_9a00_0000_ffff, 0x00cf_9200_0000_ffff]

    /// PML4 → PDPT → four page directories of 2 MiB pages: the first 4 GiB identity-mapped.
    static func pageTables() -> [BootPlan.Placement] {
        let present: UInt64 = 1, writable: UInt64 = 2, largePage: UInt64 = 0x80
        var placements: [BootPlan.Placement] = [
            .init(address: Layout.pml4, bytes: (Layout.pdpt | present | writable).littleEndianBytes, zeroFill: 4088)
        ]
        var pdpt: [UInt8] = []
        for directory in 0..<UInt64(4) {
            let address = Layout.firstPageDirectory + directory * 0x1000
            pdpt += (address | present | writable).littleEndianBytes
            let entries = (0..<UInt64(512)).flatMap { entry in
                (((directory * 512 + entry) << 21) | present | writable | largePage).littleEndianBytes
            }
            placements.append(.init(address: address, bytes: entries, zeroFill: 0))
        }
        placements.append(.init(address: Layout.pdpt, bytes: pdpt, zeroFill: UInt64(4096 - pdpt.count)))
        return placements
    }
}
