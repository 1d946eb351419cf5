/// Notable moments of a machine's run, delivered to the `events` handler of `Machine.init` on
/// the thread where they happen.
public enum MachineEvent: Sendable, Equatable {
    /// The machine's state changed (the same values `Machine.stateUpdates()` yields).
    case stateChanged(MachineState)
    /// The guest signalled "ready" through the boot timer, this long after `start()`.
    case guestReady(nanosecondsAfterStart: UInt64)
    /// `pressPowerButton()` (or `requestStop(grace:)`) pressed the power button.
    case powerButtonPressed
}
