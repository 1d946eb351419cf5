import FoundationEssentials
import VMM

/// Firecracker's configuration file (`--config-file`), which is also the shape of
/// GET /vm/config (`FullVmConfiguration`): kebab-case sections holding the API's bodies.
public struct FirecrackerConfigFile: Sendable, Equatable, Codable {
    public var resources: FirecrackerResources

    public init(_ resources: FirecrackerResources) { self.resources = resources }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case bootSource = "boot-source"
        case drives
        case machineConfig = "machine-config"
        case networkInterfaces = "network-interfaces"
        case logger, metrics, entropy, serial
        // Firecracker's sections SwiftVMM has no device for (yet): an error when given.
        case balloon
        case cpuConfig = "cpu-config"
        case mmdsConfig = "mmds-config"
        case vsock, pmem
        case memoryHotplug = "memory-hotplug"
    }

    private static let unsupportedSections: [CodingKeys] = [
        .balloon, .cpuConfig, .mmdsConfig, .vsock, .pmem, .memoryHotplug,
    ]

    /// Decodes and checks every section as the API would take it (the same rules and messages).
    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        for section in Self.unsupportedSections where try container.isGiven(section) {
            throw FirecrackerFault.unsupported("the \(section.rawValue) section")
        }
        var resources = FirecrackerResources()
        if let update = try container.optional(MachineConfigurationUpdate.self, .machineConfig) {
            try resources.update(update, replace: true)
        }
        if let source = try container.optional(FirecrackerBootSource.self, .bootSource) {
            try resources.setBootSource(source)
        }
        for drive in try container.optional([FirecrackerDrive].self, .drives) ?? [] {
            try resources.putDrive(drive)
        }
        for interface in try container.optional([FirecrackerNetworkInterface].self, .networkInterfaces) ?? [] {
            try resources.putNetworkInterface(interface)
        }
        resources.entropy = try container.optional(FirecrackerEntropyDevice.self, .entropy)
        resources.serial = try container.optional(FirecrackerSerialDevice.self, .serial)
        resources.logger = try container.optional(FirecrackerLoggerConfiguration.self, .logger)
        resources.metrics = try container.optional(FirecrackerMetricsConfiguration.self, .metrics)
        self.resources = resources
    }

    /// GET /vm/config's body: every section, null where nothing is configured.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(resources.bootSource, forKey: .bootSource)
        try container.encode(resources.drives, forKey: .drives)
        try container.encode(resources.machine, forKey: .machineConfig)
        try container.encode(resources.networkInterfaces, forKey: .networkInterfaces)
        try container.encode(resources.logger, forKey: .logger)
        try container.encode(resources.metrics, forKey: .metrics)
        try container.encode(resources.entropy, forKey: .entropy)
        for section in Self.unsupportedSections { try container.encodeNil(forKey: section) }
    }

    /// Reads and checks the file at `path`; every problem is one line naming the file.
    public init(contentsOfFile path: String) throws(MachineError) {
        let bytes = try HostFile.read(path: path, field: "--config-file")
        try self.init(json: bytes, source: path)
    }

    /// Decodes `json` (`source` names it in errors).
    public init(json: [UInt8], source: String) throws(MachineError) {
        do {
            self = try JSONDecoder().decode(FirecrackerConfigFile.self, from: Data(json))
        } catch let fault as FirecrackerFault where fault.exitStatus == ExitStatus.unreadableFile {
            throw MachineError(code: .fileUnreadable, field: "config", message: "config: '\(source)': \(fault.message)")
        } catch {
            throw .malformedConfigurationFile(path: source, reason: FirecrackerRequestBody.describe(error))
        }
    }
}

/// Decoding of request bodies, with Firecracker's error wording.
enum FirecrackerRequestBody {
    /// Decodes `body` as `Value`; a malformed body is Firecracker's deserialization fault.
    static func decode<Value: Decodable>(_ type: Value.Type, _ body: [UInt8]) throws(FirecrackerFault) -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: Data(body))
        } catch let fault as FirecrackerFault {
            throw fault
        } catch {
            var reason = describe(error)
            while reason.hasSuffix(".") { reason.removeLast() }
            throw FirecrackerFault("An error occurred when deserializing the json body of a request: \(reason).")
        }
    }

    /// One line: the key path and what was wrong, or a fault's own message.
    static func describe(_ error: any Error) -> String {
        if let fault = error as? FirecrackerFault { return fault.message }
        if let decoding = error as? DecodingError { return VirtualMachineConfiguration.describe(decoding) }
        return "not valid JSON (\(error))"
    }
}
