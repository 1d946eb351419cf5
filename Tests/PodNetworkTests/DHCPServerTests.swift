import PodNetwork
import Testing

@Suite struct DHCPServerTests {
    static let mac: [UInt8] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]
    let server = DHCPServer(
        lease: .init(
            address: IPv4Address("10.0.2.2")!, subnet: IPv4Subnet("10.0.2.0/24")!, gateway: IPv4Address("10.0.2.1")!,
            dnsServers: [IPv4Address("10.96.0.10")!], searchDomains: ["ns.svc.cluster.local", "cluster.local"],
            mtu: 1450, hostName: "web-0", leaseSeconds: 3600))

    /// A client message as the wire has it (built, then parsed back, as the server sees it).
    func client(
        _ type: DHCPMessage.MessageType, ciaddr: IPv4Address = .any, extra: [(code: UInt8, value: [UInt8])] = []
    ) throws -> DHCPMessage {
        let message = DHCPMessage(
            op: 1, transactionID: 0xDEAD_BEEF, flags: DHCPMessage.broadcastFlag, clientAddress: ciaddr,
            clientHardwareAddress: Self.mac, options: [(DHCPMessage.Option.messageType, [type.rawValue])] + extra)
        return try #require(DHCPMessage(bytes: message.bytes))
    }

    func answer(_ request: DHCPMessage) throws -> (DHCPMessage, IPv4Address) {
        let reply = try #require(server.reply(to: request))
        // What the client receives is the wire form.
        return (try #require(DHCPMessage(bytes: reply.message.bytes)), reply.destination)
    }

    @Test func discoverGetsAnOfferWithEveryOption() throws {
        let (offer, destination) = try answer(try client(.discover))
        #expect(offer.messageType == .offer && offer.op == 2 && offer.transactionID == 0xDEAD_BEEF)
        #expect(offer.clientHardwareAddress == Self.mac && destination == .broadcast)
        #expect(offer.yourAddress.description == "10.0.2.2")
        #expect(offer.addressOption(DHCPMessage.Option.serverIdentifier)?.description == "10.0.2.1")
        #expect(offer.addressOption(DHCPMessage.Option.subnetMask)?.description == "255.255.255.0")
        #expect(offer.addressOption(DHCPMessage.Option.router)?.description == "10.0.2.1")
        #expect(offer.addressOption(DHCPMessage.Option.broadcastAddress)?.description == "10.0.2.255")
        #expect(offer.option(DHCPMessage.Option.domainNameServer) == [10, 96, 0, 10])
        #expect(offer.option(DHCPMessage.Option.leaseTime) == [0, 0, 0x0E, 0x10])
        #expect(offer.option(DHCPMessage.Option.renewalTime) == [0, 0, 0x07, 0x08])
        #expect(offer.option(DHCPMessage.Option.interfaceMTU) == [0x05, 0xAA])
        #expect(offer.option(DHCPMessage.Option.hostName) == Array("web-0".utf8))
        #expect(offer.option(DHCPMessage.Option.domainName) == Array("ns.svc.cluster.local".utf8))
        let search: [UInt8] =
            [2] + Array("ns".utf8) + [3] + Array("svc".utf8) + [7] + Array("cluster".utf8) + [5] + Array("local".utf8)
            + [0, 7] + Array("cluster".utf8) + [5] + Array("local".utf8) + [0]
        #expect(offer.option(DHCPMessage.Option.domainSearch) == search)
        #expect(try server.reply(to: client(.discover))!.message.bytes.count >= DHCPMessage.minimumReplyLength)
    }

    @Test func requestForTheOfferedAddressIsAcked() throws {
        let request = try client(
            .request,
            extra: [
                (DHCPMessage.Option.requestedAddress, [10, 0, 2, 2]),
                (DHCPMessage.Option.serverIdentifier, [10, 0, 2, 1]),
            ])
        let (ack, destination) = try answer(request)
        #expect(ack.messageType == .ack && ack.yourAddress.description == "10.0.2.2" && destination == .broadcast)
    }

    @Test func wrongAddressesAreRefused() throws {
        for request in [
            try client(
                .request,
                extra: [
                    (DHCPMessage.Option.requestedAddress, [10, 0, 2, 9]),
                    (DHCPMessage.Option.serverIdentifier, [10, 0, 2, 1]),
                ]),
            try client(.request, extra: [(DHCPMessage.Option.requestedAddress, [192, 168, 1, 20])]),  // INIT-REBOOT
            try client(.request, ciaddr: IPv4Address("10.0.2.7")!),  // RENEWING
        ] {
            let (nak, destination) = try answer(request)
            #expect(nak.messageType == .nak && nak.yourAddress == .any && destination == .broadcast)
            #expect(nak.option(DHCPMessage.Option.message)?.isEmpty == false)
            #expect(nak.option(DHCPMessage.Option.leaseTime) == nil)
        }
    }

    @Test func anotherServersOfferIsLeftAlone() throws {
        let request = try client(
            .request,
            extra: [
                (DHCPMessage.Option.requestedAddress, [10, 0, 2, 2]),
                (DHCPMessage.Option.serverIdentifier, [10, 0, 2, 99]),
            ])
        #expect(server.reply(to: request) == nil)
        #expect(try server.reply(to: client(.release)) == nil)
        #expect(try server.reply(to: client(.decline)) == nil)
    }

    @Test func renewalIsUnicastAndInitRebootAcked() throws {
        let (ack, destination) = try answer(try client(.request, ciaddr: IPv4Address("10.0.2.2")!))
        #expect(ack.messageType == .ack && destination.description == "10.0.2.2")
        let (reboot, _) = try answer(
            try client(.request, extra: [(DHCPMessage.Option.requestedAddress, [10, 0, 2, 2])]))
        #expect(reboot.messageType == .ack)
    }

    @Test func informGetsSettingsWithoutALease() throws {
        let (ack, destination) = try answer(try client(.inform, ciaddr: IPv4Address("10.0.2.2")!))
        #expect(ack.messageType == .ack && ack.yourAddress == .any && destination.description == "10.0.2.2")
        #expect(ack.option(DHCPMessage.Option.leaseTime) == nil && ack.option(DHCPMessage.Option.router) != nil)
    }

    @Test func repliesAreNotAnswered() throws {
        var offer = try client(.discover)
        offer.op = 2
        #expect(server.reply(to: offer) == nil)
    }

    @Test func malformedMessagesAreDropped() throws {
        let good = try client(.discover).bytes
        #expect(DHCPMessage(bytes: Array(good.prefix(239))) == nil, "shorter than the header")
        var cookie = good
        cookie[236] = 0
        #expect(DHCPMessage(bytes: cookie) == nil, "no magic cookie")
        var hardware = good
        hardware[2] = 16
        #expect(DHCPMessage(bytes: hardware) == nil, "not Ethernet")
        let noEnd = Array(good.prefix(243))  // cookie + option 53's three bytes, no end
        #expect(DHCPMessage(bytes: noEnd) == nil, "options without an end")
        let overrun = Array(good.prefix(240)) + [DHCPMessage.Option.hostName, 200, 65, 66]
        #expect(DHCPMessage(bytes: overrun) == nil, "an option longer than the datagram")
        let dangling = Array(good.prefix(240)) + [DHCPMessage.Option.hostName]
        #expect(DHCPMessage(bytes: dangling) == nil, "a code without a length")
        // A message without a type is not answered.
        let untyped = try #require(DHCPMessage(bytes: Array(good.prefix(240)) + [DHCPMessage.Option.end]))
        #expect(server.reply(to: untyped) == nil)
    }

    @Test func longOptionsAreSplitAndJoined() throws {
        let long = [UInt8](repeating: 7, count: 600)
        let message = DHCPMessage(
            op: 2, transactionID: 1, clientHardwareAddress: Self.mac, options: [(DHCPMessage.Option.domainSearch, long)]
        )
        let bytes = message.bytes
        #expect(bytes[240] == DHCPMessage.Option.domainSearch && bytes[241] == 255)
        #expect(try #require(DHCPMessage(bytes: bytes)).option(DHCPMessage.Option.domainSearch) == long)
    }

    @Test func searchListEncodingSkipsBadNames() {
        #expect(DHCPMessage.encodeSearchList(["a.b"]) == [1, 97, 1, 98, 0])
        let longLabel = String(repeating: "x", count: 64) + ".com"
        #expect(DHCPMessage.encodeSearchList([longLabel, "", "c"]) == [1, 99, 0])
    }

    /// Every prefix and every one-byte change of a valid message parses or is dropped: no trap.
    @Test func anyPrefixOrByteFlipIsSafe() throws {
        let good = try client(.request, extra: [(DHCPMessage.Option.requestedAddress, [10, 0, 2, 2])]).bytes
        for length in 0...good.count { _ = DHCPMessage(bytes: Array(good.prefix(length))).flatMap(server.reply(to:)) }
        for index in 236..<min(good.count, 260) {
            for value: UInt8 in [0, 1, 2, 4, 0x35, 0xFF] {
                var bytes = good
                bytes[index] = value
                _ = DHCPMessage(bytes: bytes).flatMap(server.reply(to:))
            }
        }
    }
}
