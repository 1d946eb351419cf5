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

    enum CodingKeys: String, CodingKey, CaseIterable {
        case vcpuCount = "vcpu_count"
        case memSizeMiB = "mem_size_mib"
        case smt
        case trackDirtyPages = "track_dirty_pages"
        case hugePages = "huge_pages"
        case cpuTemplate = "cpu_template"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(vcpuCount, forKey: .vcpuCount)
        try container.encode(memSizeMiB, forKey: .memSizeMiB)
        try container.encode(smt, forKey: .smt)
        try container.encode(trackDirtyPages, forKey: .trackDirtyPages)
        try container.encode(hugePages, forKey: .hugePages)
    }
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

    typealias CodingKeys = FirecrackerMachineConfiguration.CodingKeys

    init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        vcpuCount = try container.optional(Int.self, .vcpuCount)
        memSizeMiB = try container.optional(Int.self, .memSizeMiB)
        smt = try container.optional(Bool.self, .smt)
        trackDirtyPages = try container.optional(Bool.self, .trackDirtyPages)
        hugePages = try container.optional(FirecrackerMachineConfiguration.HugePages.self, .hugePages)
        cpuTemplate = try container.optional(String.self, .cpuTemplate)
    }

    var isEmpty: Bool {
        vcpuCount == nil && memSizeMiB == nil && smt == nil && trackDirtyPages == nil && hugePages == nil
            && cpuTemplate == nil
    }
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

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kernelImagePath = "kernel_image_path"
        case bootArgs = "boot_args"
        case initrdPath = "initrd_path"
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kernelImagePath = try container.required(String.self, .kernelImagePath)
        bootArgs = try container.optional(String.self, .bootArgs)
        initrdPath = try container.optional(String.self, .initrdPath)
    }
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

    enum CodingKeys: String, CodingKey, CaseIterable {
        case driveID = "drive_id"
        case pathOnHost = "path_on_host"
        case isRootDevice = "is_root_device"
        case isReadOnly = "is_read_only"
        case partUUID = "partuuid"
        case cacheType = "cache_type"
        case ioEngine = "io_engine"
        case rateLimiter = "rate_limiter"
        case socket
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        driveID = try container.required(String.self, .driveID)
        isRootDevice = try container.required(Bool.self, .isRootDevice)
        if try container.isGiven(.socket) { throw FirecrackerFault.unsupported("vhost-user drives (socket)") }
        if try container.isGiven(.rateLimiter) { throw FirecrackerFault.unsupported("drive rate limiters") }
        pathOnHost = try container.required(String.self, .pathOnHost)
        isReadOnly = try container.optional(Bool.self, .isReadOnly) ?? false
        partUUID = try container.optional(String.self, .partUUID)
        cacheType = try container.optional(CacheType.self, .cacheType) ?? .noFlush
        ioEngine = try container.optional(IOEngine.self, .ioEngine) ?? .sync
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(driveID, forKey: .driveID)
        try container.encode(pathOnHost, forKey: .pathOnHost)
        try container.encode(isRootDevice, forKey: .isRootDevice)
        try container.encode(isReadOnly, forKey: .isReadOnly)
        try container.encodeIfPresent(partUUID, forKey: .partUUID)
        try container.encode(cacheType, forKey: .cacheType)
        try container.encode(ioEngine, forKey: .ioEngine)
    }
}

/// `PartialDrive`: what may change on a running machine's drive.
struct PartialDrive: Decodable, Equatable {
    var driveID: String
    var pathOnHost: String?

    typealias CodingKeys = FirecrackerDrive.CodingKeys

    init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: PartialKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        driveID = try container.required(String.self, .driveID)
        if try container.isGiven(.rateLimiter) { throw FirecrackerFault.unsupported("drive rate limiters") }
        pathOnHost = try container.optional(String.self, .pathOnHost)
    }

    enum PartialKeys: String, CodingKey, CaseIterable {
        case driveID = "drive_id"
        case pathOnHost = "path_on_host"
        case rateLimiter = "rate_limiter"
    }
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

    enum CodingKeys: String, CodingKey, CaseIterable {
        case ifaceID = "iface_id"
        case hostDevName = "host_dev_name"
        case guestMAC = "guest_mac"
        case mtu
        case rxRateLimiter = "rx_rate_limiter"
        case txRateLimiter = "tx_rate_limiter"
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        ifaceID = try container.required(String.self, .ifaceID)
        hostDevName = try container.required(String.self, .hostDevName)
        guestMAC = try container.optional(String.self, .guestMAC)
        mtu = try container.optional(Int.self, .mtu)
        if try container.isGiven(.rxRateLimiter) || container.isGiven(.txRateLimiter) {
            throw FirecrackerFault.unsupported("network rate limiters")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ifaceID, forKey: .ifaceID)
        try container.encode(hostDevName, forKey: .hostDevName)
        try container.encodeIfPresent(guestMAC, forKey: .guestMAC)
        try container.encodeIfPresent(mtu, forKey: .mtu)
    }
}

/// `PartialNetworkInterface`: only rate limiters change after boot, which SwiftVMM has not.
struct PartialNetworkInterface: Decodable, Equatable {
    var ifaceID: String

    enum CodingKeys: String, CodingKey, CaseIterable {
        case ifaceID = "iface_id"
        case rxRateLimiter = "rx_rate_limiter"
        case txRateLimiter = "tx_rate_limiter"
    }

    init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        ifaceID = try container.required(String.self, .ifaceID)
        if try container.isGiven(.rxRateLimiter) || container.isGiven(.txRateLimiter) {
            throw FirecrackerFault.unsupported("network rate limiters")
        }
    }
}

/// `InstanceActionInfo`.
struct InstanceAction: Decodable, Equatable {
    enum Kind: String, Decodable {
        case flushMetrics = "FlushMetrics"
        case instanceStart = "InstanceStart"
        case sendCtrlAltDel = "SendCtrlAltDel"
    }

    var actionType: Kind

    enum CodingKeys: String, CodingKey, CaseIterable { case actionType = "action_type" }

    init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: CodingKeys.self)
        actionType = try decoder.container(keyedBy: CodingKeys.self).required(Kind.self, .actionType)
    }
}

/// `Vm`: the state PATCH /vm asks for.
struct VMStateChange: Decodable, Equatable {
    enum State: String, Decodable {
        case paused = "Paused"
        case resumed = "Resumed"
    }

    var state: State

    enum CodingKeys: String, CodingKey, CaseIterable { case state }

    init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: CodingKeys.self)
        state = try decoder.container(keyedBy: CodingKeys.self).required(State.self, .state)
    }
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

    enum CodingKeys: String, CodingKey, CaseIterable {
        case logPath = "log_path"
        case level
        case showLevel = "show_level"
        case showLogOrigin = "show_log_origin"
        case module
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        logPath = try container.optional(String.self, .logPath)
        if let text = try container.optional(String.self, .level) {
            // Case-insensitive, as Firecracker reads it.
            guard let level = Level.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
                throw FirecrackerFault(
                    "Invalid logger level: '\(text)'; expected Error, Warning, Info, Debug, Trace or Off.")
            }
            self.level = level
        }
        showLevel = try container.optional(Bool.self, .showLevel)
        showLogOrigin = try container.optional(Bool.self, .showLogOrigin)
        module = try container.optional(String.self, .module)
    }
}

/// `Metrics`: the file Firecracker-style JSON metric lines are written to.
public struct FirecrackerMetricsConfiguration: Sendable, Equatable, Codable {
    public var metricsPath: String

    public init(metricsPath: String) { self.metricsPath = metricsPath }

    enum CodingKeys: String, CodingKey, CaseIterable { case metricsPath = "metrics_path" }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: CodingKeys.self)
        metricsPath = try decoder.container(keyedBy: CodingKeys.self).required(String.self, .metricsPath)
    }
}

/// `EntropyDevice`: a virtio-rng device.
public struct FirecrackerEntropyDevice: Sendable, Equatable, Codable {
    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable { case rateLimiter = "rate_limiter" }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: CodingKeys.self)
        if try decoder.container(keyedBy: CodingKeys.self).isGiven(.rateLimiter) {
            throw FirecrackerFault.unsupported("entropy rate limiters")
        }
    }

    public func encode(to encoder: any Encoder) throws { _ = encoder.container(keyedBy: CodingKeys.self) }
}

/// `SerialDevice`: where the guest's serial console goes.
public struct FirecrackerSerialDevice: Sendable, Equatable, Codable {
    public var serialOutPath: String?

    public init(serialOutPath: String? = nil) { self.serialOutPath = serialOutPath }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case serialOutPath = "serial_out_path"
        case rateLimiter = "rate_limiter"
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if try container.isGiven(.rateLimiter) { throw FirecrackerFault.unsupported("serial rate limiters") }
        serialOutPath = try container.optional(String.self, .serialOutPath)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(serialOutPath, forKey: .serialOutPath)
    }
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

extension KeyedDecodingContainer {
    /// Whether `key` is present with a value other than null.
    func isGiven(_ key: Key) throws -> Bool {
        guard contains(key) else { return false }
        return try !decodeNil(forKey: key)
    }
}
