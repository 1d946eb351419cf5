import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where paused threads wait. `pause` raises the flag (the caller then kicks the vCPUs out of
/// KVM_RUN); each vCPU thread, at the safe point between two KVM_RUN calls, parks here until
/// `resume` (or a stop) releases it. The flag is read only on the interrupted-exit path, so the
/// exit loop pays nothing for it.
final class PauseGate: Sendable {
    private struct State {
        var requested = false
        var parked: [DispatchSemaphore] = []
    }

    /// Raised by `request()`, lowered by `release()`; read by the vCPU loop after a kick.
    let isRequested = Atomic<Bool>(false)
    private let state = Mutex(State())

    /// Asks every thread that checks the gate to park.
    func request() {
        state.withLock { $0.requested = true }
        isRequested.store(true, ordering: .sequentiallyConsistent)
    }

    /// Lowers the flag and wakes every parked thread.
    func release() {
        let parked = state.withLock { state in
            state.requested = false
            defer { state.parked = [] }
            return state.parked
        }
        isRequested.store(false, ordering: .sequentiallyConsistent)
        for semaphore in parked { semaphore.signal() }
    }

    /// How many threads are parked now.
    var parkedCount: Int { state.withLock { $0.parked.count } }

    /// Parks the calling thread while a pause is requested; returns at once otherwise. Returns
    /// whether it parked.
    @discardableResult
    func parkIfRequested() -> Bool {
        let semaphore = DispatchSemaphore(value: 0)
        let park = state.withLock { state in
            guard state.requested else { return false }
            state.parked.append(semaphore)
            return true
        }
        if park { semaphore.wait() }
        return park
    }

    /// Waits (polling every 100 µs) until `done()` is true or `timeoutMilliseconds` have passed.
    static func waitUntil(timeoutMilliseconds: Int, _ done: () -> Bool) -> Bool {
        var waitedMicroseconds = 0
        while !done() {
            if waitedMicroseconds >= timeoutMilliseconds * 1000 { return false }
            usleep(100)
            waitedMicroseconds += 100
        }
        return true
    }
}
