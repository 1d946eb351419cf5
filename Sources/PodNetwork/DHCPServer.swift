/// The DHCPv4 server's decisions (RFC 2131 §4.3), as a pure function from a client's message to
/// the reply and where it goes. There is one client (the guest) and one address to lease.
public struct DHCPServer: Sendable {
    /// What the server hands out.
    public struct Lease: Sendable, Equatable {
        public var address: IPv4Address
        public var subnet: IPv4Subnet
        /// The router and the server's identifier.
        public var gateway: IPv4Address
        public var dnsServers: [IPv4Address]
        public var searchDomains: [String]
        public var mtu: Int?
        public var hostName: String?
        public var leaseSeconds: UInt32

        public init(
            address: IPv4Address, subnet: IPv4Subnet, gateway: IPv4Address, dnsServers: [IPv4Address] = [],
            searchDomains: [String] = [], mtu: Int? = nil, hostName: String? = nil, leaseSeconds: UInt32 = 86_400
        ) {
            self.address = address
            self.subnet = subnet
            self.gateway = gateway
            self.dnsServers = dnsServers
            self.searchDomains = searchDomains
            self.mtu = mtu
            self.hostName = hostName
            self.leaseSeconds = leaseSeconds
        }
    }

    /// A reply and its destination (UDP port 68).
    public struct Reply: Sendable, Equatable {
        public var message: DHCPMessage
        public var destination: IPv4Address
    }

    public let lease: Lease

    public init(lease: Lease) { self.lease = lease }

    /// The reply to `request`, or nil when none is due (not a client request, another server
    /// chosen, RELEASE, DECLINE, or a message type a server does not answer).
    public func reply(to request: DHCPMessage) -> Reply? {
        guard request.op == 1, let type = request.messageType else { return nil }
        switch type {
        case .discover:
            return offerOrAck(.offer, to: request)
        case .request:
            if let server = request.addressOption(DHCPMessage.Option.serverIdentifier) {
                // SELECTING: the client chose a server; if not us, stay quiet.
                guard server == lease.gateway else { return nil }
                return request.addressOption(DHCPMessage.Option.requestedAddress) == lease.address
                    ? offerOrAck(.ack, to: request) : nak(request, "requested address is not this client's")
            }
            if let requested = request.addressOption(DHCPMessage.Option.requestedAddress) {
                // INIT-REBOOT: the client asks to keep an address it had.
                return requested == lease.address
                    ? offerOrAck(.ack, to: request)
                    : nak(request, "requested address \(requested) is not on this network")
            }
            // RENEWING / REBINDING: ciaddr holds the address.
            return request.clientAddress == lease.address
                ? offerOrAck(.ack, to: request) : nak(request, "address \(request.clientAddress) is not this client's")
        case .inform:
            // The client configured its address itself and asks for the rest (no lease).
            var reply = offerOrAck(.ack, to: request)
            reply.message.yourAddress = .any
            reply.message.options.removeAll {
                $0.code == DHCPMessage.Option.leaseTime
                    || $0.code == DHCPMessage.Option.renewalTime || $0.code == DHCPMessage.Option.rebindingTime
            }
            if request.clientAddress != .any { reply.destination = request.clientAddress }
            return reply
        case .decline, .release, .offer, .ack, .nak:
            return nil
        }
    }

    private func base(_ type: DHCPMessage.MessageType, for request: DHCPMessage) -> DHCPMessage {
        DHCPMessage(
            op: 2, transactionID: request.transactionID, flags: request.flags, relayAddress: request.relayAddress,
            clientHardwareAddress: request.clientHardwareAddress,
            options: [
                (DHCPMessage.Option.messageType, [type.rawValue]),
                (DHCPMessage.Option.serverIdentifier, lease.gateway.bytes),
            ])
    }

    private func offerOrAck(_ type: DHCPMessage.MessageType, to request: DHCPMessage) -> Reply {
        var message = base(type, for: request)
        message.yourAddress = lease.address
        message.serverAddress = lease.gateway
        func seconds(_ value: UInt32) -> [UInt8] { IPv4Address(value).bytes }
        message.options += [
            (DHCPMessage.Option.leaseTime, seconds(lease.leaseSeconds)),
            (DHCPMessage.Option.renewalTime, seconds(lease.leaseSeconds / 2)),
            (DHCPMessage.Option.rebindingTime, seconds(lease.leaseSeconds / 8 * 7)),
            (DHCPMessage.Option.subnetMask, lease.subnet.mask.bytes),
            (DHCPMessage.Option.broadcastAddress, lease.subnet.broadcast.bytes),
            (DHCPMessage.Option.router, lease.gateway.bytes),
        ]
        if !lease.dnsServers.isEmpty {
            message.options.append((DHCPMessage.Option.domainNameServer, lease.dnsServers.prefix(8).flatMap(\.bytes)))
        }
        if let first = lease.searchDomains.first, (1...255).contains(first.utf8.count) {
            message.options.append((DHCPMessage.Option.domainName, Array(first.utf8)))
        }
        let search = DHCPMessage.encodeSearchList(lease.searchDomains)
        if !search.isEmpty { message.options.append((DHCPMessage.Option.domainSearch, search)) }
        if let mtu = lease.mtu, let value = UInt16(exactly: mtu), value >= 68 {
            message.options.append(
                (DHCPMessage.Option.interfaceMTU, [UInt8(value >> 8), UInt8(truncatingIfNeeded: value)]))
        }
        if let name = lease.hostName, (1...63).contains(name.utf8.count) {
            message.options.append((DHCPMessage.Option.hostName, Array(name.utf8)))
        }
        // A client that has its address (RENEWING) gets a unicast; one that has none a
        // broadcast (the broadcast flag or not: a broadcast reaches it either way).
        let destination = type == .ack && request.clientAddress == lease.address ? lease.address : .broadcast
        return Reply(message: message, destination: destination)
    }

    private func nak(_ request: DHCPMessage, _ reason: String) -> Reply {
        var message = base(.nak, for: request)
        message.flags |= DHCPMessage.broadcastFlag
        message.options.append((DHCPMessage.Option.message, Array(reason.utf8.prefix(255))))
        return Reply(message: message, destination: .broadcast)
    }
}
