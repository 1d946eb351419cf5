/// Where the guest's console (the serial port) goes.
public enum ConsoleConfiguration: Sendable, Equatable, Codable, CustomStringConvertible {
    /// This process's standard output (and input from standard input).
    case stdio
    /// Appended to a file, at most `limitMiB` MiB per run (nil: 1024); past that one notice
    /// line is written and the rest of the guest's output is dropped.
    case file(path: String, limitMiB: UInt64? = nil)
    /// Discarded.
    case none

    /// Parses the command-line form: `stdio`, `none` or `file=PATH[,limit_mib=N]`.
    public init(argument: String) throws(ConfigurationError) {
        switch argument {
        case "stdio": self = .stdio
        case "none": self = .none
        case let text where text.hasPrefix("file="):
            var path = String(text.dropFirst("file=".count))
            var limitMiB: UInt64?
            let marker = ",limit_mib="
            if let start = path.indices.last(where: { path[$0...].hasPrefix(marker) }) {
                let value = String(path[start...].dropFirst(marker.count))
                guard let limit = UInt64(value), limit >= 1, limit <= 1 << 20 else {
                    throw .invalidValue(
                        field: "console limit_mib", value: value, expected: "a size in MiB from 1 to 1048576")
                }
                limitMiB = limit
                path = String(path[..<start])
            }
            guard !path.isEmpty else {
                throw .invalidValue(field: "console", value: argument, expected: "file=PATH with a non-empty PATH")
            }
            self = .file(path: path, limitMiB: limitMiB)
        default:
            throw .invalidValue(field: "console", value: argument, expected: "stdio, none or file=PATH[,limit_mib=N]")
        }
    }

    /// The size cap of a console file, in bytes.
    public var fileLimitBytes: UInt64? {
        guard case .file(_, let limitMiB) = self else { return nil }
        return (limitMiB ?? Self.defaultFileLimitMiB) << 20
    }

    /// The console file cap when none is given (1 GiB).
    public static let defaultFileLimitMiB: UInt64 = 1024

    /// The command-line form.
    public var description: String {
        switch self {
        case .stdio: return "stdio"
        case .none: return "none"
        case .file(let path, let limitMiB): return "file=\(path)" + (limitMiB.map { ",limit_mib=\($0)" } ?? "")
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
