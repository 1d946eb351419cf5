import Testing

@testable import ACPI

@Suite struct PackageLengthTests {
    @Test(
        arguments: [
            (0, [0x00]), (63, [0x3F]), (64, [0x40, 0x04]), (4095, [0x4F, 0xFF]), (4096, [0x80, 0x00, 0x01]),
            (0xF_FFFF, [0x8F, 0xFF, 0xFF]), (0x10_0000, [0xC0, 0x00, 0x00, 0x01]),
            (0xFFF_FFFF, [0xCF, 0xFF, 0xFF, 0xFF]),
        ] as [(Int, [UInt8])])
    func rawEncoding(value: Int, expected: [UInt8]) throws {
        #expect(try AML.packageLength(value) == expected)
    }

    @Test func outOfRangeThrows() {
        #expect(throws: ACPIError.self) { try AML.packageLength(0x1000_0000) }
        #expect(throws: ACPIError.self) { try AML.packageLength(-1) }
    }

    /// The length counts its own bytes: a 62-byte body still fits one byte (63), a 63-byte body
    /// needs two (65); 4093 → 4095 in two bytes, 4094 → 4097 in three; 1 MiB - 4 → 1 MiB in four.
    @Test(
        arguments: [
            (62, [0x3F]), (63, [0x41, 0x04]), (4093, [0x4F, 0xFF]), (4094, [0x81, 0x00, 0x01]),
            (0xF_FFFC, [0x8F, 0xFF, 0xFF]), (0xF_FFFD, [0xC1, 0x00, 0x00, 0x01]),
        ] as [(Int, [UInt8])])
    func selfInclusiveEncoding(bodyCount: Int, expected: [UInt8]) throws {
        let body = [UInt8](repeating: 0xAA, count: bodyCount)
        let encoded = try AML.withPackageLength(body)
        #expect(Array(encoded.prefix(expected.count)) == expected)
        #expect(encoded.count == bodyCount + expected.count)
        #expect(try decodePackageLength(encoded) == encoded.count)
    }

    /// Decodes a PkgLength the way an AML interpreter does.
    private func decodePackageLength(_ bytes: [UInt8]) throws -> Int {
        let following = Int(bytes[0] >> 6)
        if following == 0 { return Int(bytes[0] & 0x3F) }
        var value = Int(bytes[0] & 0x0F)
        for index in 0..<following { value |= Int(bytes[1 + index]) << (4 + 8 * index) }
        return value
    }
}

@Suite struct IntegerAndDataTests {
    @Test(
        arguments: [
            (0, [0x00]), (1, [0x01]), (2, [0x0A, 0x02]), (0xFF, [0x0A, 0xFF]), (0x100, [0x0B, 0x00, 0x01]),
            (0xFFFF, [0x0B, 0xFF, 0xFF]), (0x1_0000, [0x0C, 0x00, 0x00, 0x01, 0x00]),
            (0xFEE0_0000, [0x0C, 0x00, 0x00, 0xE0, 0xFE]),
            (0x1_0000_0000, [0x0E, 0, 0, 0, 0, 1, 0, 0, 0]), (UInt64.max, [0xFF]),
            (UInt64.max - 1, [0x0E, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        ] as [(UInt64, [UInt8])])
    func integers(value: UInt64, expected: [UInt8]) {
        #expect(AML.integer(value) == expected)
    }

    @Test func strings() throws {
        #expect(try AML.string("LNRO0005") == [0x0D] + Array("LNRO0005".utf8) + [0x00])
        #expect(try AML.string("") == [0x0D, 0x00])
        #expect(throws: ACPIError.self) { try AML.string("é") }
    }

    @Test func buffersAndPackages() throws {
        #expect(try AML.buffer([1, 2, 3]) == [0x11, 0x06, 0x0A, 0x03, 1, 2, 3])
        #expect(try AML.buffer([]) == [0x11, 0x02, 0x00])
        #expect(
            try AML.package([AML.integer(5), AML.integer(5), AML.zero, AML.zero])
                == [0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00])
        let large = try AML.package([[UInt8]](repeating: AML.zero, count: 300))
        #expect(Array(large.prefix(6)) == [0x13, 0x41, 0x13, 0x0B, 0x2C, 0x01])  // VarPackage, 0x131 long
        #expect(large.count == 1 + 2 + 3 + 300)
    }

    @Test func eisaID() throws {
        #expect(try AML.eisaID("PNP0501") == 0x0105_D041)
        #expect(try AML.eisaIDInteger("PNP0501") == [0x0C, 0x41, 0xD0, 0x05, 0x01])
        #expect(try AML.eisaID("PNP0C0C") == 0x0C0C_D041)
        #expect(throws: ACPIError.self) { try AML.eisaID("PNP050") }
        #expect(throws: ACPIError.self) { try AML.eisaID("pnp0501") }
        #expect(throws: ACPIError.self) { try AML.eisaID("PNP05G1") }
    }
}

@Suite struct NameTests {
    @Test func segments() throws {
        #expect(try AML.nameSegment("COM1") == Array("COM1".utf8))
        #expect(try AML.nameSegment("_S5") == Array("_S5_".utf8))
        #expect(try AML.nameSegment("A") == Array("A___".utf8))
        for bad in ["", "TOOLONG", "1ABC", "ab", "A-B"] {
            #expect(throws: ACPIError.self) { try AML.nameSegment(bad) }
        }
    }

    @Test func paths() throws {
        #expect(try AML.nameString("PWRB") == Array("PWRB".utf8))
        #expect(try AML.nameString("\\_SB") == [0x5C] + Array("_SB_".utf8))
        #expect(try AML.nameString("\\_SB.PWRB") == [0x5C, 0x2E] + Array("_SB_PWRB".utf8))
        #expect(try AML.nameString("_SB.GED0.PBST") == [0x2F, 3] + Array("_SB_GED0PBST".utf8))
        #expect(try AML.nameString("\\") == [0x5C, 0x00])
        #expect(try AML.nameString("") == [0x00])
        #expect(try AML.nameString("^^PBST") == [0x5E, 0x5E] + Array("PBST".utf8))
        #expect(throws: ACPIError.self) { try AML.nameString("\\_SB..PWRB") }
    }
}

@Suite struct TermTests {
    @Test func namespaceTerms() throws {
        #expect(try AML.name("_UID", AML.one) == [0x08] + Array("_UID".utf8) + [0x01])
        #expect(try AML.scope("\\_SB", []) == [0x10, 0x06, 0x5C] + Array("_SB_".utf8))
        #expect(try AML.device("PWRB", []) == [0x5B, 0x82, 0x05] + Array("PWRB".utf8))
        #expect(
            try AML.method("_EVT", argumentCount: 1, serialized: true, [AML.returnStatement(AML.zero)])
                == [0x14, 0x08] + Array("_EVT".utf8) + [0x09, 0xA4, 0x00])
        #expect(throws: ACPIError.self) { try AML.method("_EVT", argumentCount: 8, serialized: false, []) }
    }

    @Test func statementsAndExpressions() throws {
        #expect(try AML.local(0) == [0x60])
        #expect(try AML.local(7) == [0x67])
        #expect(try AML.arg(0) == [0x68])
        #expect(try AML.arg(6) == [0x6E])
        #expect(throws: ACPIError.self) { try AML.arg(7) }
        #expect(AML.store(AML.one, [0x60]) == [0x70, 0x01, 0x60])
        #expect(AML.and([0x60], AML.one) == [0x7B, 0x60, 0x01, 0x00])
        #expect(AML.lEqual([0x68], AML.integer(23)) == [0x93, 0x68, 0x0A, 0x17])
        #expect(
            AML.notify(try AML.nameString("PWRB"), AML.integer(0x80)) == [0x86] + Array("PWRB".utf8) + [0x0A, 0x80])
        #expect(try AML.ifStatement(AML.one, [AML.returnStatement(AML.one)]) == [0xA0, 0x04, 0x01, 0xA4, 0x01])
        #expect(try AML.elseStatement([AML.returnStatement(AML.zero)]) == [0xA1, 0x03, 0xA4, 0x00])
    }

    @Test func regionsAndFields() throws {
        #expect(
            try AML.operationRegion("PBER", space: .systemIO, offset: 0x610, length: 8)
                == [0x5B, 0x80] + Array("PBER".utf8) + [0x01, 0x0B, 0x10, 0x06, 0x0A, 0x08])
        #expect(
            try AML.operationRegion("MMIO", space: .systemMemory, offset: 0xD000_0000, length: 0x1000)
                == [0x5B, 0x80] + Array("MMIO".utf8) + [0x00, 0x0C, 0, 0, 0, 0xD0, 0x0B, 0x00, 0x10])
        #expect(
            try AML.field("PBER", access: .dword, [.named("PBST", bits: 32), .reserved(bits: 64)])
                == [0x5B, 0x81, 0x0E] + Array("PBER".utf8) + [0x03] + Array("PBST".utf8) + [0x20, 0x00, 0x40, 0x04])
        #expect(
            try AML.field("REGS", access: .byte, lock: true, update: .writeAsZeros, [.named("A", bits: 1)])
                == [0x5B, 0x81, 0x0B] + Array("REGS".utf8) + [0x51] + Array("A___".utf8) + [0x01])
    }
}

@Suite struct ResourceTemplateTests {
    @Test func memory32Fixed() throws {
        #expect(
            try ResourceDescriptor.memory32Fixed(base: 0xD000_1000, length: 0x1000).bytes()
                == [0x86, 0x09, 0x00, 0x01, 0x00, 0x10, 0x00, 0xD0, 0x00, 0x10, 0x00, 0x00])
        #expect(try ResourceDescriptor.memory32Fixed(base: 0, length: 1, writable: false).bytes()[3] == 0x00)
    }

    @Test func ioPorts() throws {
        #expect(
            try ResourceDescriptor.io(base: 0x3F8, length: 8).bytes() == [
                0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08,
            ])
        #expect(try ResourceDescriptor.fixedIO(base: 0x3F8, length: 8).bytes() == [0x4B, 0xF8, 0x03, 0x08])
        #expect(throws: ACPIError.self) { try ResourceDescriptor.fixedIO(base: 0x400, length: 1).bytes() }
    }

    @Test func interrupts() throws {
        #expect(
            try ResourceDescriptor.interrupt(gsis: [4], trigger: .edge, polarity: .activeHigh).bytes()
                == [0x89, 0x06, 0x00, 0x03, 0x01, 0x04, 0x00, 0x00, 0x00])
        #expect(
            try ResourceDescriptor.interrupt(
                gsis: [9, 23], trigger: .level, polarity: .activeLow, sharing: .shared, wakeCapable: true
            ).bytes() == [0x89, 0x0A, 0x00, 0x1D, 0x02, 0x09, 0, 0, 0, 0x17, 0, 0, 0])
        #expect(throws: ACPIError.self) {
            try ResourceDescriptor.interrupt(gsis: [], trigger: .edge, polarity: .activeHigh).bytes()
        }
    }

    @Test func templateEndsWithChecksummedEndTag() throws {
        let template = try AML.resourceTemplate([
            .io(base: 0x3F8, length: 8), .interrupt(gsis: [4], trigger: .edge, polarity: .activeHigh),
        ])
        // Buffer, PkgLength, size 19 (8 + 9 + 2), descriptors, end tag.
        #expect(Array(template.prefix(4)) == [0x11, 0x16, 0x0A, 0x13])
        let descriptors = Array(template.dropFirst(4))
        #expect(descriptors.count == 19)
        #expect(descriptors[17] == 0x79)
        #expect(descriptors.reduce(UInt8(0), &+) == 0)
        #expect(AML.endTag(after: []) == [0x79, 0x87])
    }
}
