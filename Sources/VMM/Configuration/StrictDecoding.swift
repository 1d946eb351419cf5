/// A coding key for any string, used to list the keys a JSON object actually has.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Throws a `DecodingError` naming the first key of the object being decoded that is not one
/// of `Keys` — so a misspelled option is an error, never silently ignored.
func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(in decoder: any Decoder, allowed _: Keys.Type) throws {
    let container = try decoder.container(keyedBy: AnyCodingKey.self)
    let allowed = Set(Keys.allCases.map(\.stringValue))
    for key in container.allKeys where !allowed.contains(key.stringValue) {
        let expected = Keys.allCases.map(\.stringValue).joined(separator: ", ")
        throw DecodingError.dataCorrupted(
            .init(
                codingPath: container.codingPath + [key],
                debugDescription: "unknown key '\(key.stringValue)' (expected one of: \(expected))"))
    }
}
