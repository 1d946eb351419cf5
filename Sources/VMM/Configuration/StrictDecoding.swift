/// A coding key for any string, used to list the keys a JSON object actually has.
package struct AnyCodingKey: CodingKey {
    package var stringValue: String
    package var intValue: Int? { nil }
    package init(stringValue: String) { self.stringValue = stringValue }
    package init?(intValue: Int) { nil }
}

/// Throws a `DecodingError` naming the first key of the object being decoded that is not one
/// of `Keys` — so a misspelled option is an error, never silently ignored.
package func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(in decoder: any Decoder, allowed _: Keys.Type) throws {
    let container = try decoder.container(keyedBy: AnyCodingKey.self)
    // Top-level sections another reader owns (`swiftvmm launch`'s "pod") are left to it.
    let sections = decoder.codingPath.isEmpty ? decoder.userInfo[.configurationSections] as? Set<String> ?? [] : []
    let allowed = Set(Keys.allCases.map(\.stringValue)).union(sections)
    for key in container.allKeys where !allowed.contains(key.stringValue) {
        let expected = Keys.allCases.map(\.stringValue).joined(separator: ", ")
        throw DecodingError.dataCorrupted(
            .init(
                codingPath: container.codingPath + [key],
                debugDescription: "unknown key '\(key.stringValue)' (expected one of: \(expected))"))
    }
}

extension CodingUserInfoKey {
    /// Top-level keys a configuration file may have besides the machine's own (a `Set<String>`).
    static let configurationSections = CodingUserInfoKey(rawValue: "swiftvmm.configurationSections")!
}

/// An error a nested `init(from:)` throws that must reach the caller as it is (its message is
/// already what the user should read), not be rewritten by `optional` / `required`.
package protocol ExplainedDecodingError: Error {}

extension KeyedDecodingContainer {
    /// `decodeIfPresent` whose errors always name the key. (FoundationEssentials throws an
    /// internal, non-DecodingError error for a number that does not fit the type, such as 1.5
    /// for an Int, which would otherwise surface as "not valid JSON" with no path.)
    package func optional<Value: Decodable>(_ type: Value.Type, _ key: Key) throws -> Value? {
        do {
            return try decodeIfPresent(type, forKey: key)
        } catch let error as DecodingError {
            throw error
        } catch let error as any ExplainedDecodingError {
            throw error
        } catch {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: codingPath + [key],
                    debugDescription: "expected \(Value.self), found a value that does not fit"))
        }
    }

    /// `decode` whose errors always name the key (see `optional`).
    package func required<Value: Decodable>(_ type: Value.Type, _ key: Key) throws -> Value {
        guard let value = try optional(type, key) else {
            throw DecodingError.keyNotFound(
                key, .init(codingPath: codingPath, debugDescription: "required key is missing"))
        }
        return value
    }
}
