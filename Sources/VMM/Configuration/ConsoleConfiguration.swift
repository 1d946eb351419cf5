/// Where the guest's console (the serial port) goes.
public enum ConsoleConfiguration: Sendable, Equatable, Codable, CustomStringConvertible {
    /// This process's standard output (and input from standard input).
    case stdio
    /// Appended to a file.
    case file(path: String)
    /// Discarded.
    case none

    /// Parses the command-line form: `stdio`, `none` or `file=PATH`.
    public init(argument: String) throws(ConfigurationError) {
        switch argument {
        case "stdio": self = .stdio
        case "none": self = .none
        case let text where text.hasPrefix("file="):
            let path = String(text.dropFirst("file=".count))
            guard !path.isEmpty else {
                throw .invalidValue(field: "console", value: argument, expected: "file=PATH with a non-empty PATH")
            }
            self = .file(path: path)
        default:
            throw .invalidValue(field: "console", value: argument, expected: "stdio, none or file=PATH")
        }
    }

    /// The command-line form.
    public var description: String {
        switch self {
        case .stdio: return "stdio"
        case .none: return "none"
        case .file(let path): return "file=\(path)"
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try ConsoleConfiguration(argument: text)
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
