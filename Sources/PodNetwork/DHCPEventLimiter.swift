/// Which of the DHCP server's events are worth a log line. The guest controls how often it
/// sends (a client renewing in a loop, a flood of garbage on port 67), so the server's log must
/// not grow with it:
/// - a lease is reported when it changes: the first ACK, or an ACK for another client hardware
///   address or address than the last one reported (a renewal of the same lease is silent);
/// - refusals (NAKs) and malformed datagrams are reported at most once per `interval` per kind;
///   the next report carries how many of that kind were left out since the previous one.
/// The counters (`DHCPService.counters`) still count every message.
package struct DHCPEventLimiter: Sendable {
    /// The shortest time between two reports of one kind (refusals, malformed datagrams).
    package let interval: Duration
    private var lastLease: (address: IPv4Address, clientHardwareAddress: String)?
    private var refusals = KindWindow()
    private var malformed = KindWindow()

    /// One line per kind per 10 s by default.
    package init(interval: Duration = .seconds(10)) {
        self.interval = interval
    }

    /// The rate limit of one kind: when it was last reported, what was left out since.
    private struct KindWindow: Sendable {
        var lastReport: Duration?
        var suppressed = 0

        /// Whether an event at `now` is reported; if so, how many were left out before it.
        mutating func admit(at now: Duration, interval: Duration) -> Int? {
            if let lastReport, now - lastReport < interval {
                suppressed &+= 1
                return nil
            }
            defer { suppressed = 0 }
            lastReport = now
            return suppressed
        }
    }

    /// `event` as it should be logged at `now` (a monotonic time, any origin), or nil when it is
    /// not worth a line.
    package mutating func admit(_ event: DHCPService.Event, at now: Duration) -> DHCPService.Event? {
        switch event {
        case .leased(let address, let clientHardwareAddress):
            if let lastLease, lastLease.address == address, lastLease.clientHardwareAddress == clientHardwareAddress {
                return nil
            }
            lastLease = (address, clientHardwareAddress)
            return event
        case .refused(let clientHardwareAddress, let reason, _):
            guard let suppressed = refusals.admit(at: now, interval: interval) else { return nil }
            return .refused(clientHardwareAddress: clientHardwareAddress, reason: reason, suppressed: suppressed)
        case .malformed(let length, _):
            guard let suppressed = malformed.admit(at: now, interval: interval) else { return nil }
            return .malformed(length: length, suppressed: suppressed)
        }
    }
}
