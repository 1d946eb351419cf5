import CSignalWaiter
import Dispatch
import Synchronization
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// The commands' SIGTERM/SIGINT handling (the VMM library never touches these signals): the
/// first signal presses the guest's power button and arms a forced stop after the grace
/// period; a second signal forces the stop at once. With reboot in place the signals follow
/// whichever machine is current (`attach(_:)`), and once a signal came no new boot starts.
final class ShutdownSignals {
    private let control = shutdownControl
    private let graceSeconds: Double
    private let log: RunLog
    private var started = false

    /// Signals that will press the power button with `graceSeconds` of grace and note what they
    /// do in `log`; nothing is blocked before `block(reapChildren:)`.
    init(graceSeconds: Double, log: RunLog) {
        self.graceSeconds = graceSeconds
        self.log = log
    }

    /// Signals blocked at once (`block(reapChildren:)`).
    static func blocked(graceSeconds: Double, log: RunLog, reapChildren: Bool = false) -> ShutdownSignals {
        let signals = ShutdownSignals(graceSeconds: graceSeconds, log: log)
        signals.block(reapChildren: reapChildren)
        return signals
    }

    /// Blocks SIGTERM and SIGINT in the calling (main) thread, before any other thread exists
    /// (`StepOrder`, rule 2): every thread inherits the mask, so the signals stay pending — never
    /// lost, never fatal — until `start()` takes them with sigwait.
    /// With `reapChildren` (a container's PID 1) the waiter also reaps every child that ends.
    func block(reapChildren: Bool) {
        control.withLock { control in
            control.sequence = StopSequence(graceSeconds: graceSeconds)
            control.log = log
        }
        _ = csignalwaiter_block()
        if reapChildren { _ = csignalwaiter_reap_children() }
    }

    /// Starts taking the signals on their own thread (one that came earlier is taken at once).
    /// Called once the process is sandboxed, so that the thread is born without capabilities.
    func start() {
        guard !started else { return }
        started = true
        _ = csignalwaiter_start { number in ShutdownSignals.handle(Int32(number)) }
    }

    /// Runs on the waiter thread for each signal.
    private static func handle(_ number: Int32) {
        let control = shutdownControl
        let (action, machine, noMachine, log) = control.withLock { control in
            (control.sequence.signal(), control.machine, control.noMachine, control.log)
        }
        if machine == nil, action != .none, let noMachine {
            log.note("signal \(number): no machine is running: ending")
            noMachine()
            return
        }
        switch action {
        case .pressPowerButton(let graceSeconds):
            log.note("signal \(number): pressing the power button; forced stop in \(graceSeconds) s")
            try? machine?.pressPowerButton()
            timers.asyncAfter(deadline: .now() + graceSeconds) {
                let (current, sequence) = control.withLock { ($0.machine, $0.sequence) }
                guard let current else { return }
                var stopped = false
                if case .stopped = current.state { stopped = true }
                guard sequence.graceExpired(machineStopped: stopped) == .forceStop else { return }
                log.note("the guest did not power off within \(graceSeconds) s: forcing a stop")
                try? current.stop()
            }
        case .forceStop:
            log.note("signal \(number) again: forcing a stop")
            try? machine?.stop()
        case .none:
            break
        }
    }

    private static let timers = DispatchQueue(label: "swiftvmm.signals")

    /// Makes `machine` the one the signals act on; false (and nothing changes) if SIGTERM or
    /// SIGINT already came, when the run should end rather than boot again.
    func attach(_ machine: Machine) -> Bool {
        control.withLock { control in
            guard control.sequence.mayBoot else { return false }
            control.machine = machine
            return true
        }
    }

    /// What a signal does while no machine runs (`serve` before InstanceStart): by default
    /// nothing (the run ends before booting).
    func whenNoMachine(_ action: @escaping @Sendable () -> Void) {
        control.withLock { $0.noMachine = action }
    }

    /// Forgets the current machine (after its run) so that it can be released.
    func detach() {
        control.withLock { $0.machine = nil }
    }

    /// Stops acting on signals (they stay blocked: the process is exiting).
    func cancel() {
        control.withLock { $0.machine = nil }
    }
}

/// What the signal waiter acts on: one per process, as signal dispositions are (the waiter is a
/// C thread that calls a function without context).
private let shutdownControl = SignalControl()

/// What the signal handlers act on: the current machine and whether a signal came.
private final class SignalControl: Sendable {
    private let state = Mutex(State())

    struct State {
        var machine: Machine?
        var sequence = StopSequence(graceSeconds: 30)
        var noMachine: (@Sendable () -> Void)?
        var log = RunLog.standardError
    }

    func withLock<Result>(_ body: (inout State) -> Result) -> Result {
        state.withLock { body(&$0) }
    }
}
