/// Where the guest's console (the serial port) goes, and where its input comes from.
public enum ConsoleConfiguration: Sendable, Equatable, Codable, CustomStringConvertible {
    /// This process's standard output. Standard input is not read (use
    /// `.fileDescriptor(read: 0, write: 1)` for an interactive console, as `swiftvmm run` does).
    case stdio
    /// Output and input as Swift streams: `Machine.console` (a `MachineConsole`).
    case stream
    /// Output written to `write` and input read from `read` (a terminal, pipe or socket); either
    /// may be nil. The descriptors stay the caller's: the machine neither closes them nor
    /// changes their flags, and it reads and writes them only while it runs.
    case fileDescriptor(read: Int32?, write: Int32?)
    /// Appended to a file, at most `limitMiB` MiB per run (nil: 1024); past that one notice
    /// line is written and the rest of the guest's output is dropped.
    case file(path: String, limitMiB: UInt64? = nil)
    /// Discarded.
    case none

    /// Parses the command-line form: `stdio`, `none`, `stream`, `fd=READ,WRITE` (either may be
    /// `-`) or `file=PATH[,limit_mib=N]`.
    public init(argument: String) throws(MachineError) {
        switch argument {
        case "stdio": self = .stdio
        case "none": self = .none
        case "stream": self = .stream
        case let text where text.hasPrefix("fd="):
            let parts = text.dropFirst("fd=".count).split(separator: ",", omittingEmptySubsequences: false)
            func descriptor(_ part: Substring) throws(MachineError) -> Int32? {
                if part == "-" { return nil }
                guard let value = Int32(part), value >= 0 else {
                    throw .invalidValue(
                        field: "console", value: argument, expected: "fd=READ,WRITE with descriptor numbers ≥ 0 or -")
                }
                return value
            }
            guard parts.count == 2 else {
                throw .invalidValue(field: "console", value: argument, expected: "fd=READ,WRITE (e.g. fd=0,1)")
            }
            self = .fileDescriptor(read: try descriptor(parts[0]), write: try descriptor(parts[1]))
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
            throw .invalidValue(
                field: "console", value: argument,
                expected: "stdio, none, stream, fd=READ,WRITE or file=PATH[,limit_mib=N]")
        }
    }

    /// The size cap of a console file, in bytes.
    public var fileLimitBytes: UInt64? {
        guard case .file(_, let limitMiB) = self else { return nil }
        return Mebibytes.bytes(limitMiB ?? Self.defaultFileLimitMiB) ?? .max
    }

    /// The console file cap when none is given (1 GiB).
    public static let defaultFileLimitMiB: UInt64 = 1024

    /// The command-line form.
    public var description: String {
        switch self {
        case .stdio: return "stdio"
        case .none: return "none"
        case .stream: return "stream"
        case .fileDescriptor(let read, let write):
            return "fd=\(read.map(String.init) ?? "-"),\(write.map(String.init) ?? "-")"
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
