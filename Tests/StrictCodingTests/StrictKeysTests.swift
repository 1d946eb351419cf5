import FoundationEssentials
import StrictCoding
import Testing

/// A table with every kind of key, decoded from JSON as the configuration types are.
private struct Sample: Codable, Equatable {
    var name: String
    var count = 1
    var note: String?
    var level = 0

    static let keys: StrictKeys<Self> = [
        .unsupported("limiter", Refusal(message: "no limiters")),
        .required("name", \.name), .field("count", \.count), .field("note", \.note),
        .field("level", \.level) { (level: Int, field) in
            guard (0...9).contains(level) else { throw Refusal(message: "\(field.name): '\(level)'") }
            return level
        },
    ]

    init(name: String, count: Int = 1, note: String? = nil, level: Int = 0) {
        (self.name, self.count, self.note, self.level) = (name, count, note, level)
    }

    init(from decoder: any Decoder) throws { self = try Self.keys.decode(decoder, into: Self(name: "")) }

    func encode(to encoder: any Encoder) throws { try Self.keys.encode(self, to: encoder) }
}

private struct Refusal: ExplainedDecodingError, Equatable {
    var message: String
}

/// An object holding a list of samples, for key paths through arrays.
private struct Outer: Decodable {
    var samples: [Sample] = []
    static let keys: StrictKeys<Self> = [.field("samples", \.samples)]
    init() {}
    init(from decoder: any Decoder) throws { self = try Self.keys.decode(decoder, into: Self()) }
}

@Suite struct StrictKeysTests {
    private func decode<Value: Decodable>(
        _ type: Value.Type, _ json: String, sections: Set<String> = []
    ) throws -> Value {
        let decoder = JSONDecoder()
        decoder.userInfo[.configurationSections] = sections
        return try decoder.decode(type, from: Data(json.utf8))
    }

    /// The one line a configuration error shows, or the refusal's message.
    private func failure<Value: Decodable>(_ type: Value.Type, _ json: String) -> String? {
        do {
            _ = try decode(type, json)
            return nil
        } catch let error as DecodingError {
            return error.oneLineDescription
        } catch let error as Refusal {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func keysLeftOutKeepTheSeedsValues() throws {
        #expect(try decode(Sample.self, #"{"name": "a"}"#) == Sample(name: "a"))
        #expect(try decode(Sample.self, #"{"name": "a", "count": null, "note": null}"#) == Sample(name: "a"))
        #expect(
            try decode(Sample.self, #"{"name": "a", "count": 3, "note": "n", "level": 7, "limiter": null}"#)
                == Sample(name: "a", count: 3, note: "n", level: 7))
    }

    @Test(arguments: [
        (
            #"{"name": "a", "cuont": 2}"#,
            "cuont: unknown key 'cuont' (expected one of: name, count, note, level, limiter)"
        ),
        (#"{"samples": [{"name": "a"}, {"name": "b", "x": 1}]}"#, "samples[1].x: unknown key 'x'"),
        (#"{"z": 1, "b": 2}"#, "b: unknown key 'b'"),
        (#"{"count": 2}"#, "name: required key is missing"),
        (#"{"samples": [{"name": null}]}"#, "samples[0].name: required key is missing"),
        (#"{"name": "a", "count": "two"}"#, "count: expected Int"),
        (#"{"name": "a", "count": 1.5}"#, "count: expected Int, found a value that does not fit"),
        (#"{"name": "a", "level": 12}"#, "level: '12'"),
        (#"{"limiter": {}}"#, "no limiters"),
        (#"{"name": 5, "limiter": 1}"#, "no limiters"),
        (#"[1]"#, "top level: expected"),
    ])
    func errorsAreOneLineNamingTheKey(json: String, expected: String) {
        let type: any Decodable.Type = json.contains("samples") || json.hasPrefix(#"{"z""#) ? Outer.self : Sample.self
        let message = failure(type, json)
        #expect(message?.hasPrefix(expected) == true, "\(json) → \(message ?? "accepted")")
    }

    @Test func topLevelSectionsAreLeftToTheirReader() throws {
        #expect(try decode(Sample.self, #"{"name": "a", "pod": {}}"#, sections: ["pod"]) == Sample(name: "a"))
        // Only at the top level.
        let nested = #"{"samples": [{"name": "a", "pod": {}}]}"#
        #expect(throws: DecodingError.self) { try decode(Outer.self, nested, sections: ["pod"]) }
    }

    @Test func aCustomUnknownKeyError() {
        let decoder = JSONDecoder()
        struct Custom: Decodable {
            var name = ""
            init(from decoder: any Decoder) throws {
                let keys: StrictKeys<Self> = [.field("name", \.name), .unsupported("old", Refusal(message: "old"))]
                self = try keys.decode(decoder, into: .init()) { key, expected in
                    Refusal(message: "section.\(key) not in \(expected)")
                }
            }
            init() {}
        }
        #expect(throws: Refusal(message: #"section.nmae not in ["name", "old"]"#)) {
            try decoder.decode(Custom.self, from: Data(#"{"nmae": 1}"#.utf8))
        }
    }

    @Test func encodingWritesTheTablesKeysAndLeavesNilOut() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(Sample(name: "a", level: 2)), as: UTF8.self)
        #expect(text == #"{"count":1,"level":2,"name":"a"}"#)
        let sample = Sample(name: "b", count: 4, note: "n", level: 9)
        #expect(try JSONDecoder().decode(Sample.self, from: try encoder.encode(sample)) == sample)
    }
}
