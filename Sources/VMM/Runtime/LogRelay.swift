import EventLoop
import Logging
import Synchronization

/// Carries log records and machine events from the machine's restricted threads (vCPUs, I/O,
/// console) to the monitor thread, which hands them to the embedder's `Logger` and `events`
/// closure. A log handler or an events closure may do anything (open a file, connect a socket)
/// that a thread's seccomp filter forbids, so they run only on the monitor thread. Bounded: at most `capacity` records wait; each `key` is logged at most
/// once per `intervalNanoseconds` (a guest that makes a device fail in a loop costs one line a
/// second); what is held back is counted and reported with the next record of that key.
final class LogRelay: Sendable {
    static let capacity = 256
    static let intervalNanoseconds: UInt64 = 1_000_000_000

    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var suppressed: Int
    }

    private struct State {
        var records: [Record] = []
        var lastLogged: [String: UInt64] = [:]
        var suppressed: [String: Int] = [:]
        var overflowed = 0
        var events: [MachineEvent] = []
    }

    /// Events waiting at most (the guest-ready signal comes once per machine).
    static let eventCapacity = 16

    private let state = Mutex(State())
    /// Signalled when a record is queued (the monitor waits on it).
    let available: EventFD

    init() throws(EventLoopError) {
        available = try EventFD()
    }

    /// Queues `message` (any thread; never blocks, allocates only the record).
    func post(_ level: Logger.Level, key: String, _ message: String) {
        let now = monotonicNanoseconds()
        let queued: Bool = state.withLock { state in
            if let last = state.lastLogged[key], now &- last < Self.intervalNanoseconds {
                state.suppressed[key, default: 0] += 1
                return false
            }
            guard state.records.count < Self.capacity else {
                state.overflowed += 1
                return false
            }
            state.lastLogged[key] = now
            let suppressed = state.suppressed.removeValue(forKey: key) ?? 0
            state.records.append(Record(level: level, message: message, suppressed: suppressed))
            return true
        }
        if queued { available.signal() }
    }

    /// Queues `event` for the monitor thread (any thread; never blocks).
    func post(event: MachineEvent) {
        let queued = state.withLock { state in
            guard state.events.count < Self.eventCapacity else { return false }
            state.events.append(event)
            return true
        }
        if queued { available.signal() }
    }

    /// Logs what is queued to `logger` and hands the queued events to `events` (the monitor
    /// thread).
    func flush(to logger: Logger, events deliver: (@Sendable (MachineEvent) -> Void)? = nil) {
        _ = available.drain()
        let (records, overflowed, events) = state.withLock { state in
            defer {
                state.records = []
                state.overflowed = 0
                state.events = []
            }
            return (state.records, state.overflowed, state.events)
        }
        for event in events { deliver?(event) }
        for record in records {
            var metadata: Logger.Metadata = [:]
            if record.suppressed > 0 { metadata["suppressed"] = "\(record.suppressed)" }
            logger.log(level: record.level, "\(record.message)", metadata: metadata)
        }
        if overflowed > 0 { logger.warning("\(overflowed) log records dropped (more than \(Self.capacity) waiting)") }
    }
}
