import PodNetwork

/// The DHCP server's input is the guest's: any datagram parses into a message or nil, never a
/// trap; a parsed message re-encodes to itself; every reply parses back and answers the same
/// transaction.
enum DHCPFuzz {
    static let server = DHCPServer(
        lease: .init(
            address: IPv4Address(0x0A00_0202), subnet: IPv4Subnet(address: IPv4Address(0x0A00_0200), prefixLength: 24)!,
            gateway: IPv4Address(0x0A00_0201), dnsServers: [IPv4Address(0x0A60_000A)],
            searchDomains: ["default.svc.cluster.local", "cluster.local"], mtu: 1500, hostName: "fuzz-0"))

    static func run(_ bytes: [UInt8]) {
        guard let message = DHCPMessage(bytes: bytes) else { return }
        precondition(DHCPMessage(bytes: message.bytes) == message, "re-encoding round trip")
        guard let reply = server.reply(to: message) else { return }
        guard let parsed = DHCPMessage(bytes: reply.message.bytes) else { preconditionFailure("a reply parses") }
        precondition(parsed.transactionID == message.transactionID && parsed.op == 2, "the reply answers the request")
    }
}
