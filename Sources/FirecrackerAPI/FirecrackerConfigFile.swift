import FoundationEssentials
import StrictCoding
import VMM

/// Firecracker's configuration file (`--config-file`), which is also the shape of
/// GET /vm/config (`FullVmConfiguration`): kebab-case sections holding the API's bodies.
public struct FirecrackerConfigFile: Sendable, Equatable, Codable {
    public var resources: FirecrackerResources

    public init(_ resources: FirecrackerResources) { self.resources = resources }

    /// The sections, each decoded and checked as the API would take it (the same rules and
    /// messages); Firecracker's sections SwiftVMM has no device for (yet) are an error when given.
    static let sections: StrictKeys<FirecrackerResources> = [
        unsupported("balloon"), unsupported("cpu-config"), unsupported("mmds-config"), unsupported("vsock"),
        unsupported("pmem"), unsupported("memory-hotplug"),
        .custom("machine-config") { resources, field in
            if let update = try field.optional(MachineConfigurationUpdate.self) {
                try resources.update(update, replace: true)
            }
        },
        .custom("boot-source") { resources, field in
            if let source = try field.optional(FirecrackerBootSource.self) { try resources.setBootSource(source) }
        },
        .custom("drives") { resources, field in
            for drive in try field.optional([FirecrackerDrive].self) ?? [] { try resources.putDrive(drive) }
        },
        .custom("network-interfaces") { resources, field in
            for interface in try field.optional([FirecrackerNetworkInterface].self) ?? [] {
                try resources.putNetworkInterface(interface)
            }
        },
        .field("entropy", \.entropy), .field("serial", \.serial), .field("logger", \.logger),
        .field("metrics", \.metrics),
    ]

    private static func unsupported(_ section: String) -> StrictKey<FirecrackerResources> {
        .unsupported(section, FirecrackerFault.unsupported("the \(section) section"))
    }

    public init(from decoder: any Decoder) throws {
        resources = try Self.sections.decode(decoder, into: FirecrackerResources())
    }

    /// GET /vm/config's body: every section but the serial device, null where nothing is configured.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        let sections: [(String, (any Encodable)?)] = [
            ("boot-source", resources.bootSource), ("drives", resources.drives), ("machine-config", resources.machine),
            ("network-interfaces", resources.networkInterfaces), ("logger", resources.logger),
            ("metrics", resources.metrics), ("entropy", resources.entropy),
        ]
        for (name, value) in sections + Self.sections.keys.filter(\.isUnsupported).map({ ($0.name, nil) }) {
            if let value {
                try container.encode(value, forKey: AnyCodingKey(name))
            } else {
                try container.encodeNil(forKey: AnyCodingKey(name))
            }
        }
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
        if let decoding = error as? DecodingError { return decoding.oneLineDescription }
        return "not valid JSON (\(error))"
    }
}
