/// The DHCP server's work on one datagram, apart from the socket: parse it (bounded by its
/// length), answer it (`DHCPServer`), count it, and say which event is worth a log line
/// (`DHCPEventLimiter`). `DHCPService` runs it on its thread; tests run it with a fake clock.
package struct DHCPExchange: Sendable {
    /// Messages seen and sent so far.
    package private(set) var counters = DHCPService.Counters()
    private let server: DHCPServer
    private var limiter: DHCPEventLimiter

    package init(lease: DHCPServer.Lease, limiter: DHCPEventLimiter = DHCPEventLimiter()) {
        server = DHCPServer(lease: lease)
        self.limiter = limiter
    }

    /// Handles one datagram received at `now` (monotonic, any origin): `send` transmits the
    /// reply and says whether it went out whole. Returns the event to log, if any.
    package mutating func handle(
        _ bytes: [UInt8], truncated: Bool, at now: Duration, send: (DHCPServer.Reply) -> Bool
    ) -> DHCPService.Event? {
        counters.received += 1
        guard !truncated, let request = DHCPMessage(bytes: bytes) else {
            counters.malformed += 1
            return limiter.admit(.malformed(length: bytes.count, suppressed: 0), at: now)
        }
        guard let reply = server.reply(to: request), send(reply) else { return nil }
        let mac = request.clientHardwareAddress.map { byte in
            let text = String(byte, radix: 16)
            return text.count == 1 ? "0" + text : text
        }.joined(separator: ":")
        switch reply.message.messageType {
        case .offer:
            counters.offers += 1
        case .ack:
            counters.acks += 1
            if reply.message.yourAddress != .any {
                return limiter.admit(.leased(address: reply.message.yourAddress, clientHardwareAddress: mac), at: now)
            }
        case .nak:
            counters.naks += 1
            let reason =
                reply.message.option(DHCPMessage.Option.message).map { String(decoding: $0, as: UTF8.self) } ?? ""
            return limiter.admit(.refused(clientHardwareAddress: mac, reason: reason, suppressed: 0), at: now)
        default:
            break
        }
        return nil
    }
}
