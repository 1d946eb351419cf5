import Launcher
import Testing

@Suite struct StopSequenceTests {
    @Test func firstSignalPressesTheButtonSecondForces() {
        var sequence = StopSequence(graceSeconds: 25)
        #expect(sequence.mayBoot)
        #expect(sequence.graceExpired(machineStopped: false) == .none, "no grace armed before a signal")
        #expect(sequence.signal() == .pressPowerButton(forceAfterSeconds: 25))
        #expect(!sequence.mayBoot, "no reboot in place once a stop was asked for")
        #expect(sequence.signal() == .forceStop)
        #expect(sequence.signal() == .forceStop)
    }

    @Test func theGraceForcesOnlyARunningMachine() {
        var sequence = StopSequence(graceSeconds: 0)
        _ = sequence.signal()
        #expect(sequence.graceExpired(machineStopped: false) == .forceStop)
        #expect(sequence.graceExpired(machineStopped: true) == .none)
    }
}
