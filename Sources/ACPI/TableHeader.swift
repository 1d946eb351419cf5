/// The identity SwiftVMM writes into every table header (and the RSDP's OEM ID).
enum TableIdentity {
    /// OEMID: six bytes, space-padded.
    static let oemID = "SVMM"
    /// OEM Table ID: eight bytes.
    static let oemTableID = "SWIFTVMM"
    static let oemRevision: UInt32 = 1
    /// Creator ID: four bytes.
    static let creatorID = "SVMM"
    static let creatorRevision: UInt32 = 1
}

/// Builds a System Description Table: the 36-byte header (signature, length, revision, checksum,
/// OEM fields, creator fields) followed by `body`, with the checksum making all bytes sum to 0.
func systemDescriptionTable(signature: String, revision: UInt8, body: [UInt8]) -> [UInt8] {
    var table: [UInt8] = []
    table.appendFixedASCII(signature, count: 4)
    table.appendLittleEndian(UInt32(36 + body.count))
    table.append(revision)
    table.append(0)  // checksum, set below
    table.appendFixedASCII(TableIdentity.oemID, count: 6)
    table.appendFixedASCII(TableIdentity.oemTableID, count: 8)
    table.appendLittleEndian(TableIdentity.oemRevision)
    table.appendFixedASCII(TableIdentity.creatorID, count: 4)
    table.appendLittleEndian(TableIdentity.creatorRevision)
    table += body
    table[9] = acpiChecksum(table)
    return table
}
