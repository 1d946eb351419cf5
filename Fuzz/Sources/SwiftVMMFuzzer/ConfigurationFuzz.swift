@testable import VMM

/// The JSON configuration: decoding and validation of arbitrary bytes end in a configuration
/// or a MachineError, never a trap; a valid configuration encodes and decodes to itself.
enum ConfigurationFuzz {
    static func run(_ bytes: [UInt8]) {
        guard let configuration = try? VirtualMachineConfiguration(json: bytes, source: "fuzz.json") else { return }
        guard (try? configuration.validate()) != nil else { return }
        guard let encoded = try? configuration.jsonBytes() else { preconditionFailure("a valid configuration") }
        let decoded = try? VirtualMachineConfiguration(json: encoded)
        precondition(decoded == configuration, "JSON round trip")
    }
}
