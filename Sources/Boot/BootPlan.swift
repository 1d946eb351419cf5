import GuestMemory

/// Everything a boot loader decided, as values: bytes to place in guest memory and the state
/// the boot vCPU starts in. `write(to:)` then applies it.
package struct BootPlan: Sendable, Equatable {
    /// Bytes to copy to a guest address.
    package struct Placement: Sendable, Equatable {
        package var address: UInt64
        package var bytes: [UInt8]
        /// Zero bytes to add after `bytes` (a segment's .bss).
        package var zeroFill: UInt64
    }

    /// The CPU state the boot vCPU starts in.
    package enum EntryState: Sendable, Equatable {
        /// 32-bit protected mode, paging off, flat segments from the boot GDT (PVH).
        /// `ebx` carries the start-info address.
        case protected32(entryPoint: UInt32, ebx: UInt32)
        /// 64-bit long mode, paging on with the identity map at `pageTableRoot`, CS = 0x10 and
        /// DS = 0x18 from the boot GDT, RSI = the zero page (Linux's 64-bit boot protocol).
        case long64(entryPoint: UInt64, rsi: UInt64, pageTableRoot: UInt64)
    }

    package var placements: [Placement]
    package var entry: EntryState

    /// Copies every placement into `memory`.
    package func write(to memory: GuestMemory) throws(GuestMemoryError) {
        for placement in placements {
            try memory.write(placement.bytes, at: GuestAddress(placement.address))
            if placement.zeroFill > 0 {
                let start = placement.address + UInt64(placement.bytes.count)
                try memory.fill(0, count: Int(placement.zeroFill), at: GuestAddress(start))
            }
        }
    }

    /// The flat boot GDT: null, 32-bit code (0x08), 32-bit data (0x10), 32-bit TSS (0x18).
    package static let bootGDT: [UInt64] = [
        0,
        0x00cf_9b00_0000_ffff,
        0x00cf_9300_0000_ffff,
        0x0000_8b00_0000_0067,
    ]

    static var bootGDTPlacement: Placement {
        Placement(address: BootLayout.gdtAddress, bytes: bootGDT.flatMap(\.littleEndianBytes), zeroFill: 0)
    }
}

extension FixedWidthInteger {
    /// The value's bytes, least significant first.
    var littleEndianBytes: [UInt8] {
        (0..<(Self.bitWidth / 8)).map { UInt8(truncatingIfNeeded: self >> ($0 * 8)) }
    }
}
