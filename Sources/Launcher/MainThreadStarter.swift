import Dispatch
import FirecrackerAPI
import Synchronization
import VMM

/// Hands InstanceStart's configuration to the main thread and its outcome back to the API.
final class MainThreadStarter: MachineStarter, Sendable {
    private let seccomp: SeccompMode?
    private let state = Mutex(State())
    private let requested = DispatchSemaphore(value: 0)
    private let answered = DispatchSemaphore(value: 0)

    struct State {
        var configuration: VirtualMachineConfiguration?
        var outcome: Result<Machine, FirecrackerFault>?
        var shuttingDown = false
        var exitOnFailure = false
    }

    init(seccomp: SeccompMode?) {
        self.seccomp = seccomp
    }

    /// A failed start ends the process (`--config-file`).
    var exitOnFailure: Bool {
        get { state.withLock { $0.exitOnFailure } }
        set { state.withLock { $0.exitOnFailure = newValue } }
    }

    func start(_ configuration: VirtualMachineConfiguration) throws(FirecrackerFault) -> Machine {
        var configuration = configuration
        if let seccomp { configuration.seccomp = seccomp }
        let accepted = state.withLock { state in
            guard !state.shuttingDown else { return false }
            state.configuration = configuration
            state.outcome = nil
            return true
        }
        guard accepted else { throw FirecrackerFault("The VMM is shutting down.") }
        requested.signal()
        answered.wait()
        guard let outcome = state.withLock({ $0.outcome }) else { throw FirecrackerFault("The VMM is shutting down.") }
        return try outcome.get()
    }

    /// Waits for the next start request; nil once the process is shutting down.
    func nextRequest() -> VirtualMachineConfiguration? {
        requested.wait()
        return state.withLock { state in
            guard !state.shuttingDown else { return nil }
            defer { state.configuration = nil }
            return state.configuration
        }
    }

    func answer(_ outcome: Result<Machine, FirecrackerFault>) {
        state.withLock { $0.outcome = outcome }
        answered.signal()
    }

    /// Ends the wait of the main thread (a signal before any machine started).
    func shutDown() {
        state.withLock { $0.shuttingDown = true }
        requested.signal()
        answered.signal()
    }
}
