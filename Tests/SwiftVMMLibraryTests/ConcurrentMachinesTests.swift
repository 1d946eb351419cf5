import Testing
import VMM

/// Machines in one process are independent: three run at once with different switches.
@Suite(.enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct ConcurrentMachinesTests {
    @Test func threeMachinesRunAtOnce() async throws {
        let rng = Machine.self  // (names for readability below)
        _ = rng
        var rngConfiguration = firmware("fw.test=rng fw.exit=7", name: "rng")
        rngConfiguration.entropyDevice = true
        let machines = [
            try Machine(configuration: rngConfiguration),
            try Machine(configuration: firmware("fw.wait=ticks", vcpus: 2, name: "ticks")),
            try Machine(configuration: firmware("fw.wait=button", name: "button")),
        ]
        let consoles = try machines.map { ConsoleCollector(try #require($0.console)) }
        for machine in machines { try machine.start() }
        #expect(try await machines[0].waitUntilStopped() == .guestStatus(7))
        #expect(await consoles[1].waitFor { $0 == "fw: tick 2" })
        #expect(await consoles[2].waitFor { $0 == "fw: waiting for the power button" })
        try machines[1].pause()
        #expect(machines[2].state == .running, "pausing one machine leaves the others alone")
        #expect(try await machines[2].requestStop(grace: .seconds(30)) == .poweredOff)
        try machines[1].resume()
        #expect(try await machines[1].requestStop(grace: .seconds(30)) == .poweredOff)
        #expect(consoles[0].lines.contains { $0.contains("rng") }, "each console has its own guest's output")
        #expect(!consoles[2].lines.contains { $0.hasPrefix("fw: tick") })
    }
}
