import Testing
import VMM

/// pause() parks the vCPUs and quiesces the devices; resume() lets the guest go on.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct PauseResumeTests {
    /// The firmware prints a tick line every 2^26 TSC cycles (tens of ms): while paused it
    /// makes no progress at all, and after resume it ticks on from where it was.
    @Test func aPausedGuestMakesNoProgress() async throws {
        let machine = try Machine(configuration: firmware("fw.wait=ticks"))
        let console = ConsoleCollector(try #require(machine.console))
        try machine.start()
        let isTick: (String) -> Bool = { $0.hasPrefix("fw: tick ") }
        #expect(await console.waitFor { $0 == "fw: tick 3" }, "the guest ticks")
        try machine.pause()
        #expect(machine.state == .paused)
        // What was printed before the pause reaches the stream within the console thread's gather time.
        try await Task.sleep(for: .milliseconds(100))
        let ticksAtPause = console.count(where: isTick)
        try await Task.sleep(for: .milliseconds(800))
        #expect(console.count(where: isTick) == ticksAtPause, "no ticks while paused")
        try machine.resume()
        #expect(machine.state == .running)
        #expect(await console.waitFor { $0 == "fw: tick \(ticksAtPause + 3)" }, "ticks go on after resume")
        #expect(try await machine.requestStop(grace: .seconds(30)) == .poweredOff)
        let counts = try #require(machine.statistics.exitCounts.first)
        #expect(counts.pauses >= 1, "the pause kick is counted as a pause")
        #expect(counts.pausedNanoseconds >= 700_000_000, "about 900 ms parked, got \(counts.pausedNanoseconds) ns")
    }

    @Test func pauseAndResumeManyTimesWithSeveralVCPUs() async throws {
        let machine = try Machine(configuration: firmware("fw.wait=ticks", vcpus: 2))
        let console = ConsoleCollector(try #require(machine.console))
        try machine.start()
        #expect(await console.waitFor { $0 == "fw: tick 1" })
        for _ in 0..<20 {
            try machine.pause()
            try machine.resume()
        }
        let ticks = console.count { $0.hasPrefix("fw: tick ") }
        #expect(await console.waitFor { $0 == "fw: tick \(ticks + 2)" }, "still ticking after 20 pauses")
        #expect(try await machine.requestStop(grace: .seconds(30)) == .poweredOff)
    }

    /// A paused guest cannot react to the power button: requestStop resumes it first.
    @Test func requestStopResumesAPausedGuest() async throws {
        let machine = try Machine(configuration: firmware("fw.wait=button"))
        let console = ConsoleCollector(try #require(machine.console))
        try machine.start()
        #expect(await console.waitFor { $0 == "fw: waiting for the power button" })
        try machine.pause()
        #expect(try await machine.requestStop(grace: .seconds(30)) == .poweredOff)
    }
}
