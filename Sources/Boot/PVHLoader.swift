import GuestMemory

/// Boots an ELF through its PVH entry (XEN_ELFNOTE_PHYS32_ENTRY), as Xen's PVH ABI and Linux's
/// `vmlinux` define: segments loaded at their physical addresses, `struct hvm_start_info`
/// (version 1) with the command line, memory map, RSDP address and an optional initrd module,
/// and a 32-bit protected-mode entry with EBX pointing at the start info.
package struct PVHLoader: Sendable {
    /// XEN_ELFNOTE_PHYS32_ENTRY.
    package static let entryNoteType: UInt32 = 18
    /// `hvm_start_info.magic`.
    package static let startInfoMagic: UInt32 = 0x336e_c578

    /// The parsed ELF.
    package let image: ELFImage
    /// The 32-bit physical entry point from the PVH note.
    package let entryPoint: UInt32
    /// The file's bytes, the source of the segment copies.
    private let fileBytes: [UInt8]

    /// Parses `bytes` and finds the PVH entry note.
    package init(elf bytes: [UInt8]) throws(BootError) {
        fileBytes = bytes
        image = try ELFImage(parsing: bytes)
        guard let note = image.notes.first(where: { $0.name == "Xen" && $0.type == Self.entryNoteType }) else {
            throw .notBootable(
                "has no PVH entry note (Xen note XEN_ELFNOTE_PHYS32_ENTRY); SwiftVMM boots ELF images through PVH only")
        }
        let reader = ByteReader(note.descriptor)
        let entry: UInt64
        switch note.descriptor.count {
        case 4: entry = UInt64(try reader.read(UInt32.self, at: 0, "the PVH entry"))
        case 8: entry = try reader.read(UInt64.self, at: 0, "the PVH entry")
        default: throw .malformed("has a PVH entry note of \(note.descriptor.count) bytes (expected 4 or 8)")
        }
        guard entry <= UInt64(UInt32.max) else {
            throw .malformed("has a PVH entry point 0x\(String(entry, radix: 16)) above 4 GiB (it must be 32-bit)")
        }
        entryPoint = UInt32(entry)
    }

    /// Plans the boot into RAM `layout`: segments, start info, memory map, command line, initrd.
    package func plan(
        layout: GuestMemoryLayout, commandLine: String, initrd: [UInt8]? = nil, rsdpAddress: UInt64 = 0
    ) throws(BootError) -> BootPlan {
        guard let loadable = BootLayout.loadableRange(for: layout) else {
            throw .doesNotFit("needs guest RAM above 1 MiB; give the guest more memory")
        }
        var placements: [BootPlan.Placement] = [BootPlan.bootGDTPlacement]
        var imageEnd = loadable.lowerBound
        for segment in image.segments where segment.memorySize > 0 {
            guard segment.physicalAddress >= loadable.lowerBound, segment.physicalEnd <= loadable.upperBound else {
                throw .doesNotFit(
                    "has a segment at 0x\(String(segment.physicalAddress, radix: 16))–0x\(String(segment.physicalEnd, radix: 16))"
                        + " outside guest RAM from 1 MiB to 0x\(String(loadable.upperBound, radix: 16)); give the guest more memory"
                )
            }
            let start = Int(segment.fileOffset)
            placements.append(
                BootPlan.Placement(
                    address: segment.physicalAddress, bytes: Array(fileBytes[start..<start + Int(segment.fileSize)]),
                    zeroFill: segment.memorySize - segment.fileSize))
            imageEnd = max(imageEnd, segment.physicalEnd)
        }

        let commandLineBytes = Array(commandLine.utf8)
        guard commandLineBytes.count <= BootLayout.maximumCommandLineBytes else {
            throw .doesNotFit(
                "command line of \(commandLineBytes.count) bytes exceeds \(BootLayout.maximumCommandLineBytes)")
        }
        placements.append(.init(address: BootLayout.commandLineAddress, bytes: commandLineBytes + [0], zeroFill: 0))

        let memoryMap = BootLayout.memoryMap(for: layout)
        guard memoryMap.count <= BootLayout.maximumMemoryMapEntries else {
            throw .doesNotFit("memory map of \(memoryMap.count) entries exceeds \(BootLayout.maximumMemoryMapEntries)")
        }
        placements.append(
            .init(address: BootLayout.memoryMapAddress, bytes: memoryMap.flatMap(Self.memoryMapEntryBytes), zeroFill: 0)
        )

        var moduleCount: UInt32 = 0
        if let initrd {
            let address = try Self.initrdAddress(size: UInt64(initrd.count), imageEnd: imageEnd, loadable: loadable)
            placements.append(.init(address: address, bytes: initrd, zeroFill: 0))
            // struct hvm_modlist_entry { paddr, size, cmdline_paddr, reserved }
            let module = [address, UInt64(initrd.count), 0, 0].flatMap(\.littleEndianBytes)
            placements.append(.init(address: BootLayout.moduleListAddress, bytes: module, zeroFill: 0))
            moduleCount = 1
        }

        placements.append(
            .init(
                address: BootLayout.startInfoAddress,
                bytes: Self.startInfoBytes(
                    moduleCount: moduleCount, rsdpAddress: rsdpAddress, memoryMapEntries: UInt32(memoryMap.count)),
                zeroFill: 0))
        return BootPlan(
            placements: placements,
            entry: .protected32(entryPoint: entryPoint, ebx: UInt32(BootLayout.startInfoAddress)))
    }

    /// `struct hvm_start_info` version 1 (56 bytes).
    static func startInfoBytes(moduleCount: UInt32, rsdpAddress: UInt64, memoryMapEntries: UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes += startInfoMagic.littleEndianBytes
        bytes += UInt32(1).littleEndianBytes  // version
        bytes += UInt32(0).littleEndianBytes  // flags
        bytes += moduleCount.littleEndianBytes  // nr_modules
        bytes += (moduleCount > 0 ? BootLayout.moduleListAddress : 0).littleEndianBytes  // modlist_paddr
        bytes += BootLayout.commandLineAddress.littleEndianBytes  // cmdline_paddr
        bytes += rsdpAddress.littleEndianBytes  // rsdp_paddr
        bytes += BootLayout.memoryMapAddress.littleEndianBytes  // memmap_paddr
        bytes += memoryMapEntries.littleEndianBytes  // memmap_entries
        bytes += UInt32(0).littleEndianBytes  // reserved
        return bytes
    }

    /// `struct hvm_memmap_table_entry` { addr, size, type, reserved }.
    static func memoryMapEntryBytes(_ entry: MemoryMapEntry) -> [UInt8] {
        entry.start.littleEndianBytes + entry.size.littleEndianBytes + entry.kind.rawValue.littleEndianBytes
            + UInt32(0).littleEndianBytes
    }

    /// The initrd goes as high as possible in the first RAM range (page aligned), above the image.
    static func initrdAddress(size: UInt64, imageEnd: UInt64, loadable: Range<UInt64>) throws(BootError) -> UInt64 {
        let pageMask: UInt64 = 0xfff
        let lowest = (imageEnd + pageMask) & ~pageMask
        guard size <= loadable.upperBound, (loadable.upperBound - size) & ~pageMask >= lowest else {
            throw .doesNotFit(
                "initrd of \(size) bytes does not fit between the kernel's end (0x\(String(imageEnd, radix: 16))) and the end"
                    + " of low RAM (0x\(String(loadable.upperBound, radix: 16))); give the guest more memory")
        }
        return (loadable.upperBound - size) & ~pageMask
    }
}
