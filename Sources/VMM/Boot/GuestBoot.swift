import Boot
import EmbeddedFirmware
import GuestMemory
@_spi(ExitPath) import KVM

/// How the boot vCPU starts: a planned PVH boot, or a raw-code guest.
enum GuestBoot {
    case raw(RawCodeBoot)
    case planned(BootPlan)

    /// Reads and plans the boot source of `configuration` from `files` (opened from it) for RAM
    /// `layout`. Every failure names the configuration field and the file.
    static func prepare(
        _ configuration: VirtualMachineConfiguration, files: BootFiles, layout: GuestMemoryLayout, commandLine: String,
        rsdpAddress: UInt64 = 0
    ) throws(MachineError) -> GuestBoot {
        if let raw = configuration.rawCode { return .raw(raw) }
        let field: String
        let path: String
        let image: [UInt8]
        if let file = files.image {
            (field, path) = (file.field, file.path)
            image = try file.readAll()
        } else {
            (field, path) = ("firmware", "(built-in test firmware)")
            image = EmbeddedFirmware.elf
        }
        let initrd = try files.initrd.map { file throws(MachineError) in try file.readAll() }
        switch BootImageFormat(of: image) {
        case .bzImage:
            do {
                let loader = try BzImageLoader(bzImage: image)
                return .planned(
                    try loader.plan(
                        layout: layout, commandLine: commandLine, initrd: initrd, rsdpAddress: rsdpAddress))
            } catch {
                throw .unsupportedBootImage(field: field, path: path, reason: error.description)
            }
        case .unknown:
            throw .unsupportedBootImage(
                field: field, path: path, reason: "is not a bootable image; expected an ELF with a PVH entry note")
        case .elf:
            do {
                let loader = try PVHLoader(elf: image)
                return .planned(
                    try loader.plan(
                        layout: layout, commandLine: commandLine, initrd: initrd, rsdpAddress: rsdpAddress))
            } catch {
                throw .unsupportedBootImage(field: field, path: path, reason: error.description)
            }
        }
    }

    /// Writes the boot into `memory`.
    func load(into memory: GuestMemory) throws(GuestMemoryError) {
        switch self {
        case .raw(let raw): try RawCodeLoader.load(raw, into: memory)
        case .planned(let plan): try plan.write(to: memory)
        }
    }

    /// The boot vCPU's registers, starting from its reset state `base`.
    func initialRegisters(base: SpecialRegisters) -> (GeneralRegisters, SpecialRegisters) {
        switch self {
        case .raw(let raw):
            return RawCodeLoader.initialRegisters(raw, base: base)
        case .planned(let plan):
            switch plan.entry {
            case .protected32(let entryPoint, let ebx):
                return Self.protectedModeEntry(entryPoint: entryPoint, ebx: ebx, base: base)
            case .long64(let entryPoint, let rsi, let pageTableRoot):
                return Self.longModeEntry(entryPoint: entryPoint, rsi: rsi, pageTableRoot: pageTableRoot, base: base)
            }
        }
    }

    /// Loads `code` into CS and `data` into DS, ES, FS, GS and SS.
    private static func loadFlatSegments(
        into special: inout SpecialRegisters, code: SegmentRegister, data: SegmentRegister
    ) {
        special.cs = code
        special.ds = data
        special.es = data
        special.fs = data
        special.gs = data
        special.ss = data
    }

    /// 64-bit long mode as Linux's boot protocol asks: paging on, CS = 0x10 (64-bit code), DS =
    /// ES = SS = 0x18, RSI = the zero page, interrupts off.
    static func longModeEntry(entryPoint: UInt64, rsi: UInt64, pageTableRoot: UInt64, base: SpecialRegisters)
        -> (GeneralRegisters, SpecialRegisters)
    {
        var general = GeneralRegisters()
        general.rip = entryPoint
        general.rsi = rsi
        general.rflags = 0x2
        var special = base
        loadFlatSegments(
            into: &special,
            code: SegmentRegister(base: 0, limit: 0xffff_ffff, selector: 0x10, type: 0xb, l: true, g: true),
            data: SegmentRegister(base: 0, limit: 0xffff_ffff, selector: 0x18, type: 0x3, db: true, g: true))
        special.gdt = DescriptorTableRegister(
            base: BootLayout.gdtAddress, limit: UInt16(BzImageLoader.gdt.count * 8 - 1))
        special.cr3 = pageTableRoot
        special.cr4 = 1 << 5  // PAE
        special.cr0 = 0x8000_0011  // PG | ET | PE
        special.efer = 0x500  // LME | LMA
        return (general, special)
    }

    /// 32-bit protected mode, paging off, flat segments matching the boot GDT (PVH ABI).
    static func protectedModeEntry(entryPoint: UInt32, ebx: UInt32, base: SpecialRegisters)
        -> (GeneralRegisters, SpecialRegisters)
    {
        var general = GeneralRegisters()
        general.rip = UInt64(entryPoint)
        general.rbx = UInt64(ebx)
        general.rflags = 0x2
        var special = base
        loadFlatSegments(
            into: &special,
            code: SegmentRegister(base: 0, limit: 0xffff_ffff, selector: 0x08, type: 0xb, db: true, g: true),
            data: SegmentRegister(base: 0, limit: 0xffff_ffff, selector: 0x10, type: 0x3, db: true, g: true))
        special.tr = SegmentRegister(base: 0, limit: 0x67, selector: 0x18, type: 0xb, s: false)
        special.gdt = DescriptorTableRegister(
            base: BootLayout.gdtAddress, limit: UInt16(BootPlan.bootGDT.count * 8 - 1))
        special.cr0 = 0x11  // PE | ET
        special.cr3 = 0
        special.cr4 = 0
        special.efer = 0
        return (general, special)
    }
}

/// The boot files a configuration names (kernel or firmware, initrd), open.
struct BootFiles: Sendable {
    let image: BootFile?
    let initrd: BootFile?

    /// Opens the files of `configuration` (none for raw code or the built-in firmware).
    static func open(_ configuration: VirtualMachineConfiguration) throws(MachineError) -> BootFiles {
        guard configuration.rawCode == nil else { return BootFiles(image: nil, initrd: nil) }
        let image: BootFile?
        if let kernel = configuration.kernelPath {
            image = try BootFile.open(path: kernel, field: "kernel")
        } else if let firmware = configuration.firmwarePath {
            image = try BootFile.open(path: firmware, field: "firmware")
        } else {
            image = nil
        }
        let initrd = try configuration.initrdPath.map { path throws(MachineError) in
            try BootFile.open(path: path, field: "initrd")
        }
        return BootFiles(image: image, initrd: initrd)
    }
}

/// Boot image formats, told apart by their magic numbers.
enum BootImageFormat: Equatable {
    case elf
    case bzImage
    case unknown

    init(of bytes: [UInt8]) {
        if bytes.count >= 4, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 {
            self = .elf
        } else if bytes.count >= 0x206, bytes[0x202] == 0x48, bytes[0x203] == 0x64, bytes[0x204] == 0x72,
            bytes[0x205] == 0x53
        {
            self = .bzImage
        } else {
            self = .unknown
        }
    }
}
