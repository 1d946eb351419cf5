/// The nftables rules of the masquerade binding, as nft text for libnftables: one table of our
/// own (`inet swiftvmm`), replaced as a whole in one atomic transaction (a restarted container
/// meets the table its previous run left: the launcher holds no capability at exit to remove
/// it). The pod is a boundary:
///
/// - from the guest (the tap): IPv6 is dropped (the tap takes no router advertisement, no
///   address); a source address other than the guest's is dropped (DHCP's 0.0.0.0 excepted);
///   the pod itself — the gateway, the pod's addresses, every local service and sidecar — is
///   reached only by DHCP and by replies to connections the pod opened to the guest; forwarded
///   traffic leaves only through the pod's interface, masqueraded; link-local addresses
///   (169.254.0.0/16: cloud metadata services) are refused, except the lease's DNS servers on
///   port 53 and `allowedDestinations`. Refusals are REJECTs, so probes fail fast.
/// - to the guest: only what the pod's address DNATs to it — the declared TCP/UDP ports (every
///   port but the launcher's own when none are declared) and ICMP echo — and replies to its
///   own connections; nothing else is forwarded to it (a neighbour routing the guest's subnet
///   through the pod's address reaches nothing).
public struct NFTablesRuleset: Sendable, Equatable {
    /// The table's name (family inet).
    public static let tableName = "swiftvmm"

    public var tap: String
    public var podInterface: String
    public var podAddress: IPv4Address
    public var guestSubnet: IPv4Subnet
    public var guestAddress: IPv4Address
    /// The declared ports; nil forwards every TCP and UDP port except `reservedTCPPorts`.
    public var ports: [PodNetworkConfiguration.Port]?
    /// TCP ports the launcher itself listens on at the pod's address (never forwarded).
    public var reservedTCPPorts: [Int]
    public var forwardICMP: Bool
    /// The lease's DNS servers: always reachable on port 53 (NodeLocal DNSCache listens on a
    /// link-local address).
    public var dnsServers: [IPv4Address]
    /// Destinations the guest may reach although they are link-local or the pod's own
    /// (`pod.network.allowed_destinations`).
    public var allowedDestinations: [IPv4Subnet]

    public init(
        tap: String = "tap0", podInterface: String, podAddress: IPv4Address, guestSubnet: IPv4Subnet,
        guestAddress: IPv4Address, ports: [PodNetworkConfiguration.Port]?, reservedTCPPorts: [Int] = [],
        forwardICMP: Bool, dnsServers: [IPv4Address] = [], allowedDestinations: [IPv4Subnet] = []
    ) {
        self.tap = tap
        self.podInterface = podInterface
        self.podAddress = podAddress
        self.guestSubnet = guestSubnet
        self.guestAddress = guestAddress
        self.ports = ports
        self.reservedTCPPorts = reservedTCPPorts
        self.forwardICMP = forwardICMP
        self.dnsServers = dnsServers
        self.allowedDestinations = allowedDestinations
    }

    /// The transaction that creates (or replaces) the table.
    public var createCommands: String {
        let tap = quoted(self.tap)
        let pod = quoted(podInterface)
        // `add` then `delete` makes the delete succeed whether or not the table existed (the
        // `ip` table is what versions before the filter chains made); the whole buffer is one
        // transaction.
        var lines = [
            "add table ip \(Self.tableName)",
            "delete table ip \(Self.tableName)",
            "add table inet \(Self.tableName)",
            "delete table inet \(Self.tableName)",
            "table inet \(Self.tableName) {",
            "  chain guest_ingress {",
            "    type filter hook prerouting priority -300; policy accept;",
            "    iifname \(tap) meta nfproto ipv6 drop",
            "    iifname \(tap) ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept",
            "    iifname \(tap) ip saddr != \(guestAddress) drop",
            "  }",
            "  chain nat_prerouting {",
            "    type nat hook prerouting priority -100; policy accept;",
        ]
        let match = "iifname \(pod) ip daddr \(podAddress)"
        lines += forwardingRules.map { "    \(match) \($0) dnat ip to \(guestAddress)" }
        lines += [
            "  }",
            "  chain nat_output {",
            "    type nat hook output priority -100; policy accept;",
        ]
        lines += forwardingRules.map { "    ip daddr \(podAddress) \($0) dnat ip to \(guestAddress)" }
        lines += [
            "  }",
            "  chain nat_postrouting {",
            "    type nat hook postrouting priority 100; policy accept;",
            "    ip saddr \(guestAddress) oifname \(pod) masquerade",
            "  }",
            "  chain input {",
            "    type filter hook input priority 0; policy accept;",
            "    iifname \(tap) jump guest_to_pod",
            "  }",
            "  chain guest_to_pod {",
            "    udp sport 68 udp dport 67 accept",
            "    ct state established,related accept",
        ]
        if let allowed = set(allowedDestinations.map(\.description)) { lines.append("    ip daddr \(allowed) accept") }
        lines += refusal()
        lines += [
            "  }",
            "  chain forward {",
            "    type filter hook forward priority 0; policy accept;",
            "    iifname \(tap) jump guest_out",
            "    oifname \(tap) jump guest_in",
            "  }",
            "  chain guest_out {",
        ]
        if let servers = set(dnsServers.map(\.description)) {
            lines.append("    ip daddr \(servers) meta l4proto { tcp, udp } th dport 53 oifname \(pod) accept")
        }
        if let allowed = set(allowedDestinations.map(\.description)) { lines.append("    ip daddr \(allowed) accept") }
        lines += refusal("ip daddr 169.254.0.0/16 ")
        lines.append("    oifname \(pod) accept")
        lines += refusal()
        lines += [
            "  }",
            "  chain guest_in {",
            "    ct state established,related accept",
            "    ct status dnat accept",
            "    drop",
            "  }",
            "}",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// The transaction that removes the table (nothing else is touched): only while the
    /// launcher still holds CAP_NET_ADMIN, when set-up fails half way.
    public static var deleteCommands: String {
        "add table inet \(tableName)\ndelete table inet \(tableName)\n"
    }

    /// The match part of each DNAT rule.
    var forwardingRules: [String] {
        var rules: [String] = []
        if let ports {
            for transport in PodNetworkConfiguration.Port.TransportProtocol.allCases {
                let numbers = ports.filter { $0.transport == transport }.map(\.port).sorted()
                guard let numbers = set(numbers.map(String.init)) else { continue }
                rules.append("\(transport.rawValue.lowercased()) dport \(numbers)")
            }
        } else {
            let reserved = set(Array(Set(reservedTCPPorts)).sorted().map(String.init))
            rules.append(reserved.map { "tcp dport != \($0)" } ?? "meta l4proto tcp")
            rules.append("meta l4proto udp")
        }
        if forwardICMP { rules.append("icmp type echo-request") }
        return rules
    }

    /// Refuses what `match` matches at once: a TCP reset for TCP, ICMP administratively
    /// prohibited for the rest (so that the guest's probes fail fast instead of timing out).
    private func refusal(_ match: String = "") -> [String] {
        ["    \(match)meta l4proto tcp reject with tcp reset", "    \(match)reject with icmpx type admin-prohibited"]
    }

    /// One element, or an anonymous set; nil for none.
    private func set(_ elements: [String]) -> String? {
        switch elements.count {
        case 0: return nil
        case 1: return elements[0]
        default: return "{ \(elements.joined(separator: ", ")) }"
        }
    }

    /// An interface name as an nft string literal (quotes and backslashes, which no name we
    /// accept holds, are dropped rather than escaped).
    private func quoted(_ name: String) -> String {
        "\"" + String(name.filter { $0 != "\"" && $0 != "\\" }) + "\""
    }
}
