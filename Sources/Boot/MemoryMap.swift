import GuestMemory

/// One entry of the guest's physical memory map (E820 types), as given to PVH and Linux.
package struct MemoryMapEntry: Sendable, Equatable {
    package enum Kind: UInt32, Sendable {
        case ram = 1
        case reserved = 2
        case acpi = 3
        case nvs = 4
    }

    package var start: UInt64
    package var size: UInt64
    package var kind: Kind

    package init(start: UInt64, size: UInt64, kind: Kind) {
        self.start = start
        self.size = size
        self.kind = kind
    }

    package var end: UInt64 { start + size }
}

/// The fixed low-memory layout SwiftVMM's boot paths use.
package enum BootLayout {
    /// The boot GDT (PVH and 64-bit Linux entry).
    package static let gdtAddress: UInt64 = 0x500
    /// `struct hvm_start_info`.
    package static let startInfoAddress: UInt64 = 0x6000
    /// The PVH module list (initrd), right after the start info.
    package static let moduleListAddress: UInt64 = 0x6040
    /// The memory map handed to the guest.
    package static let memoryMapAddress: UInt64 = 0x7000
    /// Most memory-map entries that fit before the next structure.
    package static let maximumMemoryMapEntries = 128
    /// The kernel command line.
    package static let commandLineAddress: UInt64 = 0x20000
    /// Longest command line accepted, in bytes (without the terminating NUL).
    package static let maximumCommandLineBytes = 4095
    /// Start of the extended BIOS data area, reserved up to 640 KiB.
    package static let ebdaStart: UInt64 = 0x9_fc00
    /// The BIOS area 0xE0000–0xFFFFF, reserved (the ACPI RSDP lives there).
    package static let biosAreaStart: UInt64 = 0xe_0000
    /// First address a kernel or firmware may be loaded at.
    package static let highMemoryStart: UInt64 = 0x10_0000

    /// The memory map for guest RAM `layout`: low RAM up to the EBDA, the reserved EBDA and
    /// BIOS areas, then RAM from 1 MiB (and above 4 GiB when the layout has it).
    package static func memoryMap(for layout: GuestMemoryLayout) -> [MemoryMapEntry] {
        var entries: [MemoryMapEntry] = []
        for range in layout.ranges {
            let start = range.start.rawValue
            let end = range.end
            if start < highMemoryStart {
                entries.append(MemoryMapEntry(start: start, size: min(end, ebdaStart) - start, kind: .ram))
                if end > ebdaStart {
                    entries.append(MemoryMapEntry(start: ebdaStart, size: 0xa_0000 - ebdaStart, kind: .reserved))
                }
                if end > biosAreaStart {
                    entries.append(
                        MemoryMapEntry(start: biosAreaStart, size: highMemoryStart - biosAreaStart, kind: .reserved))
                }
                if end > highMemoryStart {
                    entries.append(MemoryMapEntry(start: highMemoryStart, size: end - highMemoryStart, kind: .ram))
                }
            } else {
                entries.append(MemoryMapEntry(start: start, size: range.size, kind: .ram))
            }
        }
        return entries
    }

    /// The RAM that may hold loaded images: from 1 MiB to the end of the first RAM range.
    static func loadableRange(for layout: GuestMemoryLayout) -> Range<UInt64>? {
        guard let first = layout.ranges.first, first.end > highMemoryStart else { return nil }
        return highMemoryStart..<first.end
    }
}
