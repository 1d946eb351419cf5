/// The address space of an `OperationRegion`.
package enum AMLRegionSpace: UInt8, Sendable {
    case systemMemory = 0x00
    case systemIO = 0x01
}

/// A field's access width (FieldFlags bits 0–3).
package enum AMLFieldAccess: UInt8, Sendable {
    case any = 0, byte = 1, word = 2, dword = 3, qword = 4, buffer = 5
}

/// What a write does to the bits of the access unit a field does not cover (FieldFlags bits 5–6).
package enum AMLFieldUpdate: UInt8, Sendable {
    case preserve = 0, writeAsOnes = 1, writeAsZeros = 2
}

/// One element of a `Field` list.
package enum AMLFieldElement: Sendable, Equatable {
    /// A named field of `bits` bits, following the previous element.
    case named(String, bits: Int)
    /// `Offset()`-style skip: `bits` unnamed bits.
    case reserved(bits: Int)
}

extension AML {
    /// `OperationRegion(name, space, offset, length)` (ExtOpPrefix 0x5B, 0x80).
    package static func operationRegion(
        _ name: String, space: AMLRegionSpace, offset: UInt64, length: UInt64
    ) throws(ACPIError) -> [UInt8] {
        [0x5B, 0x80] + (try nameString(name)) + [space.rawValue] + integer(offset) + integer(length)
    }

    /// `Field(region, access, NoLock|Lock, update) { elements }` (ExtOpPrefix 0x5B, 0x81).
    ///
    /// Each named field is a NameSeg followed by its width in bits, encoded as a raw PkgLength.
    package static func field(
        _ region: String, access: AMLFieldAccess, lock: Bool = false, update: AMLFieldUpdate = .preserve,
        _ elements: [AMLFieldElement]
    ) throws(ACPIError) -> [UInt8] {
        var list: [UInt8] = []
        for element in elements {
            switch element {
            case .named(let name, let bits):
                guard bits > 0 else { throw .invalid("AML field \(name) must be at least one bit wide") }
                list += try nameSegment(name) + packageLength(bits)
            case .reserved(let bits):
                guard bits > 0 else { throw .invalid("AML reserved field must be at least one bit wide") }
                list += [0x00] + (try packageLength(bits))
            }
        }
        let flags = access.rawValue | (lock ? 0x10 : 0) | update.rawValue << 5
        return [0x5B, 0x81] + (try withPackageLength(nameString(region) + [flags] + list))
    }
}
