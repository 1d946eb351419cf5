import ExitLoopGuests

/// Which loop ran the guest.
public enum LoopImplementation: String, Sendable, CaseIterable, CustomStringConvertible {
    /// SwiftVMM's `Machine`: its real vCPU thread, exit loop and device bus.
    case swiftVMM = "swift"
    /// The plain C KVM_RUN loop (CExitLoop).
    case c = "c"

    public var description: String { rawValue }
}

/// One timed, verified run of an `ExitLoopGuest`.
public struct ExitLoopMeasurement: Sendable {
    public let implementation: LoopImplementation
    public let guest: ExitLoopGuest
    /// Wall-clock time of the exit loop: from before the first KVM_RUN to the guest's final
    /// debug-exit write (the same span in both loops).
    public let loopNanoseconds: UInt64

    public init(implementation: LoopImplementation, guest: ExitLoopGuest, loopNanoseconds: UInt64) {
        self.implementation = implementation
        self.guest = guest
        self.loopNanoseconds = loopNanoseconds
    }

    /// Loop time divided by the guest's accesses.
    public var nanosecondsPerExit: Double { Double(loopNanoseconds) / Double(guest.exitCount) }

    /// Runs `guest` once through `implementation` and checks that it did exactly what
    /// `guest.expectedExits` says. A run that did not is an error, never a result.
    public static func measure(_ implementation: LoopImplementation, guest: ExitLoopGuest) throws(ExitLoopError)
        -> ExitLoopMeasurement
    {
        switch implementation {
        case .swiftVMM: return try SwiftVMMExitLoop.measure(guest)
        case .c: return try CExitLoopRunner.measure(guest)
        }
    }
}

/// Why a measurement produced no result.
public enum ExitLoopError: Error, Sendable, CustomStringConvertible {
    /// The VM could not be built or run.
    case setupFailed(implementation: LoopImplementation, reason: String)
    /// The guest ended some other way than with its final debug-exit write.
    case unexpectedEnd(implementation: LoopImplementation, guest: String, end: String)
    /// The run ended normally but its counts are not what the guest's N implies.
    case wrongCounts(implementation: LoopImplementation, guest: String, expected: String, observed: String)

    public var description: String {
        switch self {
        case .setupFailed(let implementation, let reason):
            return "\(implementation): the VM could not be built or run: \(reason)"
        case .unexpectedEnd(let implementation, let guest, let end):
            return "\(implementation) \(guest): the guest did not end with its debug-exit write: \(end)"
        case .wrongCounts(let implementation, let guest, let expected, let observed):
            return
                "\(implementation) \(guest): exit counts do not match N.\n  expected: \(expected)\n  observed: \(observed)"
        }
    }
}

extension ExitLoopGuest {
    /// "KIND MODE N=…", for messages.
    var label: String { "\(kind) \(mode) N=\(exitCount)" }
}
