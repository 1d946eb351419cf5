/// Bounds-checked little-endian reads from a byte array: every read of a file's contents goes
/// through here, so a truncated or hostile file is an error, never a crash.
struct ByteReader {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Reads `Value` at `offset`, or throws naming `what` when it lies past the end.
    func read<Value: FixedWidthInteger>(_ type: Value.Type, at offset: UInt64, _ what: @autoclosure () -> String)
        throws(BootError) -> Value
    {
        let size = UInt64(MemoryLayout<Value>.size)
        guard offset <= UInt64(bytes.count), size <= UInt64(bytes.count) - offset else {
            throw .malformed("\(what()) at file offset \(offset) is past the end of the file (\(bytes.count) bytes)")
        }
        var value: Value = 0
        for index in 0..<Int(size) {
            value |= Value(bytes[Int(offset) + index]) << (8 * index)
        }
        return value
    }

    /// The bytes `[offset, offset + count)`, or throws naming `what`.
    func slice(at offset: UInt64, count: UInt64, _ what: @autoclosure () -> String) throws(BootError) -> ArraySlice<
        UInt8
    > {
        guard offset <= UInt64(bytes.count), count <= UInt64(bytes.count) - offset else {
            throw .malformed(
                "\(what()) (\(count) bytes at file offset \(offset)) extends past the end of the file (\(bytes.count) bytes)"
            )
        }
        return bytes[Int(offset)..<Int(offset + count)]
    }
}
