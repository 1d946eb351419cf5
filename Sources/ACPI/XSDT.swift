/// The Extended System Description Table (ACPI 6.5, section 5.2.8): the addresses of the other
/// tables (all but the DSDT, which the FADT points at).
package struct XSDT: Sendable, Equatable {
    package var tableAddresses: [UInt64]

    package init(tableAddresses: [UInt64]) {
        self.tableAddresses = tableAddresses
    }

    /// The table: header (revision 1) and one 64-bit address per entry.
    package func bytes() -> [UInt8] {
        var body: [UInt8] = []
        for address in tableAddresses { body.appendLittleEndian(address) }
        return systemDescriptionTable(signature: "XSDT", revision: 1, body: body)
    }
}
