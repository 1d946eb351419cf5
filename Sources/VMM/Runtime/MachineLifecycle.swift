import Dispatch
import Synchronization

/// A machine's lifecycle — created → running ⇄ paused → stopping → stopped, where a guest-made
/// end goes from running straight to stopped — and who waits for its end or watches its state.
/// Observers and waiters are resumed on the thread that changes the state (the monitor thread
/// at the end), never while the lock is held.
final class MachineLifecycle: Sendable {
    /// The state and the first reason given for ending the run.
    struct Phase {
        var state: MachineState = .created
        var pendingExit: MachineExit?
    }

    private struct Record {
        var phase = Phase()
        var blockedWaiters: [DispatchSemaphore] = []
        var asyncWaiters: [Int: CheckedContinuation<MachineExit, any Error>] = [:]
        var cancelledWaiters: Set<Int> = []
        var nextWaiter = 0
        var observers: [Int: AsyncStream<MachineState>.Continuation] = [:]
        var nextObserver = 0
    }

    private let record = Mutex(Record())
    private let events: (@Sendable (MachineEvent) -> Void)?

    init(events: (@Sendable (MachineEvent) -> Void)?) {
        self.events = events
    }

    var state: MachineState { record.withLock { $0.phase.state } }

    /// Reads or changes the phase atomically.
    func withPhase<Result>(_ body: (inout Phase) -> Result) -> Result {
        record.withLock { body(&$0.phase) }
    }

    /// Keeps the first exit reason.
    func record(_ exit: MachineExit) {
        withPhase { phase in
            if phase.pendingExit == nil { phase.pendingExit = exit }
        }
    }

    /// Tells the observers (and the events closure) of a new state.
    func publish(_ state: MachineState) {
        let observers = record.withLock { Array($0.observers.values) }
        for observer in observers { observer.yield(state) }
        events?(.stateChanged(state))
    }

    /// A stream of states, starting with the current one; it finishes once stopped.
    func stateUpdates() -> AsyncStream<MachineState> {
        let (stream, continuation) = AsyncStream.makeStream(of: MachineState.self)
        let (current, id): (MachineState, Int?) = record.withLock { record in
            if case .stopped = record.phase.state { return (record.phase.state, nil) }
            record.nextObserver += 1
            record.observers[record.nextObserver] = continuation
            return (record.phase.state, record.nextObserver)
        }
        continuation.yield(current)
        if let id {
            continuation.onTermination = { [weak self] _ in
                _ = self?.record.withLock { $0.observers.removeValue(forKey: id) }
            }
        } else {
            continuation.finish()
        }
        return stream
    }

    /// Enters `.stopped` with the pending exit, runs `announce` with it (the log line), then
    /// resumes every observer and waiter.
    func finish(announce: (MachineExit) -> Void) {
        let (exit, blocked, waiting, observers) = record.withLock { record in
            let exit = record.phase.pendingExit ?? .stopped
            record.phase.state = .stopped(exit)
            defer {
                record.blockedWaiters = []
                record.asyncWaiters = [:]
                record.cancelledWaiters = []
                record.observers = [:]
            }
            return (exit, record.blockedWaiters, Array(record.asyncWaiters.values), Array(record.observers.values))
        }
        announce(exit)
        for observer in observers {
            observer.yield(.stopped(exit))
            observer.finish()
        }
        events?(.stateChanged(.stopped(exit)))
        for semaphore in blocked { semaphore.signal() }
        for continuation in waiting { continuation.resume(returning: exit) }
    }

    // MARK: - Waiting

    /// Blocks the calling thread until stopped.
    func blockUntilStopped() -> MachineExit {
        let semaphore = DispatchSemaphore(value: 0)
        let stoppedAlready: MachineExit? = record.withLock { record in
            if case .stopped(let exit) = record.phase.state { return exit }
            record.blockedWaiters.append(semaphore)
            return nil
        }
        if let stoppedAlready { return stoppedAlready }
        semaphore.wait()
        guard case .stopped(let exit) = state else { return .vmmError("woken before the machine stopped") }
        return exit
    }

    /// Waits until stopped; throws `CancellationError` when the waiting task is cancelled (the
    /// machine goes on).
    func waitUntilStopped() async throws -> MachineExit {
        let id = newWaiterID()
        return try await withTaskCancellationHandler {
            try await awaitStop(id)
        } onCancel: {
            let continuation: CheckedContinuation<MachineExit, any Error>? = record.withLock { record in
                if let continuation = record.asyncWaiters.removeValue(forKey: id) { return continuation }
                if case .stopped = record.phase.state { return nil }
                record.cancelledWaiters.insert(id)
                return nil
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Waits until stopped, whether or not the waiting task is cancelled.
    func waitUntilStoppedIgnoringCancellation() async -> MachineExit {
        (try? await awaitStop(newWaiterID())) ?? .vmmError("the stop could not be awaited")
    }

    private func newWaiterID() -> Int {
        record.withLock { record in
            record.nextWaiter += 1
            return record.nextWaiter
        }
    }

    private func awaitStop(_ id: Int) async throws -> MachineExit {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<MachineExit, any Error>) in
            let outcome: Result<MachineExit, CancellationError>? = record.withLock { record in
                if case .stopped(let exit) = record.phase.state { return .success(exit) }
                if record.cancelledWaiters.remove(id) != nil { return .failure(CancellationError()) }
                record.asyncWaiters[id] = continuation
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }
}
