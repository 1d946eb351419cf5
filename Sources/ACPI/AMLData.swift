/// An encoder for ACPI Machine Language (ACPI 6.5, chapter 20): every function returns the bytes
/// of one AML term, and terms nest by passing those bytes (or arrays of them) to the enclosing one.
///
/// Functions that take names or lengths validate them and throw ``ACPIError/invalid(_:)``.
package enum AML {
    /// ZeroOp: the integer 0.
    package static let zero: [UInt8] = [0x00]
    /// OneOp: the integer 1.
    package static let one: [UInt8] = [0x01]
    /// OnesOp: all bits set (64 bits in a revision-2 table such as ours).
    package static let ones: [UInt8] = [0xFF]

    /// Encodes an integer in its shortest form: Zero, One, Ones (only for `UInt64.max`), else
    /// BytePrefix (0x0A), WordPrefix (0x0B), DWordPrefix (0x0C) or QWordPrefix (0x0E) and the value.
    package static func integer(_ value: UInt64) -> [UInt8] {
        switch value {
        case 0: return zero
        case 1: return one
        case UInt64.max: return ones
        case ...0xFF: return [0x0A, UInt8(value)]
        case ...0xFFFF:
            var bytes: [UInt8] = [0x0B]
            bytes.appendLittleEndian(UInt16(value))
            return bytes
        case ...0xFFFF_FFFF:
            var bytes: [UInt8] = [0x0C]
            bytes.appendLittleEndian(UInt32(value))
            return bytes
        default:
            var bytes: [UInt8] = [0x0E]
            bytes.appendLittleEndian(value)
            return bytes
        }
    }

    /// Encodes a String (0x0D, ASCII 0x01–0x7F, NUL terminator).
    package static func string(_ text: String) throws(ACPIError) -> [UInt8] {
        let bytes = Array(text.utf8)
        guard bytes.allSatisfy({ $0 >= 0x01 && $0 <= 0x7F }) else {
            throw .invalid("AML string \"\(text)\" must be ASCII without NUL")
        }
        return [0x0D] + bytes + [0x00]
    }

    /// Encodes a Buffer (0x11) holding `bytes`, its size given as an integer.
    package static func buffer(_ bytes: [UInt8]) throws(ACPIError) -> [UInt8] {
        [0x11] + (try withPackageLength(integer(UInt64(bytes.count)) + bytes))
    }

    /// Encodes a Package (0x12) of already-encoded elements (integers, strings, buffers, names,
    /// packages); more than 255 elements use VarPackage (0x13) with an integer count.
    package static func package(_ elements: [[UInt8]]) throws(ACPIError) -> [UInt8] {
        let body = elements.flatMap { $0 }
        if elements.count <= 0xFF {
            return [0x12] + (try withPackageLength([UInt8(elements.count)] + body))
        }
        return [0x13] + (try withPackageLength(integer(UInt64(elements.count)) + body))
    }

    /// Encodes the integer form of an EISA ID such as "PNP0501" (see ``eisaID(_:)``).
    package static func eisaIDInteger(_ id: String) throws(ACPIError) -> [UInt8] {
        integer(UInt64(try eisaID(id)))
    }
}
