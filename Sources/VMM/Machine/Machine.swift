import Devices
import GuestMemory
import Dispatch
import KVM
import Sandbox
import Synchronization

/// A virtual machine: built from a `VirtualMachineConfiguration`, started, awaited, stopped.
///
/// ```swift
/// let machine = try Machine(configuration: configuration)
/// try machine.start()
/// let exit = await machine.waitUntilStopped()
/// ```
///
/// Each vCPU runs on its own OS thread. `stop()` may be called from any thread; it kicks the
/// vCPUs out of KVM_RUN with `VCPUKickSignal` (SIGRTMIN). The library never handles SIGTERM or
/// SIGINT: an executable that wants a graceful stop on them installs its own handlers.
public final class Machine: Sendable {
    /// The configuration this machine was built from.
    public let configuration: VirtualMachineConfiguration
    let resources: MachineResources
    private let lifecycle = Mutex(Lifecycle())
    /// CLOCK_MONOTONIC nanoseconds when `start()` ran (0 before).
    private let startTime = MonotonicTimestamp()

    private struct Lifecycle {
        var state: MachineState = .created
        /// The first reason any vCPU or `stop()` gave for ending the run.
        var pendingExit: MachineExit?
        var threads: [OSThread] = []
        var monitor: OSThread?
        var consoleInput: ConsoleInput?
        var consoleWriter: ConsoleWriter?
        var blockedWaiters: [DispatchSemaphore] = []
        var asyncWaiters: [CheckedContinuation<MachineExit, Never>] = []
        var observers: [AsyncStream<MachineState>.Continuation] = []
    }

    /// Validates `configuration`, checks the host (KVM, memory, vCPU limit) and builds the
    /// machine: memory, devices, vCPUs and their initial state. Nothing runs yet.
    /// `events` receives notable moments of the run (such as the guest's ready signal) on the
    /// thread where they happen; keep it short.
    public init(
        configuration: VirtualMachineConfiguration, kvmPath: String = KVMSystem.defaultPath,
        events: (@Sendable (MachineEvent) -> Void)? = nil
    ) throws(MachineError) {
        do { try configuration.validate() } catch { throw .configuration(error) }
        let boot: GuestBoot
        let virtioCount = VirtioDeviceKind.devices(for: configuration).count
        let commandLine = VirtioLayout.commandLine(configuration.commandLine, deviceCount: virtioCount)
        let tables = try PlatformTables.build(configuration, virtioCount: virtioCount)
        do {
            boot = try GuestBoot.prepare(
                configuration, layout: try GuestMemoryLayout(totalBytes: configuration.memoryBytes),
                commandLine: commandLine, rsdpAddress: tables?.rsdpAddress ?? 0)
        } catch let error as ConfigurationError {
            throw .configuration(error)
        } catch {
            throw .configuration(
                .invalidValue(field: "memory_mib", value: "\(configuration.memoryMiB)", expected: "\(error)"))
        }
        let system: KVMSystem
        do { system = try KVMSystem(path: kvmPath) } catch { throw MachineError.from(error) }
        let limits = HostLimits(memoryBytes: HostLimits.hostMemoryBytes(), maximumVCPUCount: system.maximumVCPUCount)
        do { try configuration.validate(against: limits) } catch { throw .configuration(error) }
        self.configuration = configuration
        let startTime = self.startTime
        let onGuestReady: @Sendable (UInt64) -> Void = { timestamp in
            let started = startTime.nanoseconds
            events?(.guestReady(nanosecondsAfterStart: timestamp &- started))
        }
        self.resources = try MachineResources.build(
            configuration, system: system, boot: boot, tables: tables, onGuestReady: onGuestReady)
    }

    deinit {
        // A machine awaited only with `waitUntilStopped()` still has a joinable monitor thread;
        // its body has returned (it held a reference to this machine), so this does not wait long.
        // deinit may run on the monitor thread itself, which then detaches instead.
        lifecycle.withLock { $0.monitor }?.joinOrDetach()
    }

    /// The current lifecycle state.
    public var state: MachineState { lifecycle.withLock { $0.state } }

    /// A stream of state changes, starting with the current state; it finishes once stopped.
    public func stateUpdates() -> AsyncStream<MachineState> {
        AsyncStream { continuation in
            let current: MachineState = lifecycle.withLock { lifecycle in
                if case .stopped = lifecycle.state {} else { lifecycle.observers.append(continuation) }
                return lifecycle.state
            }
            continuation.yield(current)
            if case .stopped = current { continuation.finish() }
        }
    }

    /// Starts one OS thread per vCPU. A machine starts once.
    public func start() throws(MachineError) {
        let alreadyStarted = lifecycle.withLock { lifecycle -> Bool in
            guard case .created = lifecycle.state else { return true }
            lifecycle.state = .running
            return false
        }
        if alreadyStarted { throw .setupFailed("the machine was already started; build a new Machine to run again") }
        publish(.running)
        startTime.nanoseconds = monotonicNanoseconds()
        var threads: [OSThread] = []
        do {
            if configuration.console == .stdio, ConsoleInput.standardInputIsInteractive {
                let input = try ConsoleInput(serial: resources.serial, seccomp: configuration.seccomp)
                lifecycle.withLock { $0.consoleInput = input }
            }
            if let writer = try ConsoleWriter(output: resources.console, seccomp: configuration.seccomp) {
                lifecycle.withLock { $0.consoleWriter = writer }
            }
            try resources.ioThread.start(seccomp: configuration.seccomp, resources.handleIOEvent)
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
            record(.vmmError("\(error)"))
            stopVCPUs()
            for thread in threads { thread.join() }
            lifecycle.withLock { $0.consoleInput }?.stop()
            resources.ioThread.stop()
            lifecycle.withLock { $0.consoleWriter }?.stop()
            finish()
            throw .setupFailed("could not start the machine's threads: \(error)")
        }
    }

    /// Ends the run from outside the guest: every vCPU leaves KVM_RUN and the machine stops
    /// with `.stopped` (unless the guest ended it first). Safe from any thread, any number of times.
    public func stop() {
        let changed = lifecycle.withLock { lifecycle -> Bool in
            if lifecycle.pendingExit == nil { lifecycle.pendingExit = .stopped }
            guard case .running = lifecycle.state else { return false }
            lifecycle.state = .stopping
            return true
        }
        if changed { publish(.stopping) }
        stopVCPUs()
    }

    /// Presses the power button: the guest sees an ACPI Generic Event Device interrupt (Linux) or
    /// the event register bit (the test firmware) and should power off by itself.
    public func pressPowerButton() {
        resources.powerButton.press()
    }

    /// Asks the guest to power off with the power button, waits up to `graceSeconds` for it,
    /// then forces a stop. Blocks; returns how the machine ended.
    public func shutdown(graceSeconds: Double) -> MachineExit {
        pressPowerButton()
        let waiter = DispatchSemaphore(value: 0)
        let exit = Mutex<MachineExit?>(nil)
        DispatchQueue.global().async {
            exit.withLock { $0 = self.waitForExit() }
            waiter.signal()
        }
        if waiter.wait(timeout: .now() + max(0, graceSeconds)) == .timedOut {
            stop()
            waiter.wait()
        }
        return exit.withLock { $0 } ?? waitForExit()
    }

    /// CLOCK_MONOTONIC nanoseconds of the guest's ready signal (boot timer), if it came.
    public var guestReadyNanoseconds: UInt64? { resources.bootTimer.readyNanoseconds }

    /// Nanoseconds from `start()` to the guest's ready signal, if it came.
    public var guestReadyAfterStartNanoseconds: UInt64? {
        guestReadyNanoseconds.map { $0 &- startTime.nanoseconds }
    }

    /// Blocks the calling thread until the machine has stopped. Do not call it from Swift
    /// concurrency's cooperative pool; use `waitUntilStopped()` there. On return the machine's
    /// own threads have ended too, so dropping the last reference releases its memory, file
    /// descriptors, disk locks and taps at once (a restart can reuse them).
    public func waitForExit() -> MachineExit {
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
        // The monitor thread holds a reference to this machine until its body returns.
        monitor?.join()
        return exit
    }

    /// Waits until the machine has stopped and returns how it ended.
    public func waitUntilStopped() async -> MachineExit {
        await withCheckedContinuation { continuation in
            let exit: MachineExit? = lifecycle.withLock { lifecycle in
                if case .stopped(let exit) = lifecycle.state { return exit }
                lifecycle.asyncWaiters.append(continuation)
                return nil
            }
            if let exit { continuation.resume(returning: exit) }
        }
    }

    /// Starts the machine and blocks until it stops.
    public func run() throws(MachineError) -> MachineExit {
        try start()
        return waitForExit()
    }

    /// Per-vCPU exit counts of the finished run (zeros before a vCPU has finished).
    public var exitCounts: [VCPUExitCounts] { resources.runners.map(\.exitCounts) }

    /// Queue-notification counts of each virtio device, in window order.
    public var virtioNotificationCounts: [VirtioNotificationCounts] { resources.virtioSlots.map(\.notificationCounts) }

    /// What each configured exit probe has seen, in configuration order.
    public var probeStatistics: [ExitProbeStatistics] { resources.probes.map { ExitProbeStatistics($0) } }

    // MARK: - Threads

    /// A vCPU thread's body: run the loop, turn its end into a machine exit, stop the others.
    private func runVCPU(_ runner: VCPURunner) {
        do {
            try Sandboxing.restrictCurrentThread(.vcpu, mode: configuration.seccomp)
        } catch {
            record(.vmmError("vCPU \(runner.vcpu.index): \(error)"))
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

    private func stopVCPUs() {
        for runner in resources.runners { runner.requestStop() }
        let threads = lifecycle.withLock { $0.threads }
        for thread in threads { thread.kick() }
    }

    /// The monitor thread: joins every vCPU thread, then publishes the final state. Teardown
    /// (closing vCPU fds, unmapping memory) can happen only after this, never on a vCPU thread.
    private func monitorRun(_ threads: [OSThread]) {
        for thread in threads { thread.join() }
        let (input, writer) = lifecycle.withLock { lifecycle in
            defer {
                lifecycle.consoleInput = nil
                lifecycle.consoleWriter = nil
            }
            return (lifecycle.consoleInput, lifecycle.consoleWriter)
        }
        input?.stop()
        resources.ioThread.stop()
        // Last: everything the guest printed until its vCPUs stopped reaches the sink.
        writer?.stop()
        finish()
    }

    private func finish() {
        let (exit, blocked, waiting, observers) = lifecycle.withLock { lifecycle in
            let exit = lifecycle.pendingExit ?? .stopped
            lifecycle.state = .stopped(exit)
            defer {
                lifecycle.blockedWaiters = []
                lifecycle.asyncWaiters = []
                lifecycle.observers = []
            }
            return (exit, lifecycle.blockedWaiters, lifecycle.asyncWaiters, lifecycle.observers)
        }
        for observer in observers {
            observer.yield(.stopped(exit))
            observer.finish()
        }
        for semaphore in blocked { semaphore.signal() }
        for continuation in waiting { continuation.resume(returning: exit) }
    }

    private func publish(_ state: MachineState) {
        let observers = lifecycle.withLock { $0.observers }
        for observer in observers { observer.yield(state) }
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
