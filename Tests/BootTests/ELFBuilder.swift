/// Builds small ELF64 files for loader tests, with knobs to break them in specific ways.
struct ELFBuilder {
    struct Segment {
        var physicalAddress: UInt64
        var bytes: [UInt8]
        var memorySize: UInt64
    }

    var segments: [Segment] = [Segment(physicalAddress: 0x10_0000, bytes: [0x90, 0x90, 0xf4], memorySize: 0x1000)]
    /// PVH entry note descriptor (nil: no note).
    var pvhEntryDescriptor: [UInt8]? = UInt64(0x10_0000).bytes
    var elfClass: UInt8 = 2
    var machine: UInt16 = 62
    var type: UInt16 = 2
    /// Added to the note segment's file size (to make it point past the end of the file).
    var noteSizeAdjustment: UInt64 = 0

    func build() -> [UInt8] {
        let headerSize = 64
        let programHeaderSize = 56
        let programHeaderCount = segments.count + (pvhEntryDescriptor == nil ? 0 : 1)
        var note: [UInt8] = []
        if let descriptor = pvhEntryDescriptor {
            note +=
                UInt32(4).bytes + UInt32(descriptor.count).bytes + UInt32(18).bytes + Array("Xen\0".utf8) + descriptor
            while note.count % 4 != 0 { note.append(0) }
        }
        var dataOffset = UInt64(headerSize + programHeaderCount * programHeaderSize)
        var programHeaders: [UInt8] = []
        var data: [UInt8] = []
        for segment in segments {
            programHeaders += UInt32(1).bytes + UInt32(7).bytes + dataOffset.bytes + segment.physicalAddress.bytes
            programHeaders +=
                segment.physicalAddress.bytes + UInt64(segment.bytes.count).bytes + segment.memorySize.bytes
            programHeaders += UInt64(0x1000).bytes
            data += segment.bytes
            dataOffset += UInt64(segment.bytes.count)
        }
        if pvhEntryDescriptor != nil {
            programHeaders += UInt32(4).bytes + UInt32(4).bytes + dataOffset.bytes + UInt64(0).bytes + UInt64(0).bytes
            programHeaders +=
                (UInt64(note.count) + noteSizeAdjustment).bytes + UInt64(note.count).bytes + UInt64(4).bytes
            data += note
        }
        var header: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, elfClass, 1, 1, 0] + [UInt8](repeating: 0, count: 8)
        header += type.bytes + machine.bytes + UInt32(1).bytes
        header += UInt64(0x10_0000).bytes + UInt64(headerSize).bytes + UInt64(0).bytes  // entry, phoff, shoff
        header += UInt32(0).bytes + UInt16(headerSize).bytes + UInt16(programHeaderSize).bytes
        header += UInt16(programHeaderCount).bytes + UInt16(64).bytes + UInt16(0).bytes + UInt16(0).bytes
        return header + programHeaders + data
    }
}

extension FixedWidthInteger {
    var bytes: [UInt8] { (0..<(Self.bitWidth / 8)).map { UInt8(truncatingIfNeeded: self >> ($0 * 8)) } }
}

extension Array where Element == UInt8 {
    func load<Value: FixedWidthInteger>(_: Value.Type, at offset: Int) -> Value {
        (0..<MemoryLayout<Value>.size).reduce(Value(0)) { $0 | Value(self[offset + $1]) << ($1 * 8) }
    }
}
