import VMM

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
    public func checkDeclaredPorts(avoid port: Int, field: String, listen: String) throws(MachineError) {
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
    public func validate() throws(MachineError) {
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
    enum CodingKeys: String, CodingKey, CaseIterable {
        case binding, subnet, gateway, guest, tap, ports, dhcp, mtu
        case podInterface = "interface"
        case forwardICMP = "forward_icmp"
        case leaseSeconds = "lease_seconds"
        case allowedDestinations = "allowed_destinations"
    }

    /// The section; unknown keys and malformed values are errors naming `pod.network.KEY`.
    public init(from decoder: any Decoder) throws {
        self.init()
        try StrictKeys.reject(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), prefix: "pod.network")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let binding = try container.decodeIfPresent(String.self, forKey: .binding), binding != "masquerade" {
            throw MachineError.invalidValue(
                field: "pod.network.binding", value: binding, expected: "masquerade (the only binding so far)")
        }
        func address(_ key: CodingKeys) throws -> IPv4Address? {
            guard let text = try container.decodeIfPresent(String.self, forKey: key) else { return nil }
            guard let address = IPv4Address(text) else {
                throw MachineError.invalidValue(
                    field: "pod.network.\(key.rawValue)", value: text, expected: "an IPv4 address such as 10.0.2.1")
            }
            return address
        }
        if let text = try container.decodeIfPresent(String.self, forKey: .subnet) {
            guard let subnet = IPv4Subnet(text) else {
                throw MachineError.invalidValue(
                    field: "pod.network.subnet", value: text,
                    expected: "an IPv4 subnet such as 10.0.2.0/24 (host bits zero)")
            }
            self.subnet = subnet
        }
        gateway = try address(.gateway)
        guest = try address(.guest)
        tap = try container.decodeIfPresent(String.self, forKey: .tap) ?? tap
        podInterface = try container.decodeIfPresent(String.self, forKey: .podInterface)
        forwardICMP = try container.decodeIfPresent(Bool.self, forKey: .forwardICMP) ?? forwardICMP
        dhcp = try container.decodeIfPresent(Bool.self, forKey: .dhcp) ?? dhcp
        mtu = try container.decodeIfPresent(Int.self, forKey: .mtu)
        if let seconds = try container.decodeIfPresent(Int.self, forKey: .leaseSeconds) {
            guard let value = UInt32(exactly: seconds) else {
                throw MachineError.invalidValue(
                    field: "pod.network.lease_seconds", value: "\(seconds)", expected: "60 to 4294967295")
            }
            leaseSeconds = value
        }
        ports = try container.decodeIfPresent([Port].self, forKey: .ports)
        let destinations = try container.decodeIfPresent([String].self, forKey: .allowedDestinations) ?? []
        allowedDestinations = try destinations.enumerated().map { index, text throws(MachineError) in
            let cidr = text.contains("/") ? text : text + "/32"
            guard let subnet = IPv4Subnet(cidr) else {
                throw .invalidValue(
                    field: "pod.network.allowed_destinations[\(index)]", value: text,
                    expected: "an IPv4 address or subnet such as 169.254.169.254 or 169.254.0.0/16 (host bits zero)")
            }
            return subnet
        }
        try validate()
    }
}

extension PodNetworkConfiguration.Port: Decodable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, port
        case transport = "protocol"
    }

    public init(from decoder: any Decoder) throws {
        let index = decoder.codingPath.last?.intValue.map { "[\($0)]" } ?? ""
        try StrictKeys.reject(
            in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), prefix: "pod.network.ports\(index)")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        port = try container.decode(Int.self, forKey: .port)
        let text = try container.decodeIfPresent(String.self, forKey: .transport) ?? "TCP"
        guard let value = TransportProtocol(rawValue: text.uppercased()) else {
            throw MachineError.invalidValue(
                field: "pod.network.ports\(index).protocol", value: text, expected: "TCP or UDP")
        }
        transport = value
    }
}

/// Unknown keys in a strict configuration section.
package enum StrictKeys {
    /// Throws `MachineError.invalidValue` naming `prefix.KEY` for the first key not in `allowed`.
    package static func reject(in decoder: any Decoder, allowed: [String], prefix: String) throws {
        let keys = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue).sorted()
        if let unknown = keys.first(where: { !allowed.contains($0) }) {
            throw MachineError.invalidValue(
                field: "\(prefix).\(unknown)", value: "(unknown key)",
                expected: "one of \(allowed.joined(separator: ", "))")
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
