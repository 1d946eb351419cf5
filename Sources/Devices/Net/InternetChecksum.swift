/// The internet checksum's arithmetic (RFC 1071): a ones'-complement sum of big-endian 16-bit
/// words.
enum InternetChecksum {
    /// The sum of `bytes` as big-endian 16-bit words (an odd last byte padded with zero), not
    /// folded. Wrapping arithmetic: 64 KiB of words cannot come near 2^64 anyway.
    static func sum(_ bytes: [UInt8], initial: UInt64 = 0) -> UInt64 {
        var total = initial
        var index = 0
        while index + 1 < bytes.count {
            total &+= UInt64(bytes[index]) << 8 | UInt64(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { total &+= UInt64(bytes[index]) << 8 }
        return total
    }

    /// `sum` folded to 16 bits (end-around carry).
    static func fold(_ sum: UInt64) -> UInt16 {
        var value = sum
        while value >> 16 != 0 { value = (value & 0xffff) &+ (value >> 16) }
        return UInt16(truncatingIfNeeded: value)
    }
}
