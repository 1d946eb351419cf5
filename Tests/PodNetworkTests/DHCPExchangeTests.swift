import Testing

@testable import PodNetwork

/// The DHCP server's log events (DHCPExchange + DHCPEventLimiter) under a guest that sends as
/// often as it likes, with a fake clock: the times are given, nothing sleeps.
@Suite struct DHCPExchangeTests {
    static let lease = DHCPServer.Lease(
        address: IPv4Address("10.0.2.2")!, subnet: IPv4Subnet("10.0.2.0/24")!, gateway: IPv4Address("10.0.2.1")!)
    static let mac: [UInt8] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]

    /// A REQUEST on the wire: RENEWING from `ciaddr` (the lease's address: ACKed; another: NAKed).
    static func request(ciaddr: String = "10.0.2.2", mac: [UInt8] = mac) -> [UInt8] {
        DHCPMessage(
            op: 1, transactionID: 0x1234, flags: 0, clientAddress: IPv4Address(ciaddr)!, clientHardwareAddress: mac,
            options: [(DHCPMessage.Option.messageType, [DHCPMessage.MessageType.request.rawValue])]
        ).bytes
    }

    /// Feeds `count` copies of `datagram`, one every `spacing`, starting at `start`; returns the
    /// events to log.
    static func feed(
        _ exchange: inout DHCPExchange, _ datagram: [UInt8], count: Int, start: Duration = .zero,
        spacing: Duration = .milliseconds(1)
    ) -> [DHCPService.Event] {
        (0..<count).compactMap { index in
            exchange.handle(datagram, truncated: false, at: start + spacing * index) { _ in true }
        }
    }

    @Test func tenThousandRenewalsOfOneLeaseAreOneLogEvent() {
        var exchange = DHCPExchange(lease: Self.lease)
        let events = Self.feed(&exchange, Self.request(), count: 10_000)
        #expect(events == [.leased(address: Self.lease.address, clientHardwareAddress: "52:54:00:12:34:56")])
        #expect(exchange.counters.acks == 10_000 && exchange.counters.received == 10_000, "every message counted")
        // Another client hardware address: a new lease, reported once more.
        let other = Self.feed(&exchange, Self.request(mac: [2, 0, 0, 0, 0, 7]), count: 100, start: .seconds(20))
        #expect(other == [.leased(address: Self.lease.address, clientHardwareAddress: "02:00:00:00:00:07")])
    }

    @Test func refusalsAreReportedOncePerTenSecondsWithWhatWasLeftOut() {
        var exchange = DHCPExchange(lease: Self.lease)
        // 10 000 NAKs in 10 s (one a millisecond): only the first is reported.
        let burst = Self.feed(&exchange, Self.request(ciaddr: "10.0.2.9"), count: 10_000)
        #expect(burst.count == 1)
        #expect(burst.first.map { if case .refused(_, _, 0) = $0 { true } else { false } } == true)
        // The next one, 10 s after the first report, carries the 9 999 left out.
        let next = Self.feed(&exchange, Self.request(ciaddr: "10.0.2.9"), count: 1, start: .seconds(10))
        #expect(next.count == 1)
        #expect(next.first.map { if case .refused(_, _, 9_999) = $0 { true } else { false } } == true, "\(next)")
        #expect(exchange.counters.naks == 10_001)
    }

    @Test func malformedDatagramsAreLimitedOnTheirOwn() {
        var exchange = DHCPExchange(lease: Self.lease)
        _ = Self.feed(&exchange, Self.request(ciaddr: "10.0.2.9"), count: 5)
        let garbage = Self.feed(&exchange, [1, 2, 3], count: 10_000, spacing: .microseconds(10))
        #expect(garbage == [.malformed(length: 3, suppressed: 0)], "a refusal's window does not hide them")
        let later = Self.feed(&exchange, [1, 2, 3], count: 1, start: .seconds(11))
        #expect(later == [.malformed(length: 3, suppressed: 9_999)])
        #expect(exchange.counters.malformed == 10_001)
    }

    @Test func aChangedAddressIsReported() {
        var limiter = DHCPEventLimiter()
        let first = DHCPService.Event.leased(
            address: IPv4Address("10.0.2.2")!, clientHardwareAddress: "02:00:00:00:00:01")
        let moved = DHCPService.Event.leased(
            address: IPv4Address("10.0.2.3")!, clientHardwareAddress: "02:00:00:00:00:01")
        #expect(limiter.admit(first, at: .zero) == first)
        #expect(limiter.admit(first, at: .seconds(1)) == nil)
        #expect(limiter.admit(moved, at: .seconds(2)) == moved)
        #expect(limiter.admit(first, at: .seconds(3)) == first, "back to the first: a change again")
    }
}
