import FoundationEssentials
import StrictCoding

extension VirtualMachineConfiguration {
    /// Decodes a configuration from JSON (snake_case keys; unknown keys are rejected, except
    /// the top-level `sections` that another reader of the same file owns, such as `pod`).
    public init(json: [UInt8], source: String = "JSON", sections: Set<String> = []) throws(MachineError) {
        do {
            let decoder = JSONDecoder()
            decoder.userInfo[.configurationSections] = sections
            self = try decoder.decode(VirtualMachineConfiguration.self, from: Data(json))
        } catch let error as DecodingError {
            throw .malformedConfigurationFile(path: source, reason: error.oneLineDescription)
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
}

/// A machine error thrown while decoding (a pod section's value out of range) reaches the caller as it is.
extension MachineError: ExplainedDecodingError {}
