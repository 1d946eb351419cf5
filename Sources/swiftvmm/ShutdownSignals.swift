import Dispatch
import Synchronization
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// The executable's SIGTERM/SIGINT handling (the library never touches these signals): the
/// first signal presses the guest's power button and arms a forced stop after the grace
/// period; a second signal forces the stop at once.
final class ShutdownSignals {
    private let sources: [any DispatchSourceSignal]

    init(machine: Machine, graceSeconds: Double) {
        let queue = DispatchQueue(label: "swiftvmm.signals")
        let pressed = ManagedFlag()
        sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                if pressed.setOnce() {
                    RunLog.note("signal \(number): pressing the power button; forced stop in \(graceSeconds) s")
                    machine.pressPowerButton()
                    queue.asyncAfter(deadline: .now() + graceSeconds) {
                        if case .stopped = machine.state { return }
                        RunLog.note("the guest did not power off within \(graceSeconds) s: forcing a stop")
                        machine.stop()
                    }
                } else {
                    RunLog.note("signal \(number) again: forcing a stop")
                    machine.stop()
                }
            }
            source.resume()
            return source
        }
    }

    /// Stops listening (the default dispositions are not restored: the process is exiting).
    func cancel() {
        for source in sources { source.cancel() }
    }
}

/// A flag that can be set once.
private final class ManagedFlag: Sendable {
    private let isSet = Atomic<Bool>(false)

    /// Sets the flag; true the first time.
    func setOnce() -> Bool {
        !isSet.exchange(true, ordering: .acquiringAndReleasing)
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
