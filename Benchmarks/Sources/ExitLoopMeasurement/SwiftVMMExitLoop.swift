import ExitLoopGuests
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// Runs an `ExitLoopGuest` through SwiftVMM's public API: a fresh `Machine` per run, its own
/// vCPU thread, exit loop and bus, with an exit probe on each port and MMIO range.
public enum SwiftVMMExitLoop {
    /// The probes every run registers (the same bus for every kind), in this order.
    static let probes: [ExitProbeConfiguration] = [
        ExitProbeConfiguration(
            space: .port, address: UInt64(ExitLoopLayout.userPort), length: ExitLoopLayout.accessBytes,
            readValue: ExitLoopLayout.readValue),
        ExitProbeConfiguration(
            space: .port, address: UInt64(ExitLoopLayout.inKernelPort), length: ExitLoopLayout.accessBytes,
            inKernel: true),
        ExitProbeConfiguration(
            space: .mmio, address: ExitLoopLayout.userMMIOAddress, length: ExitLoopLayout.accessBytes,
            readValue: ExitLoopLayout.readValue),
        ExitProbeConfiguration(
            space: .mmio, address: ExitLoopLayout.inKernelMMIOAddress, length: ExitLoopLayout.accessBytes,
            inKernel: true),
    ]

    /// The vCPU thread's seccomp filter: on, as in production, unless `EXIT_LOOP_SECCOMP=off`
    /// (valgrind cannot install filters: the callgrind runs count user-space instructions,
    /// which the kernel-side filter does not change).
    static var seccomp: SeccompMode {
        getenv("EXIT_LOOP_SECCOMP").flatMap { SeccompMode(rawValue: String(cString: $0)) } ?? .enforce
    }

    /// The machine configuration for `guest`: 1 MiB, one vCPU, no irqchip, the four probes.
    public static func configuration(for guest: ExitLoopGuest) -> VirtualMachineConfiguration {
        VirtualMachineConfiguration(
            name: "exit-loop", vcpuCount: 1, memoryMiB: Int(ExitLoopLayout.memoryBytes >> 20),
            rawCode: RawCodeBoot(
                code: guest.code, loadAddress: ExitLoopLayout.loadAddress, mode: guest.mode.rawCodeMode,
                registers: .init(rbx: guest.rbx, rcx: guest.rcx, rdx: guest.rdx)),
            console: .none, inKernelIRQChip: false, probes: probes, seccomp: seccomp)
    }

    /// Builds a machine for `guest` (not timed).
    public static func makeMachine(for guest: ExitLoopGuest) throws(ExitLoopError) -> Machine {
        do {
            return try Machine(configuration: configuration(for: guest))
        } catch {
            throw .setupFailed(implementation: .swiftVMM, reason: error.description)
        }
    }

    /// Runs a built machine to its end (the part package-benchmark measures).
    public static func run(_ machine: Machine) throws(ExitLoopError) -> MachineExit {
        do {
            return try machine.run()
        } catch {
            throw .setupFailed(implementation: .swiftVMM, reason: error.description)
        }
    }

    /// Checks a finished machine against `guest` and returns its loop time.
    public static func verify(_ machine: Machine, exit: MachineExit, guest: ExitLoopGuest) throws(ExitLoopError)
        -> ExitLoopMeasurement
    {
        guard exit == .guestStatus(UInt32(ExitLoopLayout.finishedStatus)) else {
            throw .unexpectedEnd(implementation: .swiftVMM, guest: guest.label, end: exit.description)
        }
        let counts = machine.statistics.exitCounts[0]
        let statistics = machine.statistics.probes
        let expected = guest.expectedExits
        // What user space saw must match N exactly. The writes an ioeventfd absorbed are not
        // visible through Machine's API (it does not expose the eventfd counters), so for the
        // in-kernel kinds the check is: the loop ran to its end (the status above; the loop
        // exits only when ECX reaches 0) and none of its writes reached user space.
        let userSpaceMatches =
            counts.portOut == expected.portOut && counts.portIn == expected.portIn
            && counts.mmioWrite == expected.mmioWrite && counts.mmioRead == expected.mmioRead
            && counts.interrupted == 0
            && statistics[0].writes == (guest.kind == .portOut ? expected.portOut - 1 : 0)
            && statistics[0].reads == expected.portIn
            && statistics[1].writes == 0 && statistics[1].reads == 0
            && statistics[2].writes == expected.mmioWrite && statistics[2].reads == expected.mmioRead
            && statistics[3].writes == 0 && statistics[3].reads == 0
        guard userSpaceMatches else {
            let probes = statistics.enumerated().map { "probe\($0.offset) w\($0.element.writes)/r\($0.element.reads)" }
            throw .wrongCounts(
                implementation: .swiftVMM, guest: guest.label,
                expected: "\(expected) (ioeventfd counts not observable), 0 interrupted",
                observed:
                    "pio out \(counts.portOut), pio in \(counts.portIn), mmio write \(counts.mmioWrite), "
                    + "mmio read \(counts.mmioRead), \(counts.interrupted) interrupted; "
                    + probes.joined(separator: ", "))
        }
        return ExitLoopMeasurement(implementation: .swiftVMM, guest: guest, loopNanoseconds: counts.runNanoseconds)
    }

    /// Builds, runs and verifies one machine for `guest`.
    public static func measure(_ guest: ExitLoopGuest) throws(ExitLoopError) -> ExitLoopMeasurement {
        let machine = try makeMachine(for: guest)
        let exit = try run(machine)
        return try verify(machine, exit: exit, guest: guest)
    }
}

extension GuestMode {
    /// The matching SwiftVMM raw-code mode.
    var rawCodeMode: RawCodeBoot.Mode {
        switch self {
        case .long64User: return .long64User
        case .real16: return .real16
        }
    }
}
