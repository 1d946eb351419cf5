import PodNetwork
import Glibc
import Testing

@Suite struct NFTablesRulesetTests {
    private let base = NFTablesRuleset(
        tap: "tap0", podInterface: "eth0", podAddress: IPv4Address("10.89.0.5")!,
        guestSubnet: IPv4Subnet("10.0.2.0/24")!, guestAddress: IPv4Address("10.0.2.2")!, ports: [], forwardICMP: true,
        dnsServers: [IPv4Address("10.96.0.10")!, IPv4Address("169.254.20.10")!])

    private func lines(_ ruleset: NFTablesRuleset) -> [String] {
        ruleset.createCommands.split(separator: "\n").map { String($0.drop { $0 == " " }) }
    }

    /// The lines of chain `name`, between its header and its closing brace.
    private func chain(_ name: String, _ ruleset: NFTablesRuleset) -> [String] {
        let all = lines(ruleset)
        guard let start = all.firstIndex(of: "chain \(name) {") else { return [] }
        return Array(all[(start + 1)...].prefix { $0 != "}" })
    }

    @Test func declaredPortsAreDNATedFromThePodsAddress() {
        var ruleset = base
        ruleset.ports = [.init(port: 443), .init(port: 80), .init(port: 53, transport: .udp)]
        #expect(
            chain("nat_prerouting", ruleset) == [
                "type nat hook prerouting priority -100; policy accept;",
                #"iifname "eth0" ip daddr 10.89.0.5 tcp dport { 80, 443 } dnat ip to 10.0.2.2"#,
                #"iifname "eth0" ip daddr 10.89.0.5 udp dport 53 dnat ip to 10.0.2.2"#,
                #"iifname "eth0" ip daddr 10.89.0.5 icmp type echo-request dnat ip to 10.0.2.2"#,
            ])
        #expect(
            chain("nat_output", ruleset) == [
                "type nat hook output priority -100; policy accept;",
                "ip daddr 10.89.0.5 tcp dport { 80, 443 } dnat ip to 10.0.2.2",
                "ip daddr 10.89.0.5 udp dport 53 dnat ip to 10.0.2.2",
                "ip daddr 10.89.0.5 icmp type echo-request dnat ip to 10.0.2.2",
            ])
        #expect(
            chain("nat_postrouting", ruleset) == [
                "type nat hook postrouting priority 100; policy accept;",
                #"ip saddr 10.0.2.2 oifname "eth0" masquerade"#,
            ])
    }

    @Test func everyPortButTheLaunchersOwn() {
        var ruleset = base
        ruleset.ports = nil
        ruleset.reservedTCPPorts = [8080, 8080, 9090]
        ruleset.forwardICMP = false
        let nat = chain("nat_prerouting", ruleset)
        #expect(nat.contains(#"iifname "eth0" ip daddr 10.89.0.5 tcp dport != { 8080, 9090 } dnat ip to 10.0.2.2"#))
        #expect(nat.contains(#"iifname "eth0" ip daddr 10.89.0.5 meta l4proto udp dnat ip to 10.0.2.2"#))
        #expect(!nat.contains { $0.contains("icmp") })
        ruleset.reservedTCPPorts = []
        #expect(
            chain("nat_prerouting", ruleset).contains(
                #"iifname "eth0" ip daddr 10.89.0.5 meta l4proto tcp dnat ip to 10.0.2.2"#))
    }

    /// From the tap: no IPv6 at all, no forged source (DHCP's 0.0.0.0 excepted), and of the pod
    /// itself only DHCP and replies to connections the pod opened.
    @Test func theGuestReachesThePodOnlyByDHCPAndReplies() {
        #expect(
            chain("guest_ingress", base) == [
                "type filter hook prerouting priority -300; policy accept;",
                #"iifname "tap0" meta nfproto ipv6 drop"#,
                #"iifname "tap0" ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept"#,
                #"iifname "tap0" ip saddr != 10.0.2.2 drop"#,
            ])
        #expect(chain("input", base).contains(#"iifname "tap0" jump guest_to_pod"#))
        #expect(
            chain("guest_to_pod", base) == [
                "udp sport 68 udp dport 67 accept",
                "ct state established,related accept",
                "meta l4proto tcp reject with tcp reset",
                "reject with icmpx type admin-prohibited",
            ])
    }

    /// Forwarded from the guest: DNS to the lease's servers (a link-local NodeLocal DNSCache
    /// too), the allowed destinations, nothing else link-local, and only out of the pod's
    /// interface.
    @Test func theGuestLeavesOnlyThroughThePodInterfaceAndNeverToLinkLocal() {
        var ruleset = base
        ruleset.allowedDestinations = [IPv4Subnet("169.254.169.254/32")!]
        #expect(
            chain("guest_out", ruleset) == [
                #"ip daddr { 10.96.0.10, 169.254.20.10 } meta l4proto { tcp, udp } th dport 53 oifname "eth0" accept"#,
                "ip daddr 169.254.169.254/32 accept",
                "ip daddr 169.254.0.0/16 meta l4proto tcp reject with tcp reset",
                "ip daddr 169.254.0.0/16 reject with icmpx type admin-prohibited",
                #"oifname "eth0" accept"#,
                "meta l4proto tcp reject with tcp reset",
                "reject with icmpx type admin-prohibited",
            ])
        #expect(chain("guest_to_pod", ruleset).contains("ip daddr 169.254.169.254/32 accept"))
    }

    /// To the guest: only what was DNATed to it (the declared ports, ICMP echo) and replies.
    @Test func nothingButTheDeclaredPortsIsForwardedToTheGuest() {
        #expect(chain("forward", base).contains(#"oifname "tap0" jump guest_in"#))
        #expect(chain("guest_in", base) == ["ct state established,related accept", "ct status dnat accept", "drop"])
    }

    @Test func theTableIsReplacedWholeAndTheOldIPv4TableToo() {
        let all = lines(base)
        #expect(
            Array(all.prefix(5)) == [
                "add table ip swiftvmm", "delete table ip swiftvmm", "add table inet swiftvmm",
                "delete table inet swiftvmm", "table inet swiftvmm {",
            ])
        #expect(NFTablesRuleset.deleteCommands == "add table inet swiftvmm\ndelete table inet swiftvmm\n")
    }
}

/// The generated rules through real libnftables (a dry run: checked by nft and the kernel, then
/// aborted; nothing changes).
@Suite(.enabled(if: getuid() == 0, "SKIPPED: a libnftables dry run needs root (CAP_NET_ADMIN)"))
struct NFTablesDryRunTests {
    @Test(arguments: [nil, [], [PodNetworkConfiguration.Port(port: 80), .init(port: 7, transport: .udp)]])
    func libnftablesAcceptsTheRules(ports: [PodNetworkConfiguration.Port]?) throws {
        let ruleset = NFTablesRuleset(
            tap: "tap0", podInterface: "eth0", podAddress: IPv4Address("10.89.0.5")!,
            guestSubnet: IPv4Subnet("10.0.2.0/24")!, guestAddress: IPv4Address("10.0.2.2")!, ports: ports,
            reservedTCPPorts: [8080], forwardICMP: true, dnsServers: [IPv4Address("10.96.0.10")!],
            allowedDestinations: [IPv4Subnet("169.254.169.254/32")!, IPv4Subnet("10.89.0.0/24")!])
        try PodNetwork.runNFT(ruleset.createCommands, step: "checking", dryRun: true)
        try PodNetwork.runNFT(NFTablesRuleset.deleteCommands, step: "checking", dryRun: true)
    }

    @Test func libnftablesErrorsComeBackAsText() {
        #expect(throws: PodNetworkError.self) {
            try PodNetwork.runNFT(
                "add table ip swiftvmm\nadd chain ip swiftvmm x { type nat hook nowhere; }\n", step: "checking",
                dryRun: true)
        }
    }
}
