/// The Root System Description Pointer, revision 2 (ACPI 6.5, section 5.2.5): 36 bytes.
package struct RSDP: Sendable, Equatable {
    /// Where the XSDT is. The 32-bit RSDT address is left 0: there is no RSDT.
    package var xsdtAddress: UInt64

    package init(xsdtAddress: UInt64) {
        self.xsdtAddress = xsdtAddress
    }

    /// The RSDP's bytes: "RSD PTR ", the checksum over the first 20 bytes, OEM ID, revision 2,
    /// RSDT address 0, length 36, the XSDT address, the extended checksum over all 36 bytes.
    package func bytes() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendFixedASCII("RSD PTR ", count: 8)
        bytes.append(0)  // checksum of bytes 0..<20
        bytes.appendFixedASCII(TableIdentity.oemID, count: 6)
        bytes.append(2)
        bytes.appendLittleEndian(UInt32(0))
        bytes.appendLittleEndian(UInt32(36))
        bytes.appendLittleEndian(xsdtAddress)
        bytes.append(0)  // extended checksum
        bytes += [0, 0, 0]
        bytes[8] = acpiChecksum(bytes[0..<20])
        bytes[32] = acpiChecksum(bytes)
        return bytes
    }
}
