@_spi(ExitPath) import Devices
import Dispatch
import EventLoop
@_spi(ExitPath) import KVM
import Logging
import Sandbox
import Synchronization
import Threads
@_spi(ExitPath) import Virtio

/// A machine's running part, which its threads hold (the public `Machine` is only a handle, so
/// that releasing it can stop a running machine). State machine:
/// created → running ⇄ paused → stopping → stopped, where a guest-made end goes from running
/// straight to stopped.
final class MachineRuntime: Sendable {
    let configuration: VirtualMachineConfiguration
    let resources: MachineResources
    let console: MachineConsole?
    let logger: Logger
    let logRelay: LogRelay
    let events: (@Sendable (MachineEvent) -> Void)?
    /// When `start()` ran (the guest-ready event and statistic count from it).
    let startTime: MonotonicTimestamp
    private let lifecycle = Mutex(Lifecycle())
    /// Serializes pause() and resume() (never taken by stop, so a stop is never held up).
    private let pauseControl = Mutex(())
    /// How long pause() waits for the threads to park.
    static let pauseTimeoutMilliseconds = 5000

    struct Lifecycle {
        var state: MachineState = .created
        /// The first reason any vCPU or `stop()` gave for ending the run.
        var pendingExit: MachineExit?
        var threads: [OSThread] = []
        var monitor: OSThread?
        var consoleWriter: ConsoleWriter?
        var inputPump: ConsoleInputPump?
        var blockedWaiters: [DispatchSemaphore] = []
        var asyncWaiters: [Int: CheckedContinuation<MachineExit, any Error>] = [:]
        var cancelledWaiters: Set<Int> = []
        var nextWaiter = 0
        var observers: [Int: AsyncStream<MachineState>.Continuation] = [:]
        var nextObserver = 0
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
    }

    var state: MachineState { lifecycle.withLock { $0.state } }

    /// How the machine's threads are doing.
    var health: MachineHealth {
        let threads = lifecycle.withLock { $0.threads }
        return MachineHealth(
            vcpuCount: configuration.vcpuCount, vcpuThreadsStarted: threads.count,
            vcpuThreadsEnded: threads.filter { $0.isFinished }.count,
            ioThreadNanosecondsSinceProgress: resources.ioThread.nanosecondsSinceProgress)
    }

    /// Each vCPU thread's CPU time so far (zeros before the threads exist).
    var vcpuCPUNanoseconds: [UInt64] {
        let threads = lifecycle.withLock { $0.threads }
        return (0..<configuration.vcpuCount).map { $0 < threads.count ? threads[$0].cpuNanoseconds : 0 }
    }

    // MARK: - State observation

    func stateUpdates() -> AsyncStream<MachineState> {
        let (stream, continuation) = AsyncStream.makeStream(of: MachineState.self)
        let (current, id): (MachineState, Int?) = lifecycle.withLock { lifecycle in
            if case .stopped = lifecycle.state { return (lifecycle.state, nil) }
            lifecycle.nextObserver += 1
            lifecycle.observers[lifecycle.nextObserver] = continuation
            return (lifecycle.state, lifecycle.nextObserver)
        }
        continuation.yield(current)
        if let id {
            continuation.onTermination = { [weak self] _ in
                _ = self?.lifecycle.withLock { $0.observers.removeValue(forKey: id) }
            }
        } else {
            continuation.finish()
        }
        return stream
    }

    private func publish(_ state: MachineState) {
        let observers = lifecycle.withLock { Array($0.observers.values) }
        for observer in observers { observer.yield(state) }
        events?(.stateChanged(state))
    }

    // MARK: - Start

    func start() throws(MachineError) {
        let current: MachineState? = lifecycle.withLock { lifecycle in
            guard case .created = lifecycle.state else { return lifecycle.state }
            lifecycle.state = .running
            return nil
        }
        if let current {
            throw .invalidState("start()", current, "a machine starts once; build a new Machine to run again")
        }
        startTime.nanoseconds = monotonicNanoseconds()
        publish(.running)
        logger.info("machine started", metadata: ["vcpus": "\(configuration.vcpuCount)"])
        var threads: [OSThread] = []
        do {
            let seccomp = configuration.seccomp
            let inputPump = try inputDescriptor.map { descriptor throws(EventLoopError) in
                try ConsoleInputPump(descriptor: descriptor, serial: resources.serial, loop: resources.ioThread.loop)
            }
            lifecycle.withLock { $0.inputPump = inputPump }
            if let writer = try ConsoleWriter(output: resources.console, seccomp: seccomp) {
                lifecycle.withLock { $0.consoleWriter = writer }
            }
            for (index, disk) in diskSlots.map(\.disk).enumerated() {
                do {
                    try disk.startEngine()
                } catch {
                    throw MachineError.setupFailed("disks[\(index)]", error.description)
                }
            }
            try resources.ioThread.start(seccomp: seccomp, resources.ioEventHandler(inputPump: inputPump))
            for runner in resources.runners {
                let thread = try OSThread(name: "vcpu\(runner.vcpu.index)") { [self] in runVCPU(runner) }
                threads.append(thread)
                // Published at once, so that a vCPU that ends the run early kicks this one too.
                lifecycle.withLock { $0.threads.append(thread) }
            }
            let vcpuThreads = threads
            let monitor = try OSThread(name: "vmm-monitor") { [self] in monitorRun(vcpuThreads) }
            let stopPending = lifecycle.withLock { lifecycle in
                lifecycle.monitor = monitor
                return lifecycle.pendingExit != nil
            }
            if stopPending { stopVCPUs() }
        } catch {
            let failure = Self.startFailure(error)
            record(.vmmError(failure.message))
            stopVCPUs()
            for thread in threads { thread.join() }
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
        let (changed, current): (Bool, MachineState) = lifecycle.withLock { lifecycle in
            switch lifecycle.state {
            case .created: return (false, lifecycle.state)
            case .running, .paused:
                if lifecycle.pendingExit == nil { lifecycle.pendingExit = .stopped }
                lifecycle.state = .stopping
                return (true, .stopping)
            case .stopping, .stopped: return (false, lifecycle.state)
            }
        }
        if case .created = current {
            throw .invalidState("stop()", current, "start() it first, or just release it")
        }
        if changed {
            logger.info("stop requested: forcing the vCPUs out")
            publish(.stopping)
        }
        stopVCPUs()
    }

    func pressPowerButton() throws(MachineError) {
        let current = state
        switch current {
        case .running, .paused: break
        default: throw .invalidState("pressPowerButton()", current, "the guest can only be asked while it runs")
        }
        resources.powerButton.press()
        logger.info("power button pressed")
        events?(.powerButtonPressed)
    }

    // MARK: - Pause and resume

    func pause() throws(MachineError) {
        try pauseControl.withLock { _ throws(MachineError) in
            let current = state
            guard case .running = current else {
                throw .invalidState("pause()", current, "only a running machine can be paused")
            }
            resources.pauseGate.request()
            for runner in resources.runners { runner.requestPause() }
            for thread in lifecycle.withLock({ $0.threads }) { thread.kick() }
            let runners = resources.runners
            let vcpusParked = PauseGate.waitUntil(timeoutMilliseconds: Self.pauseTimeoutMilliseconds) {
                resources.pauseGate.parkedCount + runners.filter { $0.hasFinished.load(ordering: .acquiring) }.count
                    >= runners.count
            }
            let ioParked = vcpusParked && resources.ioThread.pause(timeoutMilliseconds: Self.pauseTimeoutMilliseconds)
            let paused: Bool = lifecycle.withLock { lifecycle in
                guard vcpusParked, ioParked, case .running = lifecycle.state, lifecycle.pendingExit == nil else {
                    return false
                }
                lifecycle.state = .paused
                return true
            }
            guard paused else {
                resources.ioThread.resume()
                resources.pauseGate.release()
                let now = state
                if case .running = now {
                    throw .setupFailed("pause", "the vCPUs did not stop within \(Self.pauseTimeoutMilliseconds) ms")
                }
                throw .invalidState("pause()", now, "the machine is ending")
            }
            logger.info("machine paused")
            publish(.paused)
        }
    }

    func resume() throws(MachineError) {
        try pauseControl.withLock { _ throws(MachineError) in
            let resumed: MachineState? = lifecycle.withLock { lifecycle in
                guard case .paused = lifecycle.state else { return lifecycle.state }
                lifecycle.state = .running
                return nil
            }
            if let resumed { throw .invalidState("resume()", resumed, "only a paused machine can be resumed") }
            resources.ioThread.resume()
            resources.pauseGate.release()
            logger.info("machine resumed")
            publish(.running)
        }
    }

    // MARK: - Waiting

    /// Blocks until stopped; on return the machine's threads have ended.
    func waitForExit() -> MachineExit {
        let semaphore = DispatchSemaphore(value: 0)
        let stoppedAlready: MachineExit? = lifecycle.withLock { lifecycle in
            if case .stopped(let exit) = lifecycle.state { return exit }
            lifecycle.blockedWaiters.append(semaphore)
            return nil
        }
        if stoppedAlready == nil { semaphore.wait() }
        let (exit, monitor) = lifecycle.withLock { lifecycle -> (MachineExit, OSThread?) in
            guard case .stopped(let exit) = lifecycle.state else {
                return (.vmmError("woken before the machine stopped"), nil)
            }
            return (exit, lifecycle.monitor)
        }
        // The monitor thread holds a reference to this runtime until its body returns.
        monitor?.joinOrDetach()
        return exit
    }

    /// Waits until stopped; throws `CancellationError` when the waiting task is cancelled (the
    /// machine goes on).
    func waitUntilStopped() async throws -> MachineExit {
        let id = newWaiterID()
        return try await withTaskCancellationHandler {
            try await awaitStop(id)
        } onCancel: {
            let continuation: CheckedContinuation<MachineExit, any Error>? = lifecycle.withLock { lifecycle in
                if let continuation = lifecycle.asyncWaiters.removeValue(forKey: id) { return continuation }
                if case .stopped = lifecycle.state { return nil }
                lifecycle.cancelledWaiters.insert(id)
                return nil
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Waits until stopped, whether or not the waiting task is cancelled.
    func waitUntilStoppedIgnoringCancellation() async -> MachineExit {
        (try? await awaitStop(newWaiterID())) ?? .vmmError("the stop could not be awaited")
    }

    private func newWaiterID() -> Int {
        lifecycle.withLock { lifecycle in
            lifecycle.nextWaiter += 1
            return lifecycle.nextWaiter
        }
    }

    private func awaitStop(_ id: Int) async throws -> MachineExit {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<MachineExit, any Error>) in
            let outcome: Result<MachineExit, CancellationError>? = lifecycle.withLock { lifecycle in
                if case .stopped(let exit) = lifecycle.state { return .success(exit) }
                if lifecycle.cancelledWaiters.remove(id) != nil { return .failure(CancellationError()) }
                lifecycle.asyncWaiters[id] = continuation
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    // MARK: - Threads

    /// A vCPU thread's body: run the loop, turn its end into a machine exit, stop the others.
    private func runVCPU(_ runner: VCPURunner) {
        defer { resources.vcpuEnded.signal() }
        do {
            try Sandboxing.restrictCurrentThread(.vcpu, mode: configuration.seccomp.filterMode)
        } catch {
            record(.vmmError("vCPU \(runner.vcpu.index): \(error)"))
            runner.hasFinished.store(true, ordering: .releasing)
            stopVCPUs()
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
        if let exit { record(exit) }
        stopVCPUs()
    }

    private func registerReport(_ vcpu: VCPUFD) -> String {
        do { return try vcpu.registerDump().description } catch { return "(registers unavailable: \(error))" }
    }

    /// Keeps the first exit reason.
    private func record(_ exit: MachineExit) {
        lifecycle.withLock { lifecycle in
            if lifecycle.pendingExit == nil { lifecycle.pendingExit = exit }
        }
    }

    /// Every vCPU leaves KVM_RUN for good (parked ones too).
    func stopVCPUs() {
        for runner in resources.runners { runner.requestStop() }
        resources.pauseGate.release()
        let threads = lifecycle.withLock { $0.threads }
        for thread in threads { thread.kick() }
    }

    /// The monitor thread (under the process filter only): relays log records from the
    /// restricted threads until every vCPU has ended, then joins them and publishes the final
    /// state. Teardown (closing vCPU fds, unmapping memory) happens only after this, never on a
    /// vCPU thread.
    private func monitorRun(_ threads: [OSThread]) {
        var ended: UInt64 = 0
        while ended < UInt64(threads.count) {
            _ = DescriptorIO.waitReadable(
                resources.vcpuEnded.rawValue, logRelay.available.rawValue, timeoutMilliseconds: -1)
            logRelay.flush(to: logger)
            ended &+= resources.vcpuEnded.drain() ?? 0
        }
        for thread in threads { thread.join() }
        tearDownThreads()
        logRelay.flush(to: logger)
        finish()
    }

    /// Stops the input pump, the I/O thread and (last, so that everything the guest printed
    /// reaches the sink) the console writer.
    private func tearDownThreads() {
        let (pump, writer) = lifecycle.withLock { lifecycle in
            defer {
                lifecycle.inputPump = nil
                lifecycle.consoleWriter = nil
            }
            return (lifecycle.inputPump, lifecycle.consoleWriter)
        }
        pump?.stop()
        finishDiskOperations()
        resources.ioThread.stop()
        flushDisks()
        writer?.stop()
        console?.finish()
    }

    /// Lets every disk's engine finish what it has in flight, completed to the guest as usual,
    /// while the I/O thread still runs (the vCPUs have ended: nothing new arrives), so that the
    /// final fdatasync covers every write the guest handed over.
    private func finishDiskOperations() {
        for (disk, transport) in diskSlots {
            transport.withDeviceLocked { _ in disk.finishInFlight() }
        }
    }

    /// Makes every disk's completed writes durable (fdatasync) once no thread can write any
    /// more, whatever ended the machine; the descriptors close when the machine is released.
    private func flushDisks() {
        for (index, slot) in resources.virtioSlots.enumerated() {
            guard let disk = slot.transport.device as? VirtioBlock, !disk.backend.isReadOnly else { continue }
            if disk.backend.flush() != BlockRequest.Status.ok {
                logger.error("disk flush failed at stop", metadata: ["virtio_slot": "\(index)"])
            }
        }
    }

    private func finish() {
        let (exit, blocked, waiting, observers) = lifecycle.withLock { lifecycle in
            let exit = lifecycle.pendingExit ?? .stopped
            lifecycle.state = .stopped(exit)
            defer {
                lifecycle.blockedWaiters = []
                lifecycle.asyncWaiters = [:]
                lifecycle.cancelledWaiters = []
                lifecycle.observers = [:]
            }
            return (
                exit, lifecycle.blockedWaiters, Array(lifecycle.asyncWaiters.values), Array(lifecycle.observers.values)
            )
        }
        logger.info("machine stopped", metadata: ["exit": "\(exit)", "status": "\(exit.exitStatus)"])
        for observer in observers {
            observer.yield(.stopped(exit))
            observer.finish()
        }
        events?(.stateChanged(.stopped(exit)))
        for semaphore in blocked { semaphore.signal() }
        for continuation in waiting { continuation.resume(returning: exit) }
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
        lifecycle.withLock { $0.monitor }?.joinOrDetach()
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
