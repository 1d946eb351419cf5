extension AML {
    // MARK: Namespace

    /// `Name(name, value)` (0x08): binds an already-encoded data object to a name.
    package static func name(_ name: String, _ value: [UInt8]) throws(ACPIError) -> [UInt8] {
        [0x08] + (try nameString(name)) + value
    }

    /// `Scope(path) { terms }` (0x10).
    package static func scope(_ path: String, _ terms: [[UInt8]]) throws(ACPIError) -> [UInt8] {
        [0x10] + (try withPackageLength(nameString(path) + terms.flatMap { $0 }))
    }

    /// `Device(name) { terms }` (ExtOpPrefix 0x5B, 0x82).
    package static func device(_ name: String, _ terms: [[UInt8]]) throws(ACPIError) -> [UInt8] {
        [0x5B, 0x82] + (try withPackageLength(nameString(name) + terms.flatMap { $0 }))
    }

    /// `Method(name, argumentCount, Serialized|NotSerialized, syncLevel) { terms }` (0x14).
    ///
    /// The flags byte holds the argument count (bits 0–2, at most 7), the serialized flag (bit 3)
    /// and the synchronization level (bits 4–7).
    package static func method(
        _ name: String, argumentCount: Int, serialized: Bool, syncLevel: Int = 0, _ terms: [[UInt8]]
    ) throws(ACPIError) -> [UInt8] {
        guard (0...7).contains(argumentCount), (0...15).contains(syncLevel) else {
            throw .invalid("AML method \(name): argument count must be 0...7 and sync level 0...15")
        }
        let flags = UInt8(argumentCount) | (serialized ? 0x08 : 0) | UInt8(syncLevel) << 4
        return [0x14] + (try withPackageLength(nameString(name) + [flags] + terms.flatMap { $0 }))
    }

    // MARK: Statements

    /// `Return(value)` (0xA4).
    package static func returnStatement(_ value: [UInt8]) -> [UInt8] {
        [0xA4] + value
    }

    /// `Notify(object, value)` (0x86); `object` is an encoded name (see ``nameString(_:)``).
    package static func notify(_ object: [UInt8], _ value: [UInt8]) -> [UInt8] {
        [0x86] + object + value
    }

    /// `If (predicate) { terms }` (0xA0).
    package static func ifStatement(_ predicate: [UInt8], _ terms: [[UInt8]]) throws(ACPIError) -> [UInt8] {
        [0xA0] + (try withPackageLength(predicate + terms.flatMap { $0 }))
    }

    /// `Else { terms }` (0xA1); place it right after the ``ifStatement(_:_:)`` it belongs to.
    package static func elseStatement(_ terms: [[UInt8]]) throws(ACPIError) -> [UInt8] {
        [0xA1] + (try withPackageLength(terms.flatMap { $0 }))
    }

    /// `Store(value, target)` (0x70).
    package static func store(_ value: [UInt8], _ target: [UInt8]) -> [UInt8] {
        [0x70] + value + target
    }

    // MARK: Expressions

    /// `LEqual(left, right)` (0x93), ASL+ `left == right`.
    package static func lEqual(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        [0x93] + left + right
    }

    /// `And(left, right, target)` (0x7B); the default target is NullName (result only returned).
    package static func and(_ left: [UInt8], _ right: [UInt8], target: [UInt8] = [0x00]) -> [UInt8] {
        [0x7B] + left + right + target
    }

    /// `LocalN` (0x60–0x67).
    package static func local(_ index: Int) throws(ACPIError) -> [UInt8] {
        guard (0...7).contains(index) else { throw .invalid("AML Local\(index) does not exist (0...7)") }
        return [0x60 + UInt8(index)]
    }

    /// `ArgN` (0x68–0x6E).
    package static func arg(_ index: Int) throws(ACPIError) -> [UInt8] {
        guard (0...6).contains(index) else { throw .invalid("AML Arg\(index) does not exist (0...6)") }
        return [0x68 + UInt8(index)]
    }
}
