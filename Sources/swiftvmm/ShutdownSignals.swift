import Dispatch
import Synchronization
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// The executable's SIGTERM/SIGINT handling (the library never touches these signals): the
/// first signal presses the guest's power button and arms a forced stop after the grace
/// period; a second signal forces the stop at once. With reboot in place the signals follow
/// whichever machine is current (`attach(_:)`), and once a signal came no new boot starts.
final class ShutdownSignals {
    private var sources: [any DispatchSourceSignal] = []
    private let control = SignalControl()
    private let graceSeconds: Double

    init(graceSeconds: Double) {
        self.graceSeconds = graceSeconds
    }

    /// Starts listening. Called once the process is sandboxed, so that Dispatch's threads are
    /// born without capabilities (capabilities are per thread); until then the signals keep
    /// their default action (a SIGTERM during set-up ends the process before any guest runs).
    func start() {
        guard sources.isEmpty else { return }
        let queue = DispatchQueue(label: "swiftvmm.signals")
        let control = self.control
        let graceSeconds = self.graceSeconds
        sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                let (first, machine) = control.withLock { control in
                    defer { control.signalled = true }
                    return (!control.signalled, control.machine)
                }
                if first {
                    RunLog.note("signal \(number): pressing the power button; forced stop in \(graceSeconds) s")
                    machine?.pressPowerButton()
                    queue.asyncAfter(deadline: .now() + graceSeconds) {
                        let current = control.withLock { $0.machine }
                        guard let current else { return }
                        if case .stopped = current.state { return }
                        RunLog.note("the guest did not power off within \(graceSeconds) s: forcing a stop")
                        current.stop()
                    }
                } else {
                    RunLog.note("signal \(number) again: forcing a stop")
                    machine?.stop()
                }
            }
            source.resume()
            return source
        }
    }

    /// Makes `machine` the one the signals act on; false (and nothing changes) if SIGTERM or
    /// SIGINT already came, when the run should end rather than boot again.
    func attach(_ machine: Machine) -> Bool {
        control.withLock { control in
            guard !control.signalled else { return false }
            control.machine = machine
            return true
        }
    }

    /// Forgets the current machine (after its run) so that it can be released.
    func detach() {
        control.withLock { $0.machine = nil }
    }

    /// Stops listening (the default dispositions are not restored: the process is exiting).
    func cancel() {
        for source in sources { source.cancel() }
    }
}

/// What the signal handlers act on: the current machine and whether a signal came.
private final class SignalControl: Sendable {
    private let state = Mutex(State())

    struct State {
        var machine: Machine?
        var signalled = false
    }

    func withLock<Result>(_ body: (inout State) -> Result) -> Result {
        state.withLock { body(&$0) }
    }
}

/// The executable's log lines on stderr.
enum RunLog {
    static func note(_ text: String) {
        writeStandardError("swiftvmm: \(text)\n")
    }

    static let event: @Sendable (MachineEvent) -> Void = { event in
        switch event {
        case .guestReady(let nanoseconds):
            let milliseconds = Double(nanoseconds / 1000) / 1000
            note("guest ready (boot timer) \(milliseconds) ms after start")
        }
    }
}
