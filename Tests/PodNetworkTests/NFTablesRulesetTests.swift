import PodNetwork
import Glibc
import Testing

@Suite struct NFTablesRulesetTests {
    private let base = NFTablesRuleset(
        podInterface: "eth0", podAddress: IPv4Address("10.89.0.5")!, guestSubnet: IPv4Subnet("10.0.2.0/24")!,
        guestAddress: IPv4Address("10.0.2.2")!, ports: [], forwardICMP: true)

    @Test func declaredPorts() {
        var ruleset = base
        ruleset.ports = [.init(port: 443), .init(port: 80), .init(port: 53, transport: .udp)]
        #expect(
            ruleset.createCommands == """
                add table ip swiftvmm
                delete table ip swiftvmm
                table ip swiftvmm {
                  chain prerouting {
                    type nat hook prerouting priority -100; policy accept;
                    iifname "eth0" ip daddr 10.89.0.5 tcp dport { 80, 443 } dnat to 10.0.2.2
                    iifname "eth0" ip daddr 10.89.0.5 udp dport 53 dnat to 10.0.2.2
                    iifname "eth0" ip daddr 10.89.0.5 icmp type echo-request dnat to 10.0.2.2
                  }
                  chain output {
                    type nat hook output priority -100; policy accept;
                    ip daddr 10.89.0.5 tcp dport { 80, 443 } dnat to 10.0.2.2
                    ip daddr 10.89.0.5 udp dport 53 dnat to 10.0.2.2
                    ip daddr 10.89.0.5 icmp type echo-request dnat to 10.0.2.2
                  }
                  chain postrouting {
                    type nat hook postrouting priority 100; policy accept;
                    ip saddr 10.0.2.0/24 oifname "eth0" masquerade
                  }
                }

                """)
    }

    @Test func everyPortButTheLaunchersOwn() {
        var ruleset = base
        ruleset.ports = nil
        ruleset.reservedTCPPorts = [8080, 8080, 9090]
        ruleset.forwardICMP = false
        let lines = ruleset.createCommands.split(separator: "\n").map { String($0.drop { $0 == " " }) }
        #expect(lines.contains(#"iifname "eth0" ip daddr 10.89.0.5 tcp dport != { 8080, 9090 } dnat to 10.0.2.2"#))
        #expect(lines.contains(#"iifname "eth0" ip daddr 10.89.0.5 meta l4proto udp dnat to 10.0.2.2"#))
        #expect(!lines.contains { $0.contains("icmp") })
        ruleset.reservedTCPPorts = []
        #expect(
            ruleset.createCommands.contains(#"iifname "eth0" ip daddr 10.89.0.5 meta l4proto tcp dnat to 10.0.2.2"#))
    }

    @Test func noPortsForwardOnlyPing() {
        let lines = base.createCommands.split(separator: "\n")
        #expect(lines.filter { $0.contains("dnat") }.count == 2, "ICMP in prerouting and output only")
        #expect(NFTablesRuleset.deleteCommands == "add table ip swiftvmm\ndelete table ip swiftvmm\n")
    }
}

/// The generated rules through real libnftables (a dry run: checked by nft and the kernel, then
/// aborted; nothing changes).
@Suite(.enabled(if: getuid() == 0, "SKIPPED: a libnftables dry run needs root (CAP_NET_ADMIN)"))
struct NFTablesDryRunTests {
    @Test(arguments: [nil, [], [PodNetworkConfiguration.Port(port: 80), .init(port: 7, transport: .udp)]])
    func libnftablesAcceptsTheRules(ports: [PodNetworkConfiguration.Port]?) throws {
        let ruleset = NFTablesRuleset(
            podInterface: "eth0", podAddress: IPv4Address("10.89.0.5")!, guestSubnet: IPv4Subnet("10.0.2.0/24")!,
            guestAddress: IPv4Address("10.0.2.2")!, ports: ports, reservedTCPPorts: [8080], forwardICMP: true)
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
