import FoundationEssentials
import PodNetwork
import StrictCoding
import VMM

/// What `swiftvmm launch` adds to a VM configuration: the `pod` section of its configuration
/// file (a mounted ConfigMap) and the pod's environment (downward API and overrides).
public struct PodSettings: Sendable, Equatable {
    /// Seconds the guest has to power off after SIGTERM before the stop is forced; keep it below
    /// the pod's `terminationGracePeriodSeconds` (the kubelet's SIGKILL comes then).
    public var graceSeconds: Double = 25
    /// Boot the guest again when it reboots (KubeVirt's default), instead of ending the pod.
    public var rebootInPlace = true
    /// Memory the launcher needs besides guest RAM, for the fit check against the memory limit.
    public var memoryOverheadMiB = PodSettings.defaultMemoryOverheadMiB
    /// How long a partial console line waits before it is written anyway (a login prompt).
    public var consoleIdleFlushMilliseconds = 200
    /// The pod network (masquerade binding: tap, nftables, DHCP); nil runs without one.
    public var network: PodNetworkConfiguration?
    /// Where the HTTP endpoint (/healthz, /readyz, /metrics) listens, `HOST:PORT`; nil: off.
    public var httpListen: String? = PodSettings.defaultHTTPListen
    /// The unix socket `swiftvmm probe` asks (exec probes); nil: none.
    public var probeSocket: String? = PodSettings.defaultProbeSocket
    /// Readiness: a console line matching this regular expression (instead of the boot timer).
    public var readyConsolePattern: String?
    /// Readiness: the guest accepts TCP connections on this port (through the pod network).
    public var readyTCPPort: Int?

    /// The endpoint's default address: every interface of the pod, port 8080.
    public static let defaultHTTPListen = "0.0.0.0:8080"
    /// Where `swiftvmm probe` finds the launcher by default.
    public static let defaultProbeSocket = "/run/swiftvmm/probe.sock"
    /// The pod's name (`SWIFTVMM_POD_NAME`, downward API `metadata.name`).
    public var podName: String?
    /// The pod's namespace (`SWIFTVMM_POD_NAMESPACE`).
    public var podNamespace: String?
    /// The pod's IP address (`SWIFTVMM_POD_IP`, downward API `status.podIP`).
    public var podIP: String?
    /// The container's memory limit in bytes (`SWIFTVMM_MEMORY_LIMIT`, downward API
    /// `resourceFieldRef: limits.memory`); the cgroup's limit is read as well.
    public var memoryLimitBytes: UInt64?

    /// The launcher's own memory besides guest RAM, measured (docs/performance.md, "Launch in a pod").
    public static let defaultMemoryOverheadMiB = 64

    public init() {}

    /// The environment variables `launch` reads, with what each means.
    public static let environmentVariables: [(name: String, meaning: String)] = [
        ("SWIFTVMM_POD_NAME", "the pod's name (downward API metadata.name); the VM's name and log metadata"),
        ("SWIFTVMM_POD_NAMESPACE", "the pod's namespace (downward API metadata.namespace); log metadata"),
        ("SWIFTVMM_POD_IP", "the pod's IP address (downward API status.podIP)"),
        ("SWIFTVMM_MEMORY_LIMIT", "the container's memory limit in bytes (downward API limits.memory)"),
        ("SWIFTVMM_VCPUS", "overrides vcpus"),
        ("SWIFTVMM_MEMORY_MIB", "overrides memory_mib"),
        ("SWIFTVMM_GRACE_SECONDS", "overrides pod.grace_seconds"),
    ]
}

extension PodSettings {
    /// The TCP port of `httpListen` (`HOST:PORT`), kept out of the pod network's forwarding.
    public var httpPort: Int? {
        guard let listen = httpListen, let colon = listen.lastIndex(of: ":") else { return nil }
        return Int(listen[listen.index(after: colon)...])
    }
}

/// A launch's whole input: the VM configuration and the pod settings.
public struct LaunchConfiguration: Sendable, Equatable {
    public var machine: VirtualMachineConfiguration
    public var pod: PodSettings

    /// The longest grace period `pod.grace_seconds` and `SWIFTVMM_GRACE_SECONDS` accept (a day).
    static let maximumGraceSeconds = 86_400.0

    public init(machine: VirtualMachineConfiguration = VirtualMachineConfiguration(), pod: PodSettings = PodSettings())
    {
        self.machine = machine
        self.pod = pod
    }

    /// Reads the configuration file at `path` (the VM configuration's keys plus `pod`), then
    /// applies `environment`. Every error names the key or variable and the bad value.
    public init(file path: String, environment: [String: String]) throws(MachineError) {
        // Opened without blocking and type-checked on the open descriptor (a named pipe at the
        // path is refused at once), as every file a configuration names.
        try self.init(json: try HostFile.read(path: path, field: "--config"), source: path, environment: environment)
    }

    /// Parses `json` (named `source` in errors) — once: the machine's keys and the `pod`
    /// section in one pass — and applies `environment`.
    public init(json: [UInt8], source: String, environment: [String: String]) throws(MachineError) {
        let file: LaunchFile
        do {
            let decoder = JSONDecoder()
            // The machine's keys are read by VirtualMachineConfiguration, which leaves `pod` to LaunchFile.
            decoder.userInfo[.configurationSections] = Set(["pod"])
            file = try decoder.decode(LaunchFile.self, from: Data(json))
        } catch let error as MachineError {
            throw error
        } catch let error as PodNetworkError {
            throw MachineError(error)
        } catch let error as DecodingError {
            throw .malformedConfigurationFile(path: source, reason: error.oneLineDescription)
        } catch {
            throw .malformedConfigurationFile(path: source, reason: "\(error)")
        }
        machine = file.machine
        pod = file.pod ?? PodSettings()
        try apply(environment)
        if let network = pod.network, let listen = pod.httpListen, let port = pod.httpPort {
            do { try network.checkDeclaredPorts(avoid: port, field: "pod.http_listen", listen: listen) } catch {
                throw MachineError(error)
            }
        }
    }

    /// Applies the environment variables (`PodSettings.environmentVariables`).
    mutating func apply(_ environment: [String: String]) throws(MachineError) {
        func value(_ name: String) -> String? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            return text
        }
        if let name = value("SWIFTVMM_POD_NAME") {
            guard name.count <= 253, name.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." }) else {
                throw .invalidValue(
                    field: "SWIFTVMM_POD_NAME", value: name,
                    expected: "a Kubernetes name (lowercase letters, digits, - and .)")
            }
            pod.podName = name
            if machine.name == VirtualMachineConfiguration().name { machine.name = name }
        }
        pod.podNamespace = value("SWIFTVMM_POD_NAMESPACE")
        if let address = value("SWIFTVMM_POD_IP") {
            guard IPAddressText.isValid(address) else {
                throw .invalidValue(field: "SWIFTVMM_POD_IP", value: address, expected: "an IPv4 or IPv6 address")
            }
            pod.podIP = address
        }
        if let limit = value("SWIFTVMM_MEMORY_LIMIT") {
            guard let bytes = UInt64(limit), bytes > 0 else {
                throw .invalidValue(
                    field: "SWIFTVMM_MEMORY_LIMIT", value: limit,
                    expected: "bytes (downward API limits.memory, divisor 1)")
            }
            pod.memoryLimitBytes = bytes
        }
        if let vcpus = value("SWIFTVMM_VCPUS") {
            guard let count = Int(vcpus), count >= 1 else {
                throw .invalidValue(field: "SWIFTVMM_VCPUS", value: vcpus, expected: "a whole number of vCPUs ≥ 1")
            }
            machine.vcpuCount = count
        }
        if let memory = value("SWIFTVMM_MEMORY_MIB") {
            guard let mib = Int(memory), mib >= 1 else {
                throw .invalidValue(field: "SWIFTVMM_MEMORY_MIB", value: memory, expected: "a whole number of MiB ≥ 1")
            }
            machine.memoryMiB = mib
        }
        if let grace = value("SWIFTVMM_GRACE_SECONDS") {
            // The range of pod.grace_seconds: a pod's grace is minutes, never centuries.
            guard let seconds = Double(grace), (0...Self.maximumGraceSeconds).contains(seconds) else {
                throw .invalidValue(
                    field: "SWIFTVMM_GRACE_SECONDS", value: grace,
                    expected: "seconds from 0 to \(Int(Self.maximumGraceSeconds))")
            }
            pod.graceSeconds = seconds
        }
    }
}

/// `launch`'s configuration file: the machine's keys and the `pod` section, in one object.
struct LaunchFile: Decodable {
    var machine: VirtualMachineConfiguration
    var pod: PodSettings?

    enum CodingKeys: String, CodingKey { case pod }

    init(from decoder: any Decoder) throws {
        // Every key but `pod` is the machine's (the decoder's configurationSections names `pod`).
        machine = try VirtualMachineConfiguration(from: decoder)
        pod = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(PodSettings.self, forKey: .pod)
    }
}

extension PodSettings: Decodable {
    /// The `pod` section's keys; values out of range are errors naming `pod.KEY`.
    static let keys: StrictKeys<Self> = [
        .field("grace_seconds", \.graceSeconds, parse: within(0...LaunchConfiguration.maximumGraceSeconds)),
        .field("memory_overhead_mib", \.memoryOverheadMiB, parse: within(0...(1 << 20))),
        .field("console_idle_flush_ms", \.consoleIdleFlushMilliseconds, parse: within(1...60_000)),
        .field("reboot_in_place", \.rebootInPlace),
        .field("network", \.network), orOff("http_listen", \.httpListen), orOff("probe_socket", \.probeSocket),
        .field("ready_console", \.readyConsolePattern),
        .field("ready_tcp_port", \.readyTCPPort, parse: within(1...65_535)),
    ]

    /// The `pod` section; unknown keys and values out of range are errors naming `pod.KEY`.
    public init(from decoder: any Decoder) throws {
        self = try Self.keys.decode(decoder, into: PodSettings()) { key, expected in
            MachineError.invalidValue(
                field: "pod.\(key)", value: "(unknown key)", expected: "one of \(expected.joined(separator: ", "))")
        }
        if readyConsolePattern != nil, readyTCPPort != nil {
            throw MachineError.invalidValue(
                field: "pod.ready_tcp_port", value: "\(readyTCPPort ?? 0)",
                expected: "one readiness rule: ready_console or ready_tcp_port, not both")
        }
    }

    /// A value checked against `range`.
    private static func within<Value: Comparable & Sendable>(_ range: ClosedRange<Value>)
        -> @Sendable (Value, StrictField) throws -> Value
    {
        { value, field in
            guard range.contains(value) else {
                throw MachineError.invalidValue(
                    field: "pod.\(field.name)", value: "\(value)",
                    expected: "a value from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
    }

    /// A string with a default that an empty string or null turns off (nil).
    private static func orOff(_ name: String, _ path: WritableKeyPath<Self, String?> & Sendable) -> StrictKey<Self> {
        .custom(name) { settings, field in
            guard field.isPresent else { return }
            settings[keyPath: path] = try field.optional(String.self).flatMap { $0.isEmpty ? nil : $0 }
        }
    }
}

/// Textual IP addresses.
enum IPAddressText {
    /// Whether `text` is a dotted-quad IPv4 address or an IPv6 address.
    static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4 {
            return parts.allSatisfy { part in
                guard let value = UInt8(part), part.count <= 3 else { return false }
                return String(value) == part
            }
        }
        let groups = text.split(separator: ":", omittingEmptySubsequences: false)
        return text.contains(":") && groups.count >= 3 && groups.count <= 8
            && groups.allSatisfy { $0.count <= 4 && $0.allSatisfy(\.isHexDigit) }
            && text.components(separatedBy: "::").count <= 2
    }
}

extension MachineError {
    /// A pod network value the configuration file gives that the pod network refuses: an invalid
    /// value naming its key (exit status 10, as every invalid value).
    init(_ error: PodNetworkError) {
        self.init(code: .invalidValue, field: error.field, message: error.message)
    }
}

extension PodNetworkError {
    /// The exit status of `launch` for this error (`ExitStatus`): an invalid value is status 10
    /// as any other, a set-up failure `ExitStatus.podNetwork` (18).
    var exitStatus: Int32 {
        switch code {
        case .invalidValue: return ExitStatus.invalidArgument
        case .setUpFailed: return ExitStatus.podNetwork
        }
    }
}
