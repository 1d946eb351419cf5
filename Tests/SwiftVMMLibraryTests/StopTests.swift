import Testing
import VMM

/// Graceful and forced stops, and what cancellation does to the waiting task.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct StopTests {
    @Test func aGuestThatListensPowersOffWithinTheGrace() async throws {
        let machine = try Machine(configuration: firmware("fw.wait=button"))
        let console = ConsoleCollector(try #require(machine.console))
        try machine.start()
        #expect(await console.waitFor { $0 == "fw: waiting for the power button" })
        let started = ContinuousClock.now
        #expect(try await machine.requestStop(grace: .seconds(30)) == .poweredOff)
        #expect(ContinuousClock.now - started < .seconds(10))
        await console.waitForEnd()
        #expect(console.lines.contains("fw: power button pressed"))
    }

    @Test func aGuestThatIgnoresTheButtonIsStoppedAfterTheGrace() async throws {
        let machine = try Machine(configuration: firmware("fw.wait=button fw.ignore-button"))
        let console = ConsoleCollector(try #require(machine.console))
        try machine.start()
        #expect(await console.waitFor { $0 == "fw: waiting for the power button" })
        let started = ContinuousClock.now
        #expect(try await machine.requestStop(grace: .milliseconds(500)) == .stopped)
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(500) && elapsed < .seconds(10), "\(elapsed)")
        await console.waitForEnd()
        #expect(console.lines.contains("fw: power button pressed (ignored)"))
    }

    @Test func stopIsForcedAndIdempotent() async throws {
        let machine = try Machine(configuration: firmware("fw.wait=button fw.ignore-button"))
        try machine.start()
        try machine.stop()
        try machine.stop()
        #expect(try await machine.waitUntilStopped() == .stopped)
        #expect(machine.state == .stopped(.stopped))
    }

    /// Cancelling a task that waits does not stop the machine; it only ends the wait.
    @Test func cancellingAWaiterLeavesTheMachineRunning() async throws {
        let machine = try Machine(configuration: firmware("fw.wait=button"))
        try machine.start()
        let waiter = Task { try await machine.waitUntilStopped() }
        try await Task.sleep(for: .milliseconds(200))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { _ = try await waiter.value }
        #expect(machine.state == .running)
        let alreadyCancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await machine.waitUntilStopped()
        }
        await #expect(throws: CancellationError.self) { _ = try await alreadyCancelled.value }
        #expect(try await machine.requestStop(grace: .seconds(30)) == .poweredOff)
    }

    /// Cancelling the task in requestStop cuts the grace short: the machine is stopped by force.
    @Test func cancellingRequestStopForcesTheStop() async throws {
        let machine = try Machine(configuration: firmware("fw.wait=button fw.ignore-button"))
        try machine.start()
        let stopper = Task { try await machine.requestStop(grace: .seconds(600)) }
        try await Task.sleep(for: .milliseconds(300))
        let started = ContinuousClock.now
        stopper.cancel()
        #expect(try await stopper.value == .stopped)
        #expect(ContinuousClock.now - started < .seconds(10))
    }
}
