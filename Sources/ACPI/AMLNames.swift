extension AML {
    /// Encodes one NameSeg: 1–4 characters, a leading `A`–`Z` or `_`, then `A`–`Z`, `0`–`9` or `_`,
    /// padded with `_` to four bytes (so "COM1" stays "COM1" and "_S5" becomes "_S5_").
    package static func nameSegment(_ segment: String) throws(ACPIError) -> [UInt8] {
        let bytes = Array(segment.utf8)
        guard (1...4).contains(bytes.count) else {
            throw .invalid("AML name segment \"\(segment)\" must have 1 to 4 characters")
        }
        for (index, byte) in bytes.enumerated() {
            let isLead = (byte >= 0x41 && byte <= 0x5A) || byte == 0x5F
            let isDigit = byte >= 0x30 && byte <= 0x39
            guard isLead || (index > 0 && isDigit) else {
                throw .invalid(
                    "AML name segment \"\(segment)\" may hold only A-Z, _ and (not first) 0-9")
            }
        }
        return bytes + [UInt8](repeating: 0x5F, count: 4 - bytes.count)
    }

    /// Encodes a NameString: an optional root `\` or any number of parent `^` prefixes, then
    /// dot-separated segments. No segment gives NullName, one is a bare NameSeg, two use
    /// DualNamePrefix (0x2E) and more MultiNamePrefix (0x2F) with a segment count.
    ///
    /// Examples: `"COM1"`, `"\\_SB.PWRB"`, `"^^PBST"`, `"\\"` (the root itself).
    package static func nameString(_ path: String) throws(ACPIError) -> [UInt8] {
        var rest = Substring(path)
        var prefix: [UInt8] = []
        if rest.first == "\\" {
            prefix.append(0x5C)
            rest = rest.dropFirst()
        } else {
            while rest.first == "^" {
                prefix.append(0x5E)
                rest = rest.dropFirst()
            }
        }
        let segments = rest.isEmpty ? [] : rest.split(separator: ".", omittingEmptySubsequences: false)
        var encoded: [UInt8] = []
        for segment in segments { encoded += try nameSegment(String(segment)) }
        switch segments.count {
        case 0: return prefix + [0x00]
        case 1: return prefix + encoded
        case 2: return prefix + [0x2E] + encoded
        case 3...255: return prefix + [0x2F, UInt8(segments.count)] + encoded
        default: throw .invalid("AML name path \"\(path)\" has more than 255 segments")
        }
    }
}
