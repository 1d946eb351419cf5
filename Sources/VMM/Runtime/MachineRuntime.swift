@_spi(ExitPath) import Devices
import EventLoop
@_spi(ExitPath) import KVM
import Logging
import Sandbox
import Synchronization
import Threads

/// A machine's running part, which its threads hold (the public `Machine` is only a handle, so
/// that releasing it can stop a running machine): its parts (`resources`: memory, devices,
/// vCPUs), its lifecycle, and the threads it starts — one per vCPU, the I/O thread, the
/// console writer and input pump, and the monitor that ends the run.
final class MachineRuntime: Sendable {
    let configuration: VirtualMachineConfiguration
    let resources: MachineResources
    let console: MachineConsole?
    let logger: Logger
    let logRelay: LogRelay
    let events: (@Sendable (MachineEvent) -> Void)?
    let lifecycle: MachineLifecycle
    /// When `start()` ran (the guest-ready event and statistic count from it).
    let startTime: MonotonicTimestamp
    private let helpers = Mutex(Helpers())
    /// Serializes pause() and resume() (never taken by stop, so a stop is never held up).
    private let pauseControl = Mutex(())
    /// How long pause() waits for the threads to park.
    static let pauseTimeoutMilliseconds = 5000

    /// The threads besides the vCPUs' and the I/O thread.
    private struct Helpers {
        var monitor: OSThread?
        var consoleWriter: ConsoleWriter?
        var inputPump: ConsoleInputPump?
    }

    init(
        configuration: VirtualMachineConfiguration, resources: MachineResources, console: MachineConsole?,
        logger: Logger, logRelay: LogRelay, startTime: MonotonicTimestamp, events: (@Sendable (MachineEvent) -> Void)?
    ) {
        self.startTime = startTime
        self.configuration = configuration
        self.resources = resources
        self.console = console
        self.logger = logger
        self.logRelay = logRelay
        self.events = events
        lifecycle = MachineLifecycle(events: events)
    }

    var state: MachineState { lifecycle.state }
    private var vcpus: VCPUManager { resources.vcpus }
    private var devices: DeviceManager { resources.devices }

    /// How the machine's threads are doing.
    var health: MachineHealth {
        let threads = vcpus.threads
        return MachineHealth(
            vcpuCount: configuration.vcpuCount, vcpuThreadsStarted: threads.count,
            vcpuThreadsEnded: threads.filter { $0.isFinished }.count,
            ioThreadNanosecondsSinceProgress: devices.ioThread.nanosecondsSinceProgress)
    }

    // MARK: - Start

    /// Starts, in order: the console input pump and writer, the disks' engines and the I/O
    /// thread, the vCPU threads, and the monitor that waits for them to end.
    func start() throws(MachineError) {
        let current: MachineState? = lifecycle.withPhase { phase in
            guard case .created = phase.state else { return phase.state }
            phase.state = .running
            return nil
        }
        if let current {
            throw .invalidState("start()", current, "a machine starts once; build a new Machine to run again")
        }
        startTime.nanoseconds = monotonicNanoseconds()
        lifecycle.publish(.running)
        logger.info("machine started", metadata: ["vcpus": "\(configuration.vcpuCount)"])
        do {
            let seccomp = configuration.seccomp
            let inputPump = try inputDescriptor.map { descriptor throws(EventLoopError) in
                try ConsoleInputPump(
                    descriptor: descriptor, serial: devices.platform.serial, loop: devices.ioThread.loop)
            }
            helpers.withLock { $0.inputPump = inputPump }
            if let writer = try ConsoleWriter(output: devices.console, seccomp: seccomp) {
                helpers.withLock { $0.consoleWriter = writer }
            }
            try devices.start(seccomp: seccomp, inputPump: inputPump)
            try vcpus.startThreads { [self] runner in runVCPU(runner) }
            let vcpuThreads = vcpus.threads
            let monitor = try OSThread(name: "vmm-monitor") { [self] in monitorRun(vcpuThreads) }
            helpers.withLock { $0.monitor = monitor }
            if lifecycle.withPhase({ $0.pendingExit != nil }) { vcpus.stopAll() }
        } catch {
            let failure = Self.startFailure(error)
            lifecycle.record(.vmmError(failure.message))
            vcpus.stopAll()
            for thread in vcpus.threads { thread.join() }
            tearDownThreads()
            finish()
            throw failure
        }
    }

    private static func startFailure(_ error: any Error) -> MachineError {
        switch error {
        case let error as ThreadError: return .from(error)
        case let error as EventLoopError: return .from(error, resource: "console")
        case let error as MachineError: return error
        default: return .setupFailed("threads", "could not start the machine's threads: \(error)")
        }
    }

    /// The descriptor console input comes from, if any: the stream's pipe, or the caller's.
    private var inputDescriptor: Int32? {
        switch configuration.console {
        case .stream: return console?.inputReadEnd
        case .fileDescriptor(let read, _): return read
        case .stdio, .file, .none: return nil
        }
    }

    // MARK: - Stop

    func stop() throws(MachineError) {
        let (changed, current): (Bool, MachineState) = lifecycle.withPhase { phase in
            switch phase.state {
            case .created: return (false, phase.state)
            case .running, .paused:
                if phase.pendingExit == nil { phase.pendingExit = .stopped }
                phase.state = .stopping
                return (true, .stopping)
            case .stopping, .stopped: return (false, phase.state)
            }
        }
        if case .created = current {
            throw .invalidState("stop()", current, "start() it first, or just release it")
        }
        if changed {
            logger.info("stop requested: forcing the vCPUs out")
            lifecycle.publish(.stopping)
        }
        vcpus.stopAll()
    }

    func pressPowerButton() throws(MachineError) {
        let current = state
        switch current {
        case .running, .paused: break
        default: throw .invalidState("pressPowerButton()", current, "the guest can only be asked while it runs")
        }
        devices.platform.powerButton.press()
        logger.info("power button pressed")
        events?(.powerButtonPressed)
    }

    // MARK: - Pause and resume

    /// Parks the vCPUs, then the I/O thread (device queues are then quiet).
    func pause() throws(MachineError) {
        try pauseControl.withLock { _ throws(MachineError) in
            let current = state
            guard case .running = current else {
                throw .invalidState("pause()", current, "only a running machine can be paused")
            }
            let vcpusParked = vcpus.park(timeoutMilliseconds: Self.pauseTimeoutMilliseconds)
            let ioParked = vcpusParked && devices.ioThread.pause(timeoutMilliseconds: Self.pauseTimeoutMilliseconds)
            let paused: Bool = lifecycle.withPhase { phase in
                guard vcpusParked, ioParked, case .running = phase.state, phase.pendingExit == nil else { return false }
                phase.state = .paused
                return true
            }
            guard paused else {
                devices.ioThread.resume()
                vcpus.release()
                let now = state
                if case .running = now {
                    throw .setupFailed("pause", "the vCPUs did not stop within \(Self.pauseTimeoutMilliseconds) ms")
                }
                throw .invalidState("pause()", now, "the machine is ending")
            }
            logger.info("machine paused")
            lifecycle.publish(.paused)
        }
    }

    func resume() throws(MachineError) {
        try pauseControl.withLock { _ throws(MachineError) in
            let resumed: MachineState? = lifecycle.withPhase { phase in
                guard case .paused = phase.state else { return phase.state }
                phase.state = .running
                return nil
            }
            if let resumed { throw .invalidState("resume()", resumed, "only a paused machine can be resumed") }
            devices.ioThread.resume()
            vcpus.release()
            logger.info("machine resumed")
            lifecycle.publish(.running)
        }
    }

    // MARK: - Waiting

    /// Blocks until stopped; on return the machine's threads have ended.
    func waitForExit() -> MachineExit {
        let exit = lifecycle.blockUntilStopped()
        // The monitor thread holds a reference to this runtime until its body returns.
        helpers.withLock { $0.monitor }?.joinOrDetach()
        return exit
    }

    // MARK: - Threads

    /// A vCPU thread's body: run the loop, turn its end into a machine exit, stop the others.
    private func runVCPU(_ runner: VCPURunner) {
        defer { vcpus.ended.signal() }
        do {
            try Sandboxing.restrictCurrentThread(.vcpu, mode: configuration.seccomp.filterMode)
        } catch {
            lifecycle.record(.vmmError("vCPU \(runner.vcpu.index): \(error)"))
            runner.hasFinished.store(true, ordering: .releasing)
            vcpus.stopAll()
            return
        }
        let stop = runner.run()
        let index = runner.vcpu.index
        let exit: MachineExit?
        switch stop {
        case .request(.guestExit(let status)): exit = .guestStatus(status)
        case .request(.powerOff): exit = .poweredOff
        case .request(.reset): exit = .reset
        case .halted: exit = .halted(vcpu: index)
        case .tripleFault: exit = .tripleFault(vcpu: index, registers: registerReport(runner.vcpu))
        case .failure(let reason):
            exit = .vcpuFailure(vcpu: index, reason: reason, registers: registerReport(runner.vcpu))
        case .stopRequested: exit = nil
        }
        if let exit { lifecycle.record(exit) }
        vcpus.stopAll()
    }

    private func registerReport(_ vcpu: VCPUFD) -> String {
        do { return try vcpu.registerDump().description } catch { return "(registers unavailable: \(error))" }
    }

    /// The monitor thread (under the process filter only): relays log records and events from
    /// the restricted threads until every vCPU has ended, then joins them and publishes the final
    /// state. Teardown (closing vCPU fds, unmapping memory) happens only after this, never on a
    /// vCPU thread.
    private func monitorRun(_ threads: [OSThread]) {
        var ended: UInt64 = 0
        while ended < UInt64(threads.count) {
            _ = DescriptorIO.waitReadable(vcpus.ended.rawValue, logRelay.available.rawValue, timeoutMilliseconds: -1)
            logRelay.flush(to: logger, events: events)
            ended &+= vcpus.ended.drain() ?? 0
        }
        for thread in threads { thread.join() }
        tearDownThreads()
        logRelay.flush(to: logger, events: events)
        finish()
    }

    /// Stops the input pump, the devices (disk operations finished, I/O thread, final
    /// fdatasync) and, last, so that everything the guest printed reaches the sink, the console
    /// writer.
    private func tearDownThreads() {
        let (pump, writer) = helpers.withLock { helpers in
            defer {
                helpers.inputPump = nil
                helpers.consoleWriter = nil
            }
            return (helpers.inputPump, helpers.consoleWriter)
        }
        pump?.stop()
        devices.stop(logger: logger)
        writer?.stop()
        console?.finish()
    }

    private func finish() {
        lifecycle.finish { exit in
            logger.info("machine stopped", metadata: ["exit": "\(exit)", "status": "\(exit.exitStatus)"])
        }
    }

    /// At the release of the last `Machine` handle: stops a running machine and waits for its
    /// threads (bounded by the vCPU kick and the console's final flush).
    func releaseFromHandle() {
        switch state {
        case .created, .stopped: break
        case .running, .paused, .stopping:
            try? stop()
            _ = waitForExit()
        }
        helpers.withLock { $0.monitor }?.joinOrDetach()
    }
}

/// A timestamp written once and read from other threads.
final class MonotonicTimestamp: Sendable {
    private let value = Atomic<UInt64>(0)

    /// CLOCK_MONOTONIC nanoseconds, 0 until set.
    var nanoseconds: UInt64 {
        get { value.load(ordering: .acquiring) }
        set { value.store(newValue, ordering: .releasing) }
    }
}
