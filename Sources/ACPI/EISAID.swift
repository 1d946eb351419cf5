extension AML {
    /// Compresses a seven-character EISA ID ("PNP0501": three letters `A`–`Z`, four hex digits) to
    /// the 32-bit value ASL's `EISAID()` produces: the letters 5 bits each (`letter - 0x40`), then
    /// the 16-bit product number, stored big-endian — so "PNP0501" is 0x0105D041 read as a
    /// little-endian integer, bytes 41 D0 05 01.
    package static func eisaID(_ id: String) throws(ACPIError) -> UInt32 {
        let bytes = Array(id.utf8)
        guard bytes.count == 7, bytes[0..<3].allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) else {
            throw .invalid("EISA ID \"\(id)\" must be three letters A-Z and four hex digits")
        }
        var product: UInt32 = 0
        for byte in bytes[3..<7] {
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            default: throw .invalid("EISA ID \"\(id)\" must end in four hex digits (0-9, A-F)")
            }
            product = product << 4 | UInt32(digit)
        }
        let vendor = UInt32(bytes[0] - 0x40) << 10 | UInt32(bytes[1] - 0x40) << 5 | UInt32(bytes[2] - 0x40)
        let bigEndian = vendor << 16 | product
        return bigEndian.byteSwapped
    }
}
