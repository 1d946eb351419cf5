import Synchronization
import Testing
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// The state machine, and calls made in the wrong state.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct LifecycleTests {
    @Test func aRunGoesThroughItsStatesInOrder() async throws {
        let machine = try Machine(configuration: firmware("fw.wait=button"))
        let console = ConsoleCollector(try #require(machine.console))
        let updates = machine.stateUpdates()
        #expect(machine.state == .created)
        try machine.start()
        #expect(await console.waitFor { $0 == "fw: waiting for the power button" })
        try machine.pause()
        #expect(machine.state == .paused)
        try machine.resume()
        try machine.stop()
        let exit = try await machine.waitUntilStopped()
        #expect(exit == .stopped)
        var seen: [MachineState] = []
        for await state in updates { seen.append(state) }
        #expect(seen == [.created, .running, .paused, .running, .stopping, .stopped(.stopped)])
    }

    @Test func callsInTheWrongStateAreTypedErrors() async throws {
        let machine = try Machine(configuration: firmware("fw.exit=3"))
        let calls: [(String, () throws -> Void)] = [
            ("stop", { try machine.stop() }), ("pause", { try machine.pause() }), ("resume", { try machine.resume() }),
            ("pressPowerButton", { try machine.pressPowerButton() }),
        ]
        for (name, call) in calls {
            #expect("\(name) before start()") {
                try call()
            } throws: { error in
                guard let error = error as? MachineError else { return false }
                return error.code == .invalidState && error.message.contains("created")
            }
        }
        await #expect(throws: MachineError.self) { _ = try await machine.requestStop(grace: .seconds(1)) }
        try machine.start()
        #expect(try await machine.waitUntilStopped() == .guestStatus(3))
        #expect(throws: MachineError.self, "a machine starts once") { try machine.start() }
        #expect(throws: MachineError.self, "a stopped machine does not pause") { try machine.pause() }
        #expect(throws: MachineError.self, "nor resume") { try machine.resume() }
        try machine.stop()  // stopping a stopped machine does nothing
        #expect(try await machine.requestStop(grace: .seconds(1)) == .guestStatus(3))
        #expect(machine.state == .stopped(.guestStatus(3)))
    }

    @Test func resumeWhileRunningAndPauseWhilePausedAreErrors() async throws {
        let machine = try Machine(configuration: firmware("fw.wait=button"))
        try machine.start()
        #expect(throws: MachineError.self) { try machine.resume() }
        try machine.pause()
        #expect(throws: MachineError.self) { try machine.pause() }
        try machine.stop()  // a paused machine can be stopped
        #expect(try await machine.waitUntilStopped() == .stopped)
    }

    @Test func eventsReportStateChangesAndTheReadySignal() async throws {
        let events = EventLog()
        let machine = try Machine(configuration: firmware("fw.wait=button"), events: { events.append($0) })
        try machine.start()
        #expect(try await machine.requestStop(grace: .seconds(30)) == .poweredOff)
        let seen = events.all
        #expect(seen.first == .stateChanged(.running))
        #expect(seen.contains { if case .guestReady = $0 { true } else { false } })
        #expect(seen.contains(.powerButtonPressed))
        #expect(seen.last == .stateChanged(.stopped(.poweredOff)))
    }

    /// The guest's ready signal comes on a vCPU thread; its event reaches the closure on the
    /// monitor thread, outside every guest thread's seccomp filter (the closure opens a file).
    @Test func theReadyEventRunsOffTheGuestThreads() async throws {
        let threads = Mutex<[String]>([])
        let opened = Mutex<[Bool]>([])
        let machine = try Machine(configuration: firmware("fw.wait=button")) { event in
            guard case .guestReady = event else { return }
            // The thread's name, read from /proc (an open(2) a vCPU thread's filter refuses).
            let descriptor = open("/proc/thread-self/comm", O_RDONLY | O_CLOEXEC)
            opened.withLock { $0.append(descriptor >= 0) }
            guard descriptor >= 0 else { return }
            var bytes = [UInt8](repeating: 0, count: 32)
            let count = read(descriptor, &bytes, bytes.count)
            close(descriptor)
            let name = String(decoding: bytes.prefix(max(0, count)), as: UTF8.self)
            threads.withLock { $0.append(String(name.prefix { $0 != "\n" })) }
        }
        try machine.start()
        #expect(try await machine.requestStop(grace: .seconds(30)) == .poweredOff)
        #expect(threads.withLock { $0 } == ["vmm-monitor"])
        #expect(opened.withLock { $0 } == [true], "the closure may open a file")
    }
}

/// Events as the handler saw them.
final class EventLog: Sendable {
    private let events = Mutex<[MachineEvent]>([])
    func append(_ event: MachineEvent) { events.withLock { $0.append(event) } }
    var all: [MachineEvent] { events.withLock { $0 } }
}
