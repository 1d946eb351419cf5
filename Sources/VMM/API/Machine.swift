@_spi(ExitPath) import Devices
@_spi(ExitPath) import KVM
import Logging
import Threads

/// A virtual machine: built from a `VirtualMachineConfiguration`, started, paused, stopped.
///
/// ```swift
/// let machine = try Machine(configuration: configuration, logger: logger)
/// try machine.start()
/// let exit = try await machine.requestStop(grace: .seconds(30))
/// ```
///
/// Each vCPU runs on its own OS thread, and one I/O thread serves the devices. Every method may
/// be called from any thread. A call in a state that does not allow it throws a `MachineError`
/// with code `invalidState`. Releasing the last reference to a running machine stops it (as
/// `stop()` does) and waits for its threads; its memory, descriptors, disk locks and taps are
/// released with it.
///
/// **Blocking.** `init` (memory, devices, files), `replaceDiskImage` (the old image's fdatasync),
/// `pause()` (until the threads park, at most 5 s) and `hostResourcesForReboot()` block the
/// calling thread for a bounded time, as their set-up work needs; `waitForExit()` and `run()`
/// block until the machine stops (never call them on Swift concurrency's cooperative pool).
/// Every other call returns at once. The `async` calls never block a thread.
///
/// **Cancellation**, one rule for every `async` call: cancelling the task that awaits it ends
/// the wait at once and never undoes what was asked. `waitUntilStopped()` throws
/// `CancellationError` (the machine goes on); `requestStop(grace:)` cuts its grace period short
/// and stops the machine by force (the stop is what it asked for), returning the exit;
/// `MachineConsole.write(_:)` throws `MachineError` with code `cancelled` (bytes already sent
/// stay sent); the console streams end for the cancelled consumer only.
///
/// **Callbacks.** Log handlers and the `events` closure run on the caller's thread (for what the
/// caller's own calls change) or on the machine's monitor thread (the guest's ready signal, the
/// end of the run) — never on a vCPU or I/O thread, whose seccomp filters forbid most system
/// calls. Keep them short: the monitor thread also relays the log.
///
/// The library never touches this process's standard input unless the configuration's
/// console asks for it (`.fileDescriptor(read: 0, …)`), and never handles SIGTERM or SIGINT.
/// It kicks vCPU threads out of KVM_RUN with the signal `Machine.kickSignal` (SIGRTMIN), for
/// which it installs a no-op handler.
public final class Machine: Sendable {
    let runtime: MachineRuntime

    /// Validates `configuration`, checks the host (KVM, memory, vCPU limit) and builds the
    /// machine: memory, devices, vCPUs and their initial state. Nothing runs yet.
    ///
    /// - Parameters:
    ///   - configuration: what to build; validated first (errors name the field).
    ///   - logger: where the machine logs set-up, state changes, device errors (rate-limited)
    ///     and teardown; the machine adds its name as the `vm` metadata. Log handlers run on
    ///     the machine's monitor thread or the caller's, never on a vCPU or I/O thread.
    ///   - events: notable moments of the run (state changes, the guest's ready signal), on the
    ///     caller's thread or the monitor thread (see **Callbacks** above); keep it short.
    ///   - kvmPath: the KVM device (`/dev/kvm`).
    public convenience init(
        configuration: VirtualMachineConfiguration, logger: Logger = Logger(label: "swiftvmm"),
        kvmPath: String = "/dev/kvm", events: (@Sendable (MachineEvent) -> Void)? = nil
    ) throws(MachineError) {
        try self.init(configuration: configuration, kvmPath: kvmPath, reusing: nil, logger: logger, events: events)
    }

    /// Builds the next machine of a reboot in place: the configuration of the machine `host`
    /// came from, with fresh memory, vCPUs and devices, on that machine's host resources (see
    /// `Machine.hostResourcesForReboot()`). Nothing is opened, so no privilege is needed: a
    /// process that has dropped its capabilities and filters opening files can still reboot its
    /// guest. The boot files are read again through their open descriptors (a kernel replaced
    /// by renaming another file over its path is not seen). Release the previous `Machine`
    /// first: its guest memory goes with it, and a huge-page backing needs its pages back.
    public convenience init(
        rebootingWith host: MachineHostResources, logger: Logger = Logger(label: "swiftvmm"),
        events: (@Sendable (MachineEvent) -> Void)? = nil
    ) throws(MachineError) {
        try self.init(
            configuration: host.resources.configuration, kvmPath: "/dev/kvm", reusing: host.resources, logger: logger,
            events: events)
    }

    private init(
        configuration: VirtualMachineConfiguration, kvmPath: String, reusing host: HostResources?, logger: Logger,
        events: (@Sendable (MachineEvent) -> Void)?
    ) throws(MachineError) {
        var logger = logger
        logger[metadataKey: "vm"] = "\(configuration.name)"
        runtime = try MachineBuilder.build(
            configuration, kvmPath: kvmPath, reusing: host, logger: logger, events: events)
    }

    deinit {
        runtime.releaseFromHandle()
    }

    /// The configuration this machine was built from.
    public var configuration: VirtualMachineConfiguration { runtime.configuration }

    /// The current lifecycle state.
    public var state: MachineState { runtime.state }

    /// A stream of state changes, starting with the current state; it finishes once stopped.
    /// Every call makes an independent stream.
    public func stateUpdates() -> AsyncStream<MachineState> { runtime.lifecycle.stateUpdates() }

    /// The guest's console as streams, when the configuration's console is `.stream`.
    public var console: MachineConsole? { runtime.console }

    /// The signal that kicks vCPU threads out of KVM_RUN (SIGRTMIN). An embedder that blocks
    /// signals in its threads must leave this one deliverable to the machine's threads (they
    /// unblock it themselves) and must not install its own handler for it.
    public static var kickSignal: Int32 { VCPUKickSignal.number }

    // MARK: - Lifecycle

    /// Starts the vCPU, I/O and console threads. A machine starts once.
    public func start() throws(MachineError) { try runtime.start() }

    /// Ends the run now, from outside the guest: every vCPU leaves KVM_RUN and the machine stops
    /// with `MachineExit.stopped` (unless the guest ended it first). Returns at once; await
    /// `waitUntilStopped()` for the end. Calling it again while stopping or stopped does
    /// nothing; before `start()` it throws `invalidState`.
    public func stop() throws(MachineError) { try runtime.stop() }

    /// Asks the guest to power off with the power button and waits up to `grace` for it; then
    /// stops the machine by force. Returns how the machine ended. A paused machine is resumed
    /// first (a paused guest cannot react). Cancelling the waiting task cuts the grace period
    /// short: the machine is stopped by force at once and its exit returned.
    public func requestStop(grace: Duration) async throws(MachineError) -> MachineExit {
        switch state {
        case .stopped(let exit): return exit
        case .created: throw .invalidState("requestStop(grace:)", .created, "start() it first, or just release it")
        case .paused: try? runtime.resume()
        case .running, .stopping: break
        }
        try? runtime.pressPowerButton()
        let runtime = self.runtime
        let exit: MachineExit? = await withTaskGroup(of: MachineExit?.self) { group in
            group.addTask { try? await runtime.lifecycle.waitUntilStopped() }
            group.addTask {
                try? await Task.sleep(for: grace)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        if let exit { return exit }
        // The grace period ran out, or the caller cancelled: force it.
        logger.info("the guest did not power off within \(grace): stopping it")
        try? runtime.stop()
        return await runtime.lifecycle.waitUntilStoppedIgnoringCancellation()
    }

    /// Presses the power button: the guest sees an ACPI Generic Event Device interrupt (Linux)
    /// or the event register bit (the test firmware) and should power off by itself. Throws
    /// `invalidState` unless the machine is running or paused (a paused guest sees it on
    /// resume). The event `.powerButtonPressed` follows.
    public func pressPowerButton() throws(MachineError) { try runtime.pressPowerButton() }

    /// Points disk `index` (its place in `configuration.disks`) at another image while the machine
    /// runs — Firecracker's `PATCH /drives`. The image is opened and locked as the configured one
    /// was (same read-only and cache settings); requests already completed went to the old image,
    /// which is flushed (fdatasync) and closed; the guest's driver gets a configuration-change
    /// interrupt and reads the new capacity. Given the image the disk already uses, only its size
    /// is read again (it was resized on the host). The new image must be of the same kind
    /// (regular file or block device) as the old, and at least the disk's declared size
    /// (`size_mib`, `create_size_mib`: `diskTooSmall` otherwise, as at boot); a file of another
    /// kind (a named pipe) is refused without blocking. `configuration` keeps the original paths;
    /// `diskStatistics` names the current image.
    public func replaceDiskImage(index: Int, path: String) throws(MachineError) {
        try runtime.replaceDiskImage(index: index, path: path)
    }

    /// What this stopped machine holds of the host — the KVM device, its boot files, disk
    /// images (with their locks and block engines: io_uring rings, worker threads), taps and
    /// console file, all open — for the next machine of a reboot in place
    /// (`Machine(rebootingWith:)`). The disks are the images the devices use now (after any
    /// `replaceDiskImage`). Throws `invalidState` unless the machine has stopped.
    public func hostResourcesForReboot() throws(MachineError) -> MachineHostResources {
        let current = state
        guard case .stopped = current else {
            throw .invalidState("hostResourcesForReboot()", current, "wait until the machine has stopped")
        }
        let images = runtime.resources.devices.diskSlots.map { $0.disk.backend }
        return MachineHostResources(resources: runtime.resources.host.withDiskImages(images))
    }

    /// Pauses the guest: every vCPU parks outside KVM_RUN and the I/O thread stops serving the
    /// device queues (notifications and received frames wait). Returns once everything is
    /// parked; the state is then `.paused`. Throws `invalidState` unless running.
    public func pause() throws(MachineError) { try runtime.pause() }

    /// Lets a paused guest go on. Throws `invalidState` unless paused.
    public func resume() throws(MachineError) { try runtime.resume() }

    /// Waits until the machine has stopped and returns how it ended. Throws `CancellationError`
    /// when the waiting task is cancelled; the machine goes on running.
    public func waitUntilStopped() async throws(CancellationError) -> MachineExit {
        do { return try await runtime.lifecycle.waitUntilStopped() } catch { throw CancellationError() }
    }

    /// Blocks the calling thread until the machine has stopped. Do not call it from Swift
    /// concurrency's cooperative pool; use `waitUntilStopped()` there. On return the machine's
    /// own threads have ended too.
    public func waitForExit() -> MachineExit { runtime.waitForExit() }

    /// Starts the machine and blocks until it stops.
    public func run() throws(MachineError) -> MachineExit {
        try start()
        return waitForExit()
    }

    // MARK: - Observations

    /// What the machine has done so far, read now: exit counts, CPU time, device and console
    /// counters, the guest's ready signal and thread health. Every counter is kept by the thread
    /// that counts it (plain stores or a short lock) and read without stopping it; each call makes
    /// a new snapshot (live while the machine runs, final once it stopped).
    public var statistics: MachineStatistics { runtime.statistics }

    private var logger: Logger { runtime.logger }
}

/// What a stopped machine holds of the host, open, for the next machine of a reboot in place
/// (`Machine.hostResourcesForReboot()`, `Machine(rebootingWith:)`). Its descriptors close when
/// the last machine using it and this value are released.
public final class MachineHostResources: Sendable {
    let resources: HostResources

    init(resources: HostResources) { self.resources = resources }

    /// The configuration the resources were opened for.
    public var configuration: VirtualMachineConfiguration { resources.configuration }
}

/// What happened to the guest's console output.
public struct ConsoleStatistics: Sendable, Equatable {
    /// Bytes the guest wrote to the serial port.
    public var guestBytes: UInt64
    /// Bytes delivered to the console's sink.
    public var writtenBytes: UInt64
    /// Bytes dropped: the sink was slow or stuck, a file reached its size cap, or the sink failed.
    public var droppedBytes: UInt64

    init(_ statistics: ConsoleOutput.Statistics) {
        guestBytes = statistics.guestBytes
        writtenBytes = statistics.writtenBytes
        droppedBytes = statistics.droppedBytes
    }
}
