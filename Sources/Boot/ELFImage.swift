/// The parts of an ELF64 x86-64 executable a loader needs: loadable segments and notes.
package struct ELFImage: Sendable, Equatable {
    /// A PT_LOAD segment.
    package struct Segment: Sendable, Equatable {
        /// Physical load address (p_paddr).
        package var physicalAddress: UInt64
        /// File offset of the initialised bytes.
        package var fileOffset: UInt64
        /// Bytes present in the file.
        package var fileSize: UInt64
        /// Bytes in memory; the rest past fileSize is zero.
        package var memorySize: UInt64
        /// End of the segment in memory (exclusive).
        package var physicalEnd: UInt64 { physicalAddress + memorySize }
    }

    /// An ELF note (from a PT_NOTE segment).
    package struct Note: Sendable, Equatable {
        package var name: String
        package var type: UInt32
        package var descriptor: [UInt8]
    }

    package var entry: UInt64
    package var segments: [Segment]
    package var notes: [Note]

    static let programHeaderTypeLoad: UInt32 = 1
    static let programHeaderTypeNote: UInt32 = 4

    /// Parses `bytes` as an ELF64 little-endian x86-64 executable.
    package init(parsing bytes: [UInt8]) throws(BootError) {
        let file = ByteReader(bytes)
        guard bytes.count >= 4, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 else {
            throw .notBootable("is not an ELF file (bad magic)")
        }
        guard bytes.count >= 64 else {
            throw .malformed("is truncated: \(bytes.count) bytes, an ELF64 header needs 64")
        }
        guard bytes[4] == 2 else {
            throw .notBootable(
                "is a \(bytes[4] == 1 ? "32-bit" : "class \(bytes[4])") ELF; SwiftVMM boots 64-bit (ELFCLASS64) images")
        }
        guard bytes[5] == 1 else { throw .notBootable("is a big-endian ELF; x86-64 images are little-endian") }
        let machine = try file.read(UInt16.self, at: 18, "e_machine")
        guard machine == 62 else { throw .notBootable("is an ELF for machine \(machine), not x86-64 (62)") }
        let type = try file.read(UInt16.self, at: 16, "e_type")
        guard type == 2 else { throw .notBootable("is an ELF of type \(type), not an executable (ET_EXEC)") }
        entry = try file.read(UInt64.self, at: 24, "e_entry")
        let headerOffset = try file.read(UInt64.self, at: 32, "e_phoff")
        let headerSize = UInt64(try file.read(UInt16.self, at: 54, "e_phentsize"))
        let headerCount = UInt64(try file.read(UInt16.self, at: 56, "e_phnum"))
        guard headerCount > 0 else { throw .malformed("has no program headers") }
        guard headerSize >= 56 else { throw .malformed("has program headers of \(headerSize) bytes (ELF64 needs 56)") }
        _ = try file.slice(at: headerOffset, count: headerSize * headerCount, "the program header table")

        var segments: [Segment] = []
        var notes: [Note] = []
        for index in 0..<headerCount {
            let base = headerOffset + index * headerSize
            let kind = try file.read(UInt32.self, at: base, "program header \(index)")
            let offset = try file.read(UInt64.self, at: base + 8, "p_offset")
            let physical = try file.read(UInt64.self, at: base + 24, "p_paddr")
            let fileSize = try file.read(UInt64.self, at: base + 32, "p_filesz")
            let memorySize = try file.read(UInt64.self, at: base + 40, "p_memsz")
            switch kind {
            case Self.programHeaderTypeLoad:
                guard fileSize <= memorySize else {
                    throw .malformed("segment \(index) has p_filesz \(fileSize) larger than p_memsz \(memorySize)")
                }
                _ = try file.slice(at: offset, count: fileSize, "segment \(index)")
                guard physical.addingReportingOverflow(memorySize).overflow == false else {
                    throw .malformed(
                        "segment \(index) at 0x\(String(physical, radix: 16)) wraps around the address space")
                }
                segments.append(
                    Segment(physicalAddress: physical, fileOffset: offset, fileSize: fileSize, memorySize: memorySize))
            case Self.programHeaderTypeNote:
                let data = try file.slice(at: offset, count: fileSize, "note segment \(index)")
                notes += try Self.parseNotes(Array(data), segment: index)
            default:
                continue
            }
        }
        guard !segments.isEmpty else { throw .malformed("has no loadable (PT_LOAD) segment") }
        let sorted = segments.filter { $0.memorySize > 0 }.sorted { $0.physicalAddress < $1.physicalAddress }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.physicalEnd > next.physicalAddress {
            throw .malformed(
                "segments at 0x\(String(previous.physicalAddress, radix: 16)) and 0x\(String(next.physicalAddress, radix: 16)) overlap"
            )
        }
        self.segments = segments
        self.notes = notes
    }

    /// Notes are {namesz, descsz, type, name (padded to 4), desc (padded to 4)}.
    static func parseNotes(_ data: [UInt8], segment: UInt64) throws(BootError) -> [Note] {
        let reader = ByteReader(data)
        var notes: [Note] = []
        var offset: UInt64 = 0
        func padded(_ value: UInt64) -> UInt64 { (value + 3) & ~3 }
        while offset + 12 <= UInt64(data.count) {
            let nameSize = UInt64(try reader.read(UInt32.self, at: offset, "note name size"))
            let descriptorSize = UInt64(try reader.read(UInt32.self, at: offset + 4, "note descriptor size"))
            let type = try reader.read(UInt32.self, at: offset + 8, "note type")
            let nameBytes = try reader.slice(at: offset + 12, count: nameSize, "a note name in segment \(segment)")
            let descriptorOffset = offset + 12 + padded(nameSize)
            let descriptor = try reader.slice(
                at: descriptorOffset, count: descriptorSize, "a note descriptor in segment \(segment)")
            let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
            notes.append(Note(name: name, type: type, descriptor: Array(descriptor)))
            offset = descriptorOffset + padded(descriptorSize)
        }
        return notes
    }
}
