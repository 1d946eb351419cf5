import FoundationEssentials

extension VirtualMachineConfiguration {
    /// Decodes a configuration from JSON (snake_case keys; unknown keys are rejected, except
    /// the top-level `sections` that another reader of the same file owns, such as `pod`).
    public init(json: [UInt8], source: String = "JSON", sections: Set<String> = []) throws(MachineError) {
        do {
            let decoder = JSONDecoder()
            decoder.userInfo[.configurationSections] = sections
            self = try decoder.decode(VirtualMachineConfiguration.self, from: Data(json))
        } catch let error as DecodingError {
            throw .malformedConfigurationFile(path: source, reason: Self.describe(error))
        } catch {
            throw .malformedConfigurationFile(path: source, reason: "\(error)")
        }
    }

    /// Reads and decodes the JSON configuration file at `path`.
    public init(contentsOfJSONFile path: String) throws(MachineError) {
        let bytes = try HostFile.read(path: path, field: "config")
        try self.init(json: bytes, source: path)
    }

    /// Encodes the configuration as JSON, in the form `init(json:)` reads.
    public func jsonBytes() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return [UInt8](try encoder.encode(self))
    }

    /// One line naming the key path and what was wrong.
    package static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
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
        switch error {
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
            return "\(error)"
        }
    }
}
