import StrictCoding

/// The `pod.network` section of `swiftvmm launch`'s configuration: how the guest reaches the
/// pod's network. Only the masquerade binding exists (KubeVirt's default): the guest sits on a
/// private subnet behind a tap, declared ports are forwarded from the pod's address to it, and
/// its own traffic leaves through the pod's interface with the pod's address.
public struct PodNetworkConfiguration: Sendable, Equatable {
    /// A port forwarded from the pod's address to the guest.
    public struct Port: Sendable, Equatable {
        /// TCP or UDP.
        public enum TransportProtocol: String, Sendable, CaseIterable { case tcp = "TCP", udp = "UDP" }
        /// A name for logs (a Kubernetes port name).
        public var name: String?
        /// 1 to 65535.
        public var port: Int
        public var transport: TransportProtocol

        public init(name: String? = nil, port: Int, transport: TransportProtocol = .tcp) {
            self.name = name
            self.port = port
            self.transport = transport
        }
    }

    /// The guest's private subnet (default 10.0.2.0/24).
    public var subnet = IPv4Subnet("10.0.2.0/24")!
    /// The host side of the tap: the guest's router and DHCP server (default: the subnet's first
    /// address, 10.0.2.1).
    public var gateway: IPv4Address?
    /// The guest's address, leased by DHCP (default: the subnet's second address, 10.0.2.2).
    public var guest: IPv4Address?
    /// The tap's name (default tap0).
    public var tap = "tap0"
    /// The pod's interface (default: the interface of the pod's default route, eth0).
    public var podInterface: String?
    /// Ports forwarded to the guest; nil forwards every TCP and UDP port (as KubeVirt does when a
    /// VMI declares none), an empty list none.
    public var ports: [Port]?
    /// Forward ICMP echo requests to the pod's address to the guest (ping answers from the guest).
    public var forwardICMP = true
    /// Run the DHCPv4 server on the tap.
    public var dhcp = true
    /// The DHCP lease time.
    public var leaseSeconds: UInt32 = 86_400
    /// The guest's MTU (default: the pod interface's).
    public var mtu: Int?
    /// Destinations the guest may reach although the pod refuses them by default: link-local
    /// addresses (169.254.0.0/16, where cloud metadata services answer) and the pod's own
    /// addresses (the gateway, the pod's IP: its local services and sidecars). Empty by default.
    public var allowedDestinations: [IPv4Subnet] = []

    public init() {}

    /// Throws when a declared TCP port is `port`, where the launcher's HTTP endpoint listens
    /// (`field`, `listen`): the kubelet's probes would go to the guest.
    public func checkDeclaredPorts(avoid port: Int, field: String, listen: String) throws(PodNetworkError) {
        guard let index = (ports ?? []).firstIndex(where: { $0.transport == .tcp && $0.port == port }) else { return }
        throw .invalidValue(
            field: "pod.network.ports[\(index)]", value: "TCP \(port)",
            expected:
                "a port other than \(field)'s (\(listen)), where the launcher's endpoint listens: the kubelet's "
                + "probes must reach the launcher, not the guest; change one of them")
    }

    /// The gateway's address: `gateway` or the subnet's first address.
    public var gatewayAddress: IPv4Address { gateway ?? subnet.address(offset: 1) }
    /// The guest's address: `guest` or the subnet's second address.
    public var guestAddress: IPv4Address { guest ?? subnet.address(offset: 2) }

    /// Checks the values against each other; errors name `pod.network.KEY`.
    public func validate() throws(PodNetworkError) {
        guard subnet.prefixLength <= 30 else {
            throw .invalidValue(
                field: "pod.network.subnet", value: "\(subnet)",
                expected: "a subnet of /30 or larger (it holds the gateway and the guest)")
        }
        guard subnet.isHost(gatewayAddress) else {
            throw .invalidValue(
                field: "pod.network.gateway", value: "\(gatewayAddress)", expected: "a host address in \(subnet)")
        }
        guard subnet.isHost(guestAddress), guestAddress != gatewayAddress else {
            throw .invalidValue(
                field: "pod.network.guest", value: "\(guestAddress)",
                expected: "a host address in \(subnet) other than the gateway \(gatewayAddress)")
        }
        guard Self.isInterfaceName(tap) else {
            throw .invalidValue(
                field: "pod.network.tap", value: tap, expected: "an interface name of 1 to 15 characters")
        }
        if let podInterface, !Self.isInterfaceName(podInterface) {
            throw .invalidValue(
                field: "pod.network.interface", value: podInterface, expected: "an interface name of 1 to 15 characters"
            )
        }
        if let mtu, !(68...65_535).contains(mtu) {
            throw .invalidValue(field: "pod.network.mtu", value: "\(mtu)", expected: "68 to 65535")
        }
        guard leaseSeconds >= 60 else {
            throw .invalidValue(field: "pod.network.lease_seconds", value: "\(leaseSeconds)", expected: "at least 60")
        }
        var seen = Set<String>()
        for (index, port) in (ports ?? []).enumerated() {
            guard (1...65_535).contains(port.port) else {
                throw .invalidValue(
                    field: "pod.network.ports[\(index)].port", value: "\(port.port)", expected: "1 to 65535")
            }
            guard seen.insert("\(port.transport.rawValue)/\(port.port)").inserted else {
                throw .invalidValue(
                    field: "pod.network.ports[\(index)]", value: "\(port.transport.rawValue) \(port.port)",
                    expected: "each protocol and port once")
            }
        }
    }

    /// Whether `name` can name a Linux network interface (1 to 15 bytes, printable ASCII without
    /// white space, '/', ':', quotes or backslashes).
    static func isInterfaceName(_ name: String) -> Bool {
        (1...15).contains(name.utf8.count) && name != "." && name != ".."
            && name.utf8.allSatisfy {
                $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ":")
                    && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\")
            }
    }
}

extension PodNetworkConfiguration: Decodable {
    /// The section's keys; malformed values are errors naming `pod.network.KEY`.
    static let keys: StrictKeys<Self> = [
        .custom("binding") { _, field in
            if let binding = try field.optional(String.self), binding != "masquerade" {
                throw invalid(field, binding, expected: "masquerade (the only binding so far)")
            }
        },
        .field("subnet", \.subnet) { (text: String, field) in
            guard let subnet = IPv4Subnet(text) else {
                throw invalid(field, text, expected: "an IPv4 subnet such as 10.0.2.0/24 (host bits zero)")
            }
            return subnet
        },
        .field("gateway", \.gateway, parse: address), .field("guest", \.guest, parse: address), .field("tap", \.tap),
        .field("interface", \.podInterface), .field("forward_icmp", \.forwardICMP), .field("dhcp", \.dhcp),
        .field("mtu", \.mtu),
        .field("lease_seconds", \.leaseSeconds) { (seconds: Int, field) in
            guard let value = UInt32(exactly: seconds) else {
                throw invalid(field, "\(seconds)", expected: "60 to 4294967295")
            }
            return value
        },
        .field("ports", \.ports),
        .field("allowed_destinations", \.allowedDestinations) { (texts: [String], field) in
            try texts.enumerated().map { index, text throws(PodNetworkError) in
                guard let subnet = IPv4Subnet(text.contains("/") ? text : text + "/32") else {
                    throw .invalidValue(
                        field: "pod.network.\(field.name)[\(index)]", value: text,
                        expected:
                            "an IPv4 address or subnet such as 169.254.169.254 or 169.254.0.0/16 (host bits zero)")
                }
                return subnet
            }
        },
    ]

    /// The section; unknown keys and malformed values are errors naming `pod.network.KEY`.
    public init(from decoder: any Decoder) throws {
        self = try Self.keys.decode(section: "pod.network", decoder, into: Self())
        try validate()
    }

    private static func address(_ text: String, _ field: StrictField) throws -> IPv4Address? {
        guard let address = IPv4Address(text) else {
            throw invalid(field, text, expected: "an IPv4 address such as 10.0.2.1")
        }
        return address
    }

    private static func invalid(_ field: StrictField, _ value: String, expected: String) -> PodNetworkError {
        .invalidValue(field: "pod.network.\(field.name)", value: value, expected: expected)
    }
}

extension PodNetworkConfiguration.Port: Decodable {
    static let keys: StrictKeys<Self> = [
        .field("name", \.name), .required("port", \.port),
        .field("protocol", \.transport) { (text: String, field) in
            guard let value = TransportProtocol(rawValue: text.uppercased()) else {
                throw PodNetworkError.invalidValue(
                    field: "\(section(field.codingPath)).protocol", value: text, expected: "TCP or UDP")
            }
            return value
        },
    ]

    public init(from decoder: any Decoder) throws {
        self = try Self.keys.decode(section: Self.section(decoder.codingPath), decoder, into: Self(port: 0))
    }

    /// `pod.network.ports[INDEX]`, the name of the port at `path`.
    private static func section(_ path: [any CodingKey]) -> String {
        "pod.network.ports" + (path.last?.intValue.map { "[\($0)]" } ?? "")
    }
}

extension StrictKeys {
    /// Decodes a section of the pod network's configuration: an unknown key is a
    /// `PodNetworkError` naming `section.KEY`.
    func decode(section: String, _ decoder: any Decoder, into seed: Root) throws -> Root {
        try decode(decoder, into: seed) { key, expected in
            PodNetworkError.invalidValue(
                field: "\(section).\(key)", value: "(unknown key)",
                expected: "one of \(expected.joined(separator: ", "))")
        }
    }
}
