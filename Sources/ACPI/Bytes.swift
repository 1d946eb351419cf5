/// Little-endian byte helpers and the ACPI checksum, shared by the AML encoder and the tables.
extension Array where Element == UInt8 {
    /// Appends `value` in little-endian byte order (ACPI's byte order everywhere).
    mutating func appendLittleEndian<Value: FixedWidthInteger>(_ value: Value) {
        for index in 0..<(Value.bitWidth / 8) {
            append(UInt8(truncatingIfNeeded: value >> (index * 8)))
        }
    }

    /// Overwrites `MemoryLayout<Value>.size` bytes at `offset` with `value` in little-endian order.
    mutating func storeLittleEndian<Value: FixedWidthInteger>(_ value: Value, at offset: Int) {
        for index in 0..<(Value.bitWidth / 8) {
            self[offset + index] = UInt8(truncatingIfNeeded: value >> (index * 8))
        }
    }

    /// Appends the ASCII bytes of `text`, padded with `padding` (or cut) to exactly `count` bytes.
    mutating func appendFixedASCII(_ text: String, count: Int, padding: UInt8 = 0x20) {
        let bytes = Array(text.utf8.prefix(count))
        append(contentsOf: bytes)
        append(contentsOf: [UInt8](repeating: padding, count: count - bytes.count))
    }
}

/// The ACPI checksum byte: the value that makes the sum of `bytes` plus it equal 0 modulo 256.
///
/// Store it in a byte that was 0 while summing (tables) or append it (resource template end tags).
package func acpiChecksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt8 where Bytes.Element == UInt8 {
    0 &- bytes.reduce(UInt8(0), &+)
}
