import Synchronization

/// Turns the guest's console chunks into whole lines for the pod's log (what `kubectl logs`
/// shows): complete lines are written at once, a partial line waits for its end — or for an
/// idle period, so that a prompt without a line feed (`login: `) still appears. A line longer
/// than `maximumLineBytes` is written in pieces. Thread-safe; `sink` gets each piece in order.
public final class ConsoleLineWriter: Sendable {
    public static let maximumLineBytes = 16 * 1024

    private struct State {
        var partial: [UInt8] = []
        var lastInputNanoseconds: UInt64 = 0
    }

    private let state = Mutex(State())
    private let sink: @Sendable ([UInt8]) -> Void
    private let idleNanoseconds: UInt64

    /// Writes to `sink`; a partial line is flushed after `idleMilliseconds` without input.
    public init(idleMilliseconds: Int, sink: @escaping @Sendable ([UInt8]) -> Void) {
        self.sink = sink
        // Saturating: a period past 64 bits of nanoseconds (585 years) means "never".
        let (nanoseconds, overflow) = UInt64(max(1, idleMilliseconds)).multipliedReportingOverflow(by: 1_000_000)
        self.idleNanoseconds = overflow ? .max : nanoseconds
    }

    /// Takes a chunk of console output at time `now` (nanoseconds, any monotonic clock).
    public func feed(_ chunk: [UInt8], now: UInt64) {
        state.withLock { state in
            state.lastInputNanoseconds = now
            var start = chunk.startIndex
            for index in chunk.indices where chunk[index] == UInt8(ascii: "\n") {
                state.partial += chunk[start...index]
                sink(state.partial)
                state.partial = []
                start = index + 1
            }
            state.partial += chunk[start...]
            while state.partial.count >= Self.maximumLineBytes {
                sink(Array(state.partial.prefix(Self.maximumLineBytes)))
                state.partial.removeFirst(Self.maximumLineBytes)
            }
        }
    }

    /// Writes the partial line if no input came for the idle period (call it periodically).
    public func flushIfIdle(now: UInt64) {
        state.withLock { state in
            guard !state.partial.isEmpty, now &- state.lastInputNanoseconds >= idleNanoseconds else { return }
            sink(state.partial)
            state.partial = []
        }
    }

    /// Writes whatever is left (at the end of the run).
    public func finish() {
        state.withLock { state in
            if !state.partial.isEmpty { sink(state.partial) }
            state.partial = []
        }
    }
}
