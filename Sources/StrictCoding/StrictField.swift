/// The value of one key of the object being decoded, for the key's decoding closure.
package struct StrictField {
    let container: KeyedDecodingContainer<AnyCodingKey>
    let key: AnyCodingKey

    /// The key's name.
    package var name: String { key.stringValue }
    /// The path of the object that holds the key.
    package var codingPath: [any CodingKey] { container.codingPath }

    /// Whether the key is present (null included).
    package var isPresent: Bool { container.contains(key) }

    /// Whether the key is present with a value other than null.
    package func isGiven() throws -> Bool {
        guard container.contains(key) else { return false }
        return try !container.decodeNil(forKey: key)
    }

    /// The value, nil when the key is left out or null; every error names the key.
    /// (FoundationEssentials throws an internal, non-DecodingError error for a number that does
    /// not fit the type, such as 1.5 for an Int, which would otherwise surface as "not valid
    /// JSON" with no path.)
    package func optional<Value: Decodable>(_ type: Value.Type) throws -> Value? {
        do {
            return try container.decodeIfPresent(type, forKey: key)
        } catch let error as DecodingError {
            throw error
        } catch let error as any ExplainedDecodingError {
            throw error
        } catch {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: container.codingPath + [key],
                    debugDescription: "expected \(Value.self), found a value that does not fit"))
        }
    }

    /// The value; "PATH.KEY: required key is missing" when it is left out or null.
    package func required<Value: Decodable>(_ type: Value.Type) throws -> Value {
        guard let value = try optional(type) else {
            throw DecodingError.keyNotFound(
                key, .init(codingPath: container.codingPath, debugDescription: "required key is missing"))
        }
        return value
    }
}

/// An error a nested `init(from:)` (or a key's parse closure) throws that must reach the caller
/// as it is (its message is already what the user should read), not be rewritten as a value
/// that does not fit.
package protocol ExplainedDecodingError: Error {}

/// A coding key for any string, used to list the keys a JSON object actually has.
package struct AnyCodingKey: CodingKey, Sendable {
    package var stringValue: String
    package var intValue: Int? { nil }
    package init(_ name: String) { stringValue = name }
    package init(stringValue: String) { self.stringValue = stringValue }
    package init?(intValue: Int) { nil }
}

extension CodingUserInfoKey {
    /// Top-level keys a configuration file may have besides the decoded type's own (a
    /// `Set<String>`): sections another reader of the same file owns (`swiftvmm launch`'s "pod").
    package static let configurationSections = CodingUserInfoKey(rawValue: "swiftvmm.configurationSections")!
}

extension DecodingError {
    /// One line naming the key path and what was wrong: "disks[0].path: required key is missing".
    package var oneLineDescription: String {
        func path(_ context: Context) -> String {
            var text = ""
            for key in context.codingPath {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += (text.isEmpty ? "" : ".") + key.stringValue
                }
            }
            return text.isEmpty ? "top level" : text
        }
        switch self {
        case .typeMismatch(let type, let context):
            return "\(path(context)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "\(path(context)): expected \(type), found null"
        case .keyNotFound(let key, let context):
            let prefix = context.codingPath.isEmpty ? "" : path(context) + "."
            return "\(prefix)\(key.stringValue): required key is missing"
        case .dataCorrupted(let context):
            var detail = ""
            if let underlying = context.underlyingError { detail = " (\(underlying))" }
            return "\(path(context)): \(context.debugDescription)\(detail)"
        @unknown default:
            return "\(self)"
        }
    }
}

/// An `Optional` seen through `Any`, for leaving nil values out when encoding.
protocol OptionalValue {
    var isNil: Bool { get }
}

extension Optional: OptionalValue {
    var isNil: Bool { self == nil }
}
