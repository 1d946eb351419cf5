/// Notable moments of a machine's run, delivered to the `events` handler of `Machine.init`.
public enum MachineEvent: Sendable, Equatable {
    /// The guest signalled "ready" through the boot timer, this long after `start()`.
    case guestReady(nanosecondsAfterStart: UInt64)
}
