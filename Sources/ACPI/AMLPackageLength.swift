extension AML {
    /// The largest value a PkgLength can encode (28 bits, four bytes).
    package static let maximumPackageLength = 0x0FFF_FFFF

    /// Encodes `value` as a PkgLength: one byte up to 63, else a lead byte holding the count of
    /// following bytes (bits 7–6) and the low nibble, then the remaining bits 8 at a time.
    ///
    /// This is the raw encoding: `value` is written as given. Field widths in a FieldList use it
    /// directly; package-like terms use ``withPackageLength(_:)``, whose length counts itself.
    package static func packageLength(_ value: Int) throws(ACPIError) -> [UInt8] {
        guard value >= 0, value <= maximumPackageLength else {
            throw .invalid("AML PkgLength \(value) is out of range 0...\(maximumPackageLength)")
        }
        if value < 0x40 { return [UInt8(value)] }
        let following = value < 0x1000 ? 1 : value < 0x10_0000 ? 2 : 3
        var bytes: [UInt8] = [UInt8(following << 6) | UInt8(value & 0x0F)]
        for index in 0..<following {
            bytes.append(UInt8(truncatingIfNeeded: value >> (4 + 8 * index)))
        }
        return bytes
    }

    /// Prefixes `body` with the PkgLength of the whole (the length bytes count themselves),
    /// choosing the shortest encoding that holds it.
    package static func withPackageLength(_ body: [UInt8]) throws(ACPIError) -> [UInt8] {
        for size in 1...4 {
            let total = body.count + size
            let encoded = try packageLength(total)
            if encoded.count == size { return encoded + body }
        }
        throw .invalid("AML object of \(body.count) bytes is too large for a PkgLength")
    }
}
