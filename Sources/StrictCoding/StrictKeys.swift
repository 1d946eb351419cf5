/// The keys of a JSON object decoded strictly, each declared once: its name and the property it
/// fills. Decoding rejects a key the table lacks (a misspelled option is an error, never silently
/// ignored), then decodes the keys in table order (which decides the error a value with several
/// faults gets) into a seed value that holds the defaults. Encoding writes the same keys in the
/// same order.
///
///     static let keys: StrictKeys<Disk> = [.required("path", \.path), .field("read_only", \.readOnly)]
///     init(from decoder: any Decoder) throws { self = try Self.keys.decode(decoder, into: Disk(path: "")) }
///     func encode(to encoder: any Encoder) throws { try Self.keys.encode(self, to: encoder) }
package struct StrictKeys<Root>: Sendable, ExpressibleByArrayLiteral {
    package let keys: [StrictKey<Root>]

    package init(arrayLiteral keys: StrictKey<Root>...) { self.keys = keys }

    /// The key names a message lists: the supported ones, then those known but not supported.
    package var expected: [String] {
        keys.filter { !$0.isUnsupported }.map(\.name) + keys.filter(\.isUnsupported).map(\.name)
    }

    /// Decodes the object `decoder` holds into `seed`. A key not in the table throws
    /// `unknownKey(key, expected)`, or by default a `DecodingError` whose one line reads
    /// "PATH.KEY: unknown key 'KEY' (expected one of: ...)". At the top level, the keys in the
    /// decoder's `configurationSections` are left to the other reader that owns them.
    package func decode(
        _ decoder: any Decoder, into seed: Root, unknownKey: ((_ key: String, _ expected: [String]) -> any Error)? = nil
    ) throws -> Root {
        let container = try decoder.container(keyedBy: AnyCodingKey.self)
        let sections = decoder.codingPath.isEmpty ? decoder.userInfo[.configurationSections] as? Set<String> ?? [] : []
        let known = Set(keys.map(\.name)).union(sections)
        if let key = container.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            if let unknownKey { throw unknownKey(key, expected) }
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: container.codingPath + [AnyCodingKey(key)],
                    debugDescription: "unknown key '\(key)' (expected one of: \(expected.joined(separator: ", ")))"))
        }
        var value = seed
        for key in keys {
            try key.decode(&value, StrictField(container: container, key: AnyCodingKey(key.name)))
        }
        return value
    }

    /// Encodes `value` as an object of the table's keys (an absent optional is left out; a key
    /// without a property, such as an unsupported one, is never written).
    package func encode(_ value: Root, to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        for key in keys { try key.encode?(value, &container) }
    }
}

/// One key of a `StrictKeys` table.
package struct StrictKey<Root>: Sendable {
    /// The key as the JSON spells it.
    package let name: String
    /// Known but not supported: given with a value other than null, decoding throws.
    package let isUnsupported: Bool
    let decode: @Sendable (inout Root, StrictField) throws -> Void
    let encode: (@Sendable (Root, inout KeyedEncodingContainer<AnyCodingKey>) throws -> Void)?

    /// A key that may be left out (or null): the seed's value stays.
    package static func field<Value: Decodable>(_ name: String, _ path: WritableKeyPath<Root, Value> & Sendable)
        -> Self
    {
        .init(
            name: name, isUnsupported: false,
            decode: { if let value = try $1.optional(Value.self) { $0[keyPath: path] = value } },
            encode: encoder(name, path))
    }

    /// An optional property: nil when the key is left out or null; left out when encoded nil.
    package static func field<Value: Decodable>(_ name: String, _ path: WritableKeyPath<Root, Value?> & Sendable)
        -> Self
    {
        .init(
            name: name, isUnsupported: false, decode: { $0[keyPath: path] = try $1.optional(Value.self) },
            encode: encoder(name, path))
    }

    /// A key that must be given: "PATH.KEY: required key is missing" when it is not.
    package static func required<Value: Decodable>(_ name: String, _ path: WritableKeyPath<Root, Value> & Sendable)
        -> Self
    {
        .init(
            name: name, isUnsupported: false, decode: { $0[keyPath: path] = try $1.required(Value.self) },
            encode: encoder(name, path))
    }

    /// A key read as `Raw` and turned into the property's value by `parse` (which throws the
    /// message for a value out of range); left out or null, the seed's value stays.
    package static func field<Raw: Decodable, Value>(
        _ name: String, _ path: WritableKeyPath<Root, Value> & Sendable,
        parse: @escaping @Sendable (Raw, StrictField) throws -> Value
    ) -> Self {
        .init(
            name: name, isUnsupported: false,
            decode: { root, field in
                if let raw = try field.optional(Raw.self) { root[keyPath: path] = try parse(raw, field) }
            }, encode: encoder(name, path))
    }

    /// A key known but not supported: given with a value other than null, it throws `error`;
    /// never encoded.
    package static func unsupported(_ name: String, _ error: @escaping @autoclosure @Sendable () -> any Error) -> Self {
        .init(name: name, isUnsupported: true, decode: { if try $1.isGiven() { throw error() } }, encode: nil)
    }

    /// A key with its own decoding (`decode` reads the field and updates the value); never encoded.
    package static func custom(_ name: String, _ decode: @escaping @Sendable (inout Root, StrictField) throws -> Void)
        -> Self
    {
        .init(name: name, isUnsupported: false, decode: decode, encode: nil)
    }

    /// Encodes the property at `path` under `name` when its value is Encodable (and not nil).
    private static func encoder<Value>(_ name: String, _ path: KeyPath<Root, Value> & Sendable)
        -> @Sendable (Root, inout KeyedEncodingContainer<AnyCodingKey>) throws -> Void
    {
        { root, container in
            let value = root[keyPath: path]
            if let optional = value as? any OptionalValue, optional.isNil { return }
            guard let value = value as? any Encodable else { return }
            try container.encode(value, forKey: AnyCodingKey(name))
        }
    }
}
