/// The stop sequence of `run` and `launch` as a state machine, apart from signals and timers:
/// the first SIGTERM/SIGINT presses the power button and arms a forced stop after the grace
/// period; a second signal forces the stop at once; when the grace runs out, a machine that is
/// still running is forced to stop; once a signal came, no new boot starts (reboot in place).
public struct StopSequence: Sendable, Equatable {
    /// What to do now.
    public enum Action: Sendable, Equatable {
        /// Press the guest's power button and call `graceExpired` after `forceAfterSeconds`.
        case pressPowerButton(forceAfterSeconds: Double)
        /// Stop the machine now (the guest does not get to power off).
        case forceStop
        /// Nothing.
        case none
    }

    /// Seconds between the power button and the forced stop.
    public let graceSeconds: Double
    /// Whether a stop signal came.
    public private(set) var signalled = false

    public init(graceSeconds: Double) { self.graceSeconds = graceSeconds }

    /// A stop signal came.
    public mutating func signal() -> Action {
        defer { signalled = true }
        return signalled ? .forceStop : .pressPowerButton(forceAfterSeconds: graceSeconds)
    }

    /// The grace period armed by the first signal ran out.
    public func graceExpired(machineStopped: Bool) -> Action {
        signalled && !machineStopped ? .forceStop : .none
    }

    /// Whether a (re)boot may start.
    public var mayBoot: Bool { !signalled }
}
