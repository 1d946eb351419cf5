/// The nftables rules of the masquerade binding, as nft text for libnftables: one table of our
/// own (`ip swiftvmm`), replaced as a whole in one atomic transaction and deleted as a whole.
///
/// - prerouting (DNAT): traffic that arrives on the pod's interface for the pod's address —
///   the declared TCP/UDP ports (or every port but the launcher's own when none are declared)
///   and ICMP echo requests — goes to the guest;
/// - output (DNAT): the same for connections made inside the pod to the pod's address;
/// - postrouting (masquerade): the guest's traffic leaving through the pod's interface takes the
///   pod's address.
public struct NFTablesRuleset: Sendable, Equatable {
    /// The table's name (family ip).
    public static let tableName = "swiftvmm"

    public var podInterface: String
    public var podAddress: IPv4Address
    public var guestSubnet: IPv4Subnet
    public var guestAddress: IPv4Address
    /// The declared ports; nil forwards every TCP and UDP port except `reservedTCPPorts`.
    public var ports: [PodNetworkConfiguration.Port]?
    /// TCP ports the launcher itself listens on at the pod's address (never forwarded).
    public var reservedTCPPorts: [Int]
    public var forwardICMP: Bool

    public init(
        podInterface: String, podAddress: IPv4Address, guestSubnet: IPv4Subnet, guestAddress: IPv4Address,
        ports: [PodNetworkConfiguration.Port]?, reservedTCPPorts: [Int] = [], forwardICMP: Bool
    ) {
        self.podInterface = podInterface
        self.podAddress = podAddress
        self.guestSubnet = guestSubnet
        self.guestAddress = guestAddress
        self.ports = ports
        self.reservedTCPPorts = reservedTCPPorts
        self.forwardICMP = forwardICMP
    }

    /// The transaction that creates (or replaces) the table.
    public var createCommands: String {
        // `add` then `delete` makes the delete succeed whether or not the table existed; the
        // whole buffer is one transaction.
        var lines = [
            "add table ip \(Self.tableName)",
            "delete table ip \(Self.tableName)",
            "table ip \(Self.tableName) {",
            "  chain prerouting {",
            "    type nat hook prerouting priority -100; policy accept;",
        ]
        let match = "iifname \(quoted(podInterface)) ip daddr \(podAddress)"
        lines += forwardingRules.map { "    \(match) \($0) dnat to \(guestAddress)" }
        lines += [
            "  }",
            "  chain output {",
            "    type nat hook output priority -100; policy accept;",
        ]
        lines += forwardingRules.map { "    ip daddr \(podAddress) \($0) dnat to \(guestAddress)" }
        lines += [
            "  }",
            "  chain postrouting {",
            "    type nat hook postrouting priority 100; policy accept;",
            "    ip saddr \(guestSubnet) oifname \(quoted(podInterface)) masquerade",
            "  }",
            "}",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// The transaction that removes the table (nothing else is touched).
    public static var deleteCommands: String {
        "add table ip \(tableName)\ndelete table ip \(tableName)\n"
    }

    /// The match part of each DNAT rule.
    var forwardingRules: [String] {
        var rules: [String] = []
        if let ports {
            for transport in PodNetworkConfiguration.Port.TransportProtocol.allCases {
                let numbers = ports.filter { $0.transport == transport }.map(\.port).sorted()
                guard !numbers.isEmpty else { continue }
                rules.append("\(transport.rawValue.lowercased()) dport \(set(numbers))")
            }
        } else {
            let reserved = Array(Set(reservedTCPPorts)).sorted()
            rules.append(reserved.isEmpty ? "meta l4proto tcp" : "tcp dport != \(set(reserved))")
            rules.append("meta l4proto udp")
        }
        if forwardICMP { rules.append("icmp type echo-request") }
        return rules
    }

    private func set(_ numbers: [Int]) -> String {
        numbers.count == 1 ? "\(numbers[0])" : "{ \(numbers.map(String.init).joined(separator: ", ")) }"
    }

    /// An interface name as an nft string literal (quotes and backslashes, which no name we
    /// accept holds, are dropped rather than escaped).
    private func quoted(_ name: String) -> String {
        "\"" + String(name.filter { $0 != "\"" && $0 != "\\" }) + "\""
    }
}
