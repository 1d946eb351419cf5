import Testing

@testable import ACPI

/// Reads a little-endian integer from `bytes` at `offset`.
func load<Value: FixedWidthInteger>(_ bytes: [UInt8], _ offset: Int, as _: Value.Type = Value.self) -> Value {
    (0..<(Value.bitWidth / 8)).reduce(Value(0)) { $0 | Value(bytes[offset + $1]) << ($1 * 8) }
}

func byteSum(_ bytes: some Sequence<UInt8>) -> UInt8 { bytes.reduce(0, &+) }

/// The tables the builder makes for a typical VM: 2 vCPUs, two virtio-mmio devices.
let sampleVirtioDevices = [
    VirtioMMIODeviceDescription(base: 0xD000_1000, gsi: 5),
    VirtioMMIODeviceDescription(base: 0xD000_2000, size: 0x200, gsi: 6),
]

func sampleTables() throws -> ACPITables {
    try ACPITables(vcpuCount: 2, virtioDevices: sampleVirtioDevices)
}

/// Checks the common header: signature, length field equal to the byte count, revision, checksum.
func checkHeader(_ table: [UInt8], signature: String, revision: UInt8) {
    #expect(String(decoding: table[0..<4], as: UTF8.self) == signature)
    #expect(Int(load(table, 4, as: UInt32.self)) == table.count, "\(signature) length field")
    #expect(table[8] == revision, "\(signature) revision")
    #expect(byteSum(table) == 0, "\(signature) checksum")
    #expect(String(decoding: table[10..<16], as: UTF8.self) == "SVMM  ")
}

@Suite struct TableTests {
    @Test func rsdp() {
        let rsdp = RSDP(xsdtAddress: 0xE_0030).bytes()
        #expect(rsdp.count == 36)
        #expect(String(decoding: rsdp[0..<8], as: UTF8.self) == "RSD PTR ")
        #expect(byteSum(rsdp[0..<20]) == 0, "RSDP checksum over the first 20 bytes")
        #expect(byteSum(rsdp) == 0, "RSDP extended checksum")
        #expect(rsdp[15] == 2)
        #expect(load(rsdp, 16, as: UInt32.self) == 0)
        #expect(load(rsdp, 20, as: UInt32.self) == 36)
        #expect(load(rsdp, 24, as: UInt64.self) == 0xE_0030)
    }

    @Test func xsdt() {
        let xsdt = XSDT(tableAddresses: [0x1000, 0x2_0000_0000]).bytes()
        checkHeader(xsdt, signature: "XSDT", revision: 1)
        #expect(xsdt.count == 36 + 16)
        #expect(load(xsdt, 36, as: UInt64.self) == 0x1000)
        #expect(load(xsdt, 44, as: UInt64.self) == 0x2_0000_0000)
    }

    @Test func fadt() {
        let fadt = FADT(dsdtAddress: 0xE_1000).bytes()
        checkHeader(fadt, signature: "FACP", revision: 6)
        #expect(fadt.count == 276)
        #expect(fadt[131] == 5, "minor version")
        let flags = load(fadt, 112, as: UInt32.self)
        #expect(flags == (1 << 20) | (1 << 4) | (1 << 5) | (1 << 10))
        #expect(load(fadt, 40, as: UInt32.self) == 0xE_1000)
        #expect(load(fadt, 140, as: UInt64.self) == 0xE_1000)
        #expect(Array(fadt[116..<128]) == [1, 8, 0, 1, 0x02, 0x06, 0, 0, 0, 0, 0, 0], "RESET_REG")
        #expect(fadt[128] == 1, "RESET_VALUE")
        #expect(Array(fadt[244..<256]) == [1, 8, 0, 1, 0x00, 0x06, 0, 0, 0, 0, 0, 0], "SLEEP_CONTROL_REG")
        #expect(Array(fadt[256..<268]) == [1, 8, 0, 1, 0x01, 0x06, 0, 0, 0, 0, 0, 0], "SLEEP_STATUS_REG")
        #expect(Array(fadt[268..<276]) == Array("SVMM".utf8) + [0, 0, 0, 0])
        #expect(load(fadt, 76, as: UInt32.self) == 0, "no PM timer")
        #expect(load(fadt, 46, as: UInt16.self) == 0, "no SCI")
    }

    @Test(arguments: [1, 2, 8, 254])
    func madt(vcpuCount: Int) throws {
        let madt = try MADT(vcpuCount: vcpuCount).bytes()
        checkHeader(madt, signature: "APIC", revision: 5)
        #expect(madt.count == 44 + 8 * vcpuCount + 12 + 10 + 6)
        #expect(load(madt, 36, as: UInt32.self) == 0xFEE0_0000)
        #expect(load(madt, 40, as: UInt32.self) == 1, "PCAT_COMPAT")
        for index in 0..<vcpuCount {
            let entry = 44 + 8 * index
            #expect(Array(madt[entry..<entry + 8]) == [0, 8, UInt8(index), UInt8(index), 1, 0, 0, 0])
        }
        let ioAPIC = 44 + 8 * vcpuCount
        #expect(Array(madt[ioAPIC..<ioAPIC + 12]) == [1, 12, UInt8(vcpuCount), 0, 0, 0, 0xC0, 0xFE, 0, 0, 0, 0])
        let override = ioAPIC + 12
        #expect(Array(madt[override..<override + 10]) == [2, 10, 0, 0, 2, 0, 0, 0, 5, 0])
        #expect(Array(madt[override + 10..<override + 16]) == [4, 6, 0xFF, 0, 0, 1])
    }

    @Test func madtRejectsBadCounts() {
        #expect(throws: ACPIError.self) { try MADT(vcpuCount: 0).bytes() }
        #expect(throws: ACPIError.self) { try MADT(vcpuCount: 255).bytes() }
    }

    @Test func dsdt() throws {
        let dsdt = try DSDT(virtioDevices: sampleVirtioDevices).bytes()
        checkHeader(dsdt, signature: "DSDT", revision: 2)
        let aml = Array(dsdt[36...])
        #expect(aml.first == 0x10, "starts with Scope(\\_SB)")
        for needle in [
            Array("COM1".utf8), Array("VR00".utf8), Array("VR01".utf8), Array("GED0".utf8), Array("PWRB".utf8),
            Array("LNRO0005".utf8), Array("ACPI0013".utf8), [0x0C, 0x41, 0xD0, 0x05, 0x01],
            [0x08] + Array("_S5_".utf8) + [0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00],
        ] {
            #expect(contains(aml, needle), "DSDT holds \(needle)")
        }
        #expect(
            dsdt.suffix(14) == [0x08] + Array("_S5_".utf8) + [0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00])
    }

    @Test func dsdtRejectsDevicesAbove4GiB() {
        #expect(throws: ACPIError.self) {
            try DSDT(virtioDevices: [VirtioMMIODeviceDescription(base: 0xFFFF_F800, gsi: 5)]).bytes()
        }
        #expect(throws: ACPIError.self) {
            try DSDT(virtioDevices: [VirtioMMIODeviceDescription(base: 0xD000_0000, size: 0, gsi: 5)]).bytes()
        }
    }

    @Test func builderPlacesEveryTableInTheBIOSArea() throws {
        let tables = try sampleTables()
        #expect(tables.rsdpAddress == 0xE_0000)
        #expect(tables.placements.map(\.signature) == ["RSDP", "XSDT", "FACP", "APIC", "DSDT"])
        var end: UInt64 = 0
        for placement in tables.placements {
            #expect(placement.address % 16 == 0)
            #expect(placement.address >= end, "\(placement.signature) does not overlap the previous table")
            end = placement.address + UInt64(placement.bytes.count)
            #expect(byteSum(placement.bytes) == 0, "\(placement.signature) checksum")
        }
        #expect(end <= 0x10_0000)
        let address = Dictionary(uniqueKeysWithValues: tables.placements.map { ($0.signature, $0.address) })
        let bytes = Dictionary(uniqueKeysWithValues: tables.placements.map { ($0.signature, $0.bytes) })
        #expect(load(bytes["RSDP"]!, 24, as: UInt64.self) == address["XSDT"])
        #expect(load(bytes["XSDT"]!, 36, as: UInt64.self) == address["FACP"])
        #expect(load(bytes["XSDT"]!, 44, as: UInt64.self) == address["APIC"])
        #expect(load(bytes["FACP"]!, 140, as: UInt64.self) == address["DSDT"])
    }

    @Test func builderHonoursAddresses() throws {
        let tables = try ACPITables(
            vcpuCount: 1, virtioDevices: [], rsdpAddress: 0xF_0000, tableAddress: 0x9_0000)
        #expect(tables.rsdpAddress == 0xF_0000)
        #expect(tables.placements[1].address == 0x9_0000)
        #expect(throws: ACPIError.self) { try ACPITables(vcpuCount: 1, virtioDevices: [], rsdpAddress: 0xE_0008) }
        #expect(throws: ACPIError.self) { try ACPITables(vcpuCount: 1, virtioDevices: [], rsdpAddress: 0x10_0000) }
        #expect(throws: ACPIError.self) { try ACPITables(vcpuCount: 1, virtioDevices: [], rsdpAddress: 0xF_FFE0) }
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        return (0...(haystack.count - needle.count)).contains { Array(haystack[$0..<$0 + needle.count]) == needle }
    }
}
