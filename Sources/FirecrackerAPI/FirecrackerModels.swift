import StrictCoding
import VMM

// The request and response bodies of Firecracker's API (swagger 2.0, v1.x definitions), with
// Firecracker's snake_case field names. Decoding is strict: an unknown field is an error (as
// with Firecracker's serde `deny_unknown_fields`), and so is a field SwiftVMM cannot honour
// (rate limiters, vhost-user, CPU templates): never a silent success.

/// An API failure: HTTP 400 with `{"fault_message": message}`.
public struct FirecrackerFault: ExplainedDecodingError, Sendable, Equatable, CustomStringConvertible {
    /// The fault message, in Firecracker's words where Firecracker has words for it.
    public var message: String
    /// The exit status when the fault ends `swiftvmm` (a bad `--config-file`).
    public var exitStatus: Int32

    public init(_ message: String, exitStatus: Int32 = ExitStatus.invalidArgument) {
        self.message = message
        self.exitStatus = exitStatus
    }

    /// A machine error as a fault, keeping its exit status.
    public init(_ error: MachineError) {
        self.init(error.description, exitStatus: error.exitStatus)
    }

    public var description: String { message }

    static let postBoot = FirecrackerFault("The requested operation is not supported after starting the microVM.")
    static let preBoot = FirecrackerFault("The requested operation is not supported before starting the microVM.")

    /// A field or feature Firecracker has and SwiftVMM does not (yet).
    static func unsupported(_ what: String) -> FirecrackerFault {
        FirecrackerFault("SwiftVMM does not support \(what) yet.")
    }
}

/// `MachineConfiguration`: vCPUs, memory and the options around them.
public struct FirecrackerMachineConfiguration: Sendable, Equatable, Encodable {
    /// Guest memory backing (`huge_pages`).
    public enum HugePages: String, Sendable, Codable {
        case none = "None"
        case transparent = "Transparent"
        case twoMiB = "2M"
    }

    public var vcpuCount = 1
    public var memSizeMiB = VirtualMachineConfiguration.defaultMemoryMiB
    public var smt = false
    public var trackDirtyPages = false
    public var hugePages = HugePages.none

    public init() {}

    /// The body of GET /machine-config.
    static let keys: StrictKeys<Self> = [
        .field("vcpu_count", \.vcpuCount), .field("mem_size_mib", \.memSizeMiB), .field("smt", \.smt),
        .field("track_dirty_pages", \.trackDirtyPages), .field("huge_pages", \.hugePages),
    ]

    public func encode(to encoder: any Encoder) throws { try Self.keys.encode(self, to: encoder) }
}

/// A PUT (every required field, the rest back to defaults) or PATCH (only what is given) of
/// the machine configuration.
struct MachineConfigurationUpdate: Decodable, Equatable {
    var vcpuCount: Int?
    var memSizeMiB: Int?
    var smt: Bool?
    var trackDirtyPages: Bool?
    var hugePages: FirecrackerMachineConfiguration.HugePages?
    var cpuTemplate: String?

    static let keys: StrictKeys<Self> = [
        .field("vcpu_count", \.vcpuCount), .field("mem_size_mib", \.memSizeMiB), .field("smt", \.smt),
        .field("track_dirty_pages", \.trackDirtyPages), .field("huge_pages", \.hugePages),
        .field("cpu_template", \.cpuTemplate),
    ]

    init() {}

    init(from decoder: any Decoder) throws { self = try Self.keys.decode(decoder, into: Self()) }

    var isEmpty: Bool { self == Self() }
}

/// `BootSource`: the kernel, its command line and initrd.
public struct FirecrackerBootSource: Sendable, Equatable, Codable {
    public var kernelImagePath: String
    public var bootArgs: String?
    public var initrdPath: String?

    public init(kernelImagePath: String, bootArgs: String? = nil, initrdPath: String? = nil) {
        self.kernelImagePath = kernelImagePath
        self.bootArgs = bootArgs
        self.initrdPath = initrdPath
    }

    static let keys: StrictKeys<Self> = [
        .required("kernel_image_path", \.kernelImagePath), .field("boot_args", \.bootArgs),
        .field("initrd_path", \.initrdPath),
    ]

    public init(from decoder: any Decoder) throws {
        self = try Self.keys.decode(decoder, into: Self(kernelImagePath: ""))
    }

    public func encode(to encoder: any Encoder) throws { try Self.keys.encode(self, to: encoder) }
}

/// `Drive`: a virtio-blk disk.
public struct FirecrackerDrive: Sendable, Equatable, Codable {
    public enum CacheType: String, Sendable, Codable {
        /// Firecracker's default, where it does not offer FLUSH to the guest; SwiftVMM offers it
        /// anyway (see docs/firecracker-api.md).
        case noFlush = "Unsafe"
        case writeback = "Writeback"
    }

    public enum IOEngine: String, Sendable, Codable {
        case sync = "Sync"
        case async = "Async"
    }

    public var driveID: String
    public var pathOnHost: String
    public var isRootDevice: Bool
    public var isReadOnly: Bool
    public var partUUID: String?
    public var cacheType: CacheType
    public var ioEngine: IOEngine

    public init(
        driveID: String, pathOnHost: String, isRootDevice: Bool = false, isReadOnly: Bool = false,
        partUUID: String? = nil, cacheType: CacheType = .noFlush, ioEngine: IOEngine = .sync
    ) {
        self.driveID = driveID
        self.pathOnHost = pathOnHost
        self.isRootDevice = isRootDevice
        self.isReadOnly = isReadOnly
        self.partUUID = partUUID
        self.cacheType = cacheType
        self.ioEngine = ioEngine
    }

    static let keys: StrictKeys<Self> = [
        .required("drive_id", \.driveID), .required("is_root_device", \.isRootDevice),
        .unsupported("socket", FirecrackerFault.unsupported("vhost-user drives (socket)")),
        .unsupported("rate_limiter", FirecrackerFault.unsupported("drive rate limiters")),
        .required("path_on_host", \.pathOnHost), .field("is_read_only", \.isReadOnly),
        .field("partuuid", \.partUUID), .field("cache_type", \.cacheType), .field("io_engine", \.ioEngine),
    ]

    public init(from decoder: any Decoder) throws {
        self = try Self.keys.decode(decoder, into: Self(driveID: "", pathOnHost: ""))
    }

    public func encode(to encoder: any Encoder) throws { try Self.keys.encode(self, to: encoder) }
}

/// `PartialDrive`: what may change on a running machine's drive.
struct PartialDrive: Equatable {
    var driveID: String
    var pathOnHost: String?
}

extension PartialDrive: Decodable {
    static let keys: StrictKeys<Self> = [
        .required("drive_id", \.driveID),
        .unsupported("rate_limiter", FirecrackerFault.unsupported("drive rate limiters")),
        .field("path_on_host", \.pathOnHost),
    ]

    init(from decoder: any Decoder) throws { self = try Self.keys.decode(decoder, into: Self(driveID: "")) }
}

/// `NetworkInterface`: a virtio-net NIC on a host tap.
public struct FirecrackerNetworkInterface: Sendable, Equatable, Codable {
    public var ifaceID: String
    public var hostDevName: String
    public var guestMAC: String?
    public var mtu: Int?

    public init(ifaceID: String, hostDevName: String, guestMAC: String? = nil, mtu: Int? = nil) {
        self.ifaceID = ifaceID
        self.hostDevName = hostDevName
        self.guestMAC = guestMAC
        self.mtu = mtu
    }

    static let keys: StrictKeys<Self> = [
        .required("iface_id", \.ifaceID), .required("host_dev_name", \.hostDevName), .field("guest_mac", \.guestMAC),
        .field("mtu", \.mtu), .unsupported("rx_rate_limiter", FirecrackerFault.unsupported("network rate limiters")),
        .unsupported("tx_rate_limiter", FirecrackerFault.unsupported("network rate limiters")),
    ]

    public init(from decoder: any Decoder) throws {
        self = try Self.keys.decode(decoder, into: Self(ifaceID: "", hostDevName: ""))
    }

    public func encode(to encoder: any Encoder) throws { try Self.keys.encode(self, to: encoder) }
}

/// `PartialNetworkInterface`: only rate limiters change after boot, which SwiftVMM has not.
struct PartialNetworkInterface: Equatable {
    var ifaceID: String
}

extension PartialNetworkInterface: Decodable {
    static let keys: StrictKeys<Self> = [
        .required("iface_id", \.ifaceID),
        .unsupported("rx_rate_limiter", FirecrackerFault.unsupported("network rate limiters")),
        .unsupported("tx_rate_limiter", FirecrackerFault.unsupported("network rate limiters")),
    ]

    init(from decoder: any Decoder) throws { self = try Self.keys.decode(decoder, into: Self(ifaceID: "")) }
}

/// `InstanceActionInfo`.
struct InstanceAction: Equatable {
    enum Kind: String, Decodable {
        case flushMetrics = "FlushMetrics"
        case instanceStart = "InstanceStart"
        case sendCtrlAltDel = "SendCtrlAltDel"
    }

    var actionType: Kind
}

extension InstanceAction: Decodable {
    static let keys: StrictKeys<Self> = [.required("action_type", \.actionType)]

    init(from decoder: any Decoder) throws {
        self = try Self.keys.decode(decoder, into: Self(actionType: .flushMetrics))
    }
}

/// `Vm`: the state PATCH /vm asks for.
struct VMStateChange: Equatable {
    enum State: String, Decodable {
        case paused = "Paused"
        case resumed = "Resumed"
    }

    var state: State
}

extension VMStateChange: Decodable {
    static let keys: StrictKeys<Self> = [.required("state", \.state)]

    init(from decoder: any Decoder) throws { self = try Self.keys.decode(decoder, into: Self(state: .paused)) }
}

/// `Logger`: where and how the VMM's log lines go.
public struct FirecrackerLoggerConfiguration: Sendable, Equatable, Codable {
    public enum Level: String, Sendable, Codable, CaseIterable {
        case error = "Error"
        case warning = "Warning"
        case info = "Info"
        case debug = "Debug"
        case trace = "Trace"
        case off = "Off"
    }

    public var logPath: String?
    public var level: Level?
    public var showLevel: Bool?
    public var showLogOrigin: Bool?
    public var module: String?

    public init() {}

    static let keys: StrictKeys<Self> = [
        .field("log_path", \.logPath),
        .field("level", \.level) { (text: String, _) in
            // Case-insensitive, as Firecracker reads it.
            guard let level = Level.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
                throw FirecrackerFault(
                    "Invalid logger level: '\(text)'; expected Error, Warning, Info, Debug, Trace or Off.")
            }
            return level
        },
        .field("show_level", \.showLevel), .field("show_log_origin", \.showLogOrigin), .field("module", \.module),
    ]

    public init(from decoder: any Decoder) throws { self = try Self.keys.decode(decoder, into: Self()) }

    public func encode(to encoder: any Encoder) throws { try Self.keys.encode(self, to: encoder) }
}

/// `Metrics`: the file Firecracker-style JSON metric lines are written to.
public struct FirecrackerMetricsConfiguration: Sendable, Equatable, Codable {
    public var metricsPath: String

    public init(metricsPath: String) { self.metricsPath = metricsPath }

    static let keys: StrictKeys<Self> = [.required("metrics_path", \.metricsPath)]

    public init(from decoder: any Decoder) throws { self = try Self.keys.decode(decoder, into: Self(metricsPath: "")) }

    public func encode(to encoder: any Encoder) throws { try Self.keys.encode(self, to: encoder) }
}

/// `EntropyDevice`: a virtio-rng device.
public struct FirecrackerEntropyDevice: Sendable, Equatable, Codable {
    public init() {}

    static let keys: StrictKeys<Self> = [
        .unsupported("rate_limiter", FirecrackerFault.unsupported("entropy rate limiters"))
    ]

    public init(from decoder: any Decoder) throws { self = try Self.keys.decode(decoder, into: Self()) }

    public func encode(to encoder: any Encoder) throws { try Self.keys.encode(self, to: encoder) }
}

/// `SerialDevice`: where the guest's serial console goes.
public struct FirecrackerSerialDevice: Sendable, Equatable, Codable {
    public var serialOutPath: String?

    public init(serialOutPath: String? = nil) { self.serialOutPath = serialOutPath }

    static let keys: StrictKeys<Self> = [
        .unsupported("rate_limiter", FirecrackerFault.unsupported("serial rate limiters")),
        .field("serial_out_path", \.serialOutPath),
    ]

    public init(from decoder: any Decoder) throws { self = try Self.keys.decode(decoder, into: Self()) }

    public func encode(to encoder: any Encoder) throws { try Self.keys.encode(self, to: encoder) }
}

/// `InstanceInfo`: the answer to GET /.
struct InstanceInfo: Encodable, Equatable {
    var id: String
    var state: String
    var vmmVersion: String
    var appName: String

    enum CodingKeys: String, CodingKey {
        case id, state
        case vmmVersion = "vmm_version"
        case appName = "app_name"
    }
}
