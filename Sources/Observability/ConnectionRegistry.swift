/// The limits an HTTP server puts on its clients' connections, so that slow, half-open or hostile
/// clients cannot exhaust descriptors or memory and a kubelet probe always gets through.
public struct HTTPConnectionLimits: Sendable, Equatable {
    /// How long a request's headers may take, from its first byte; a new connection that sends
    /// nothing is closed this long after it was accepted.
    public var headerTimeout: Duration
    /// How long a keep-alive connection may wait for its next request once an answer is written.
    /// (Hummingbird's own idle timer, reset by each request part and answer, uses it too: a request
    /// body that pauses this long is closed, and so are headers still incomplete this long after
    /// the accept or the previous answer.)
    public var idleTimeout: Duration
    /// How many connections are kept open (at least 1): a connection over it makes the server close
    /// the oldest one that has been sending its headers for a second or more, else the oldest idle
    /// one, else the oldest still sending its headers — the new one is served, and one whose
    /// request is being answered is never closed.
    public var maximumConnections: Int

    /// The limits of the observability endpoint: headers within 10 s, idle for 30 s, 256 connections.
    public init(
        headerTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(30), maximumConnections: Int = 256
    ) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.maximumConnections = maximumConnections
    }
}

/// Where a connection is between requests, as far as its limits are concerned.
package enum ConnectionPhase: Sendable, Equatable {
    /// Accepted, or some bytes of a request arrived, but its headers are not complete: the header
    /// deadline runs. The first to be evicted (once past the grace).
    case awaitingHeaders
    /// A request was read and is being answered: no deadline of ours, never evicted (the
    /// responder bounds it).
    case inRequest
    /// An answer was written and nothing of the next request arrived: the idle deadline runs.
    case idle
}

/// The open connections of one server in accept order, with their phases: which one to close
/// when a new connection goes over the cap. Pure bookkeeping (`ConnectionGuard` holds it under a
/// lock, gives it the time and closes what it names); `Connection` is whatever closes one (a
/// NIO channel).
///
/// The victim is the oldest connection that has awaited its headers for at least the grace, else
/// the oldest idle one, else the oldest awaiting headers. The grace keeps a connection just
/// accepted — a kubelet probe whose request is not read yet — from being the first to go when
/// the cap is full of idle connections and new ones keep coming: the idle ones go first, then
/// the oldest of the young ones, so the connection accepted last is the last candidate.
package struct ConnectionRegistry<Connection> {
    private struct Entry {
        let number: UInt64
        let connection: Connection
        var phase: ConnectionPhase
        /// When the connection entered `phase`.
        var sinceNanoseconds: UInt64
    }

    /// At most this many connections stay open while some can be evicted.
    package let maximumConnections: Int
    /// How long a connection awaits headers before it goes ahead of idle ones.
    package let evictionGraceNanoseconds: UInt64
    /// Open connections, oldest first (numbers increase with each accept).
    private var entries: [Entry] = []
    private var nextNumber: UInt64 = 0

    package init(maximumConnections: Int, evictionGraceNanoseconds: UInt64) {
        self.maximumConnections = max(1, maximumConnections)
        self.evictionGraceNanoseconds = evictionGraceNanoseconds
    }

    /// How many connections are registered.
    package var count: Int { entries.count }

    /// Registers a connection accepted at `nowNanoseconds` (awaiting its headers). When that
    /// takes the count over the cap, the victim (see above) is removed and returned to be closed
    /// — never the new one; with every other connection in a request there is none, and the
    /// count stays over the cap until they are answered.
    package mutating func open(_ connection: Connection, nowNanoseconds: UInt64) -> (
        number: UInt64, evicted: Connection?
    ) {
        let number = nextNumber
        nextNumber += 1
        var evicted: Connection?
        if entries.count >= maximumConnections, let index = victimIndex(nowNanoseconds: nowNanoseconds) {
            evicted = entries.remove(at: index).connection
        }
        entries.append(
            Entry(number: number, connection: connection, phase: .awaitingHeaders, sinceNanoseconds: nowNanoseconds))
        return (number, evicted)
    }

    /// Records that connection `number` entered `phase` at `nowNanoseconds` (nothing when it was
    /// evicted or closed).
    package mutating func setPhase(_ phase: ConnectionPhase, of number: UInt64, nowNanoseconds: UInt64) {
        guard let index = index(of: number), entries[index].phase != phase else { return }
        entries[index].phase = phase
        entries[index].sinceNanoseconds = nowNanoseconds
    }

    /// The phase of connection `number`, nil when it is not registered.
    package func phase(of number: UInt64) -> ConnectionPhase? {
        index(of: number).map { entries[$0].phase }
    }

    /// Forgets connection `number` (it closed); nothing when it was evicted already.
    package mutating func remove(_ number: UInt64) {
        guard let index = index(of: number) else { return }
        entries.remove(at: index)
    }

    /// Forgets every connection and returns them, oldest first (the server is shutting down).
    package mutating func removeAll() -> [Connection] {
        defer { entries.removeAll() }
        return entries.map(\.connection)
    }

    private func victimIndex(nowNanoseconds: UInt64) -> Int? {
        let grace = evictionGraceNanoseconds
        let pastGrace = entries.firstIndex {
            $0.phase == .awaitingHeaders && nowNanoseconds >= $0.sinceNanoseconds
                && nowNanoseconds - $0.sinceNanoseconds >= grace
        }
        return pastGrace ?? entries.firstIndex { $0.phase == .idle }
            ?? entries.firstIndex { $0.phase == .awaitingHeaders }
    }

    /// Binary search: `entries` is sorted by number.
    private func index(of number: UInt64) -> Int? {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].number < number { low = middle + 1 } else { high = middle }
        }
        return low < entries.count && entries[low].number == number ? low : nil
    }
}
