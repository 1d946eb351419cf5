import Logging
import Synchronization
import VMM

/// The machines of one run, as `run`, `launch` and `serve` make them: boot a fresh machine, run
/// it to its end, and on a guest reset boot again in place (when asked). Each boot is a
/// `Pipeline` (`steps(for:)`): the process sandbox is installed once, after the first machine
/// is built and before its threads start, and the stop signals follow whichever machine is
/// current (`StepOrder`, rules 3–5, 7 and 8).
final class BootLoop {
    let configuration: VirtualMachineConfiguration
    let rebootInPlace: Bool
    let signals: ShutdownSignals
    let logger: Logger
    let log: RunLog
    let events: @Sendable (MachineEvent) -> Void
    /// Called with each machine after it is built and before it starts (console streaming,
    /// readiness).
    var observe: (Machine) -> Void = { _ in }
    /// Called with each machine once it started (`serve` answers InstanceStart then).
    var started: (Machine) -> Void = { _ in }
    /// Called after each machine's run, before the next is built: whatever holds the machine
    /// must let it go then, or its disks (still locked) and taps stop the reboot in place.
    var release: () -> Void = {}
    /// The process serves or uses sockets besides the machine's (the pod network's DHCP server,
    /// HTTP endpoints, TCP readiness checks): the process sandbox allows them.
    var networkServices = false
    /// The process opens disk images later (`serve`'s PATCH /drives): the sandbox allows opening
    /// files for writing.
    var opensDiskImages = false
    /// The signal thread starts after the sandbox, in the first boot (`run`, `launch`); `serve`
    /// started it before (`StepOrder`, rule 5).
    var startsSignalThread = true
    /// Set once the process sandbox is in place: from then on nothing set-up made can be undone
    /// (no capability is left to remove a tap or a table).
    let sandboxed = SandboxFlag()

    init(
        configuration: VirtualMachineConfiguration, rebootInPlace: Bool, signals: ShutdownSignals, logger: Logger,
        log: RunLog, events: @escaping @Sendable (MachineEvent) -> Void
    ) {
        self.configuration = configuration
        self.rebootInPlace = rebootInPlace
        self.signals = signals
        self.logger = logger
        self.log = log
        self.events = events
    }

    /// One boot's state: what its steps make.
    final class Boot {
        /// 1 for the first boot, 2 for the first reboot in place, …
        let number: Int
        /// The previous machine's host resources (nil: the first boot, which opens its own).
        let host: MachineHostResources?
        var startupCode: StartupCode?
        var machine: Machine?
        var exit: MachineExit?
        /// The host resources for the next boot (a reset with reboot in place).
        var next: MachineHostResources?

        init(number: Int, host: MachineHostResources?) {
            self.number = number
            self.host = host
        }

        var isFirst: Bool { number == 1 }
    }

    /// Why a boot's pipeline ended early: a failure, or a stop signal that came before the boot
    /// (not an error: the run ends with `.stopped`).
    enum Interruption: Error {
        case failed(CommandFailure)
        case signalled
    }

    /// Boots until the guest ends without a reset (or resets without reboot in place); returns
    /// how the last boot ended. Each reboot in place builds the next machine on the previous
    /// one's host resources (`Machine(rebootingWith:)`): nothing is opened again.
    func run() throws(CommandFailure) -> MachineExit {
        var boot = Boot(number: 1, host: nil)
        while true {
            do {
                try Pipeline(steps(for: boot)).run()
            } catch {
                switch error {
                case .failed(let failure): throw failure
                case .signalled:
                    log.note("a stop signal came during the reboot: not booting again")
                    return .stopped
                }
            }
            let exit = boot.exit ?? .stopped
            guard exit == .reset, rebootInPlace, let next = boot.next else { return exit }
            boot = Boot(number: boot.number + 1, host: next)
            log.note("guest reset: rebooting in place (boot \(boot.number))")
        }
    }

    /// One boot's steps, in order (`StepOrder`'s rules by number). The last returns when the
    /// machine's run ended; the teardown then lets the machine go.
    func steps(for boot: Boot) -> [PipelineStep<Interruption>] {
        typealias Step = PipelineStep<Interruption>
        var steps: [Step] = []
        if boot.isFirst {
            steps.append(Step("startup code", setUp: { boot.startupCode = StartupCode.locate() }))  // 8
        }
        steps.append(Step("machine", setUp: { () throws(Interruption) in try self.build(boot) }) { boot.machine = nil })
        if boot.isFirst {
            // 3, 4
            steps.append(Step("process sandbox") { () throws(Interruption) in try self.restrictProcess() })
            if startsSignalThread {
                steps.append(Step("signal thread", setUp: { self.signals.start() }))  // 5
            }
        }
        steps.append(
            Step("signals follow the machine") { () throws(Interruption) in  // 7
                guard let machine = boot.machine, self.signals.attach(machine) else { throw .signalled }
            } undo: {
                self.signals.detach()
            })
        steps.append(
            Step("observers") {  // 7
                if let machine = boot.machine { self.observe(machine) }
            } undo: {
                self.release()
            })
        steps.append(
            Step("start") { () throws(Interruption) in
                try self.start(boot)
            } undo: {
                // Failed before its end (a later step threw): stop it and wait for its threads.
                guard boot.exit == nil, let machine = boot.machine else { return }
                try? machine.stop()
                _ = machine.waitForExit()
            })
        steps.append(Step("run to the end") { () throws(Interruption) in try self.wait(boot) })
        return steps
    }

    /// Builds a fresh machine, or on `boot.host` (the previous machine's host resources).
    private func build(_ boot: Boot) throws(Interruption) {
        do {
            if let host = boot.host {
                boot.machine = try Machine(rebootingWith: host, logger: logger, events: events)
            } else {
                boot.machine = try Machine(configuration: configuration, logger: logger, events: events)
            }
        } catch {
            throw .failed(CommandFailure(error))
        }
    }

    /// Every thread of the process drops every capability (checked in /proc/self/task) and goes
    /// under the process filter.
    private func restrictProcess() throws(Interruption) {
        do {
            try ProcessSandbox.restrict(
                for: configuration, rebuilds: rebootInPlace, networkServices: networkServices,
                opensDiskImages: opensDiskImages)
        } catch {
            throw .failed(CommandFailure(error))
        }
        sandboxed.set()
    }

    private func start(_ boot: Boot) throws(Interruption) {
        guard let machine = boot.machine else { return }
        do {
            try machine.start()
        } catch {
            try? machine.stop()
            _ = machine.waitForExit()
            throw .failed(CommandFailure(error))
        }
        started(machine)
        boot.startupCode?.release()
    }

    private func wait(_ boot: Boot) throws(Interruption) {
        guard let machine = boot.machine else { return }
        let exit = machine.waitForExit()
        boot.exit = exit
        guard exit == .reset, rebootInPlace else { return }
        do {
            boot.next = try machine.hostResourcesForReboot()
        } catch {
            throw .failed(CommandFailure(error))
        }
    }
}

/// Whether the process sandbox is in place.
final class SandboxFlag: Sendable {
    private let value = Atomic<Bool>(false)

    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
