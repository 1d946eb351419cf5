import Dispatch
import Logging
import Observability
import PodNetwork
import Synchronization
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// `swiftvmm launch`, the pod's entrypoint, as a pipeline of steps. The order (`StepOrder`'s
/// rules by number):
///
/// 1. `configuration` — the file (decoded once) and the environment, every value checked (1).
/// 2. `logging` — JSON lines on stderr (text on a terminal) with the pod's name (1); it makes no
///    thread, so it may come before the signals.
/// 3. `shutdown signals` — SIGTERM/SIGINT blocked, SIGCHLD reaped as PID 1, before any thread
///    (2); undo: the signals stop acting on the machine.
/// 4. `resource check` — the guest against the cgroup's and the downward API's limits (1).
/// 5. `pod network` — tap, nftables, DHCP, the NIC on the tap, before the endpoint's threads, the
///    build and the capability drop (3); undo: removed again before the sandbox, only the
///    services stopped after it.
/// 6. `observability endpoint` — HTTP and probe socket, readiness (a TCP rule needs the pod
///    network's lease), before the machine (6); undo: the endpoints stop.
/// 7. `console` — the line writer to stdout; undo: its last partial line is written.
/// 8. `machines` — `BootLoop`: startup code, build, process sandbox, signal thread, observers,
///    start, run to the end, and again on a reset with `pod.reboot_in_place` (3, 4, 5, 7, 8).
public final class LaunchPipeline {
    /// What `launch`'s flags and environment give.
    public struct Options: Sendable {
        /// The VM configuration file with its `pod` section.
        public var configFile: String
        public var environment: [String: String]
        public var logLevel: Logger.Level

        public init(configFile: String, environment: [String: String], logLevel: Logger.Level) {
            self.configFile = configFile
            self.environment = environment
            self.logLevel = logLevel
        }
    }

    private let options: Options
    // What the steps make, for the steps after them.
    private var settings = LaunchConfiguration()
    private var machineConfiguration = VirtualMachineConfiguration()
    private var logger = Logger(label: "swiftvmm", factory: { _ in SwiftLogNoOpLogHandler() })
    private var signals: ShutdownSignals?
    private var network: PodNetwork?
    private var observability: ObservabilityStep?
    private var console: ConsoleLineWriter?
    private var loop: BootLoop?
    private var exit = MachineExit.stopped

    public init(_ options: Options) {
        self.options = options
    }

    /// The steps, in order (nothing happens until `run()`).
    public private(set) lazy var pipeline = Pipeline<CommandFailure>([
        Step("configuration") { () throws(CommandFailure) in try self.readConfiguration() },
        Step("logging") { self.bootstrapLogging() },
        Step("shutdown signals") {
            self.signals = ShutdownSignals.blocked(
                graceSeconds: self.settings.pod.graceSeconds, log: RunLog(logger: self.logger),
                reapChildren: getpid() == 1)
        } undo: {
            self.signals?.cancel()
        },
        Step("resource check") { () throws(CommandFailure) in try self.checkResources() },
        Step("pod network") { () throws(CommandFailure) in
            try self.setUpNetwork()
        } undo: {
            self.undoNetwork()
        },
        Step("observability endpoint") { () throws(CommandFailure) in
            try self.startEndpoint()
        } undo: {
            self.observability?.stop()
        },
        Step("console") {
            self.makeConsoleWriter()
        } undo: {
            self.console?.finish()
        },
        Step("machines") { () throws(CommandFailure) in try self.runMachines() },
    ])

    /// Runs the pipeline; returns the exit status.
    public func run() throws(CommandFailure) -> Int32 {
        try pipeline.run()
        logger.info("exiting", metadata: ["exit": "\(exit)", "status": "\(exit.exitStatus)"])
        return exit.exitStatus
    }

    private func readConfiguration() throws(CommandFailure) {
        do {
            settings = try LaunchConfiguration(file: options.configFile, environment: options.environment)
            // Every field on its own terms before any is used: the fit check does arithmetic on
            // memory_mib, and a negative or huge value must be an error line (status 10), not a
            // crash. `Machine` validates the final configuration again.
            try settings.machine.validate()
        } catch {
            throw CommandFailure(error)
        }
        machineConfiguration = settings.machine
        machineConfiguration.console = .stream
    }

    private func setUpNetwork() throws(CommandFailure) {
        network = try PodNetworkStep.setUp(
            settings, machine: &machineConfiguration, reservedTCPPorts: settings.pod.httpPort.map { [$0] } ?? [],
            logger: logger)
    }

    /// Before the sandbox what set-up made is removed again; after it no capability is left to
    /// do so (the next start replaces the table and reuses the tap).
    private func undoNetwork() {
        if loop?.sandboxed.isSet == true {
            PodNetworkStep.finish(network, logger: logger)
        } else {
            PodNetworkStep.tearDown(network, logger: logger)
        }
    }

    private func startEndpoint() throws(CommandFailure) {
        let pod = settings.pod
        observability = try ObservabilityStep(
            listen: pod.httpListen, field: "pod.http_listen", probeSocket: pod.probeSocket,
            probeField: "pod.probe_socket", rule: try Self.readinessRule(pod, network: network),
            ruleField: "pod.ready_console", logger: logger)
    }

    private func makeConsoleWriter() {
        console = ConsoleLineWriter(idleMilliseconds: settings.pod.consoleIdleFlushMilliseconds) { bytes in
            writeStandardOutput(bytes)
        }
    }

    private func runMachines() throws(CommandFailure) {
        let loop = bootLoop()
        self.loop = loop
        logger.info(
            "launching",
            metadata: ["vcpus": "\(machineConfiguration.vcpuCount)", "memory_mib": "\(machineConfiguration.memoryMiB)"])
        exit = try loop.run()
    }

    /// JSON lines on stderr (text when stderr is a terminal), with the pod's name and namespace.
    private func bootstrapLogging() {
        let format: PodLogHandler.Format = isatty(2) == 1 ? .text : .json
        let level = options.logLevel
        LoggingSystem.bootstrap { label in
            var handler = PodLogHandler(label: label, format: format) { line in writeStandardError(line) }
            handler.logLevel = level
            return handler
        }
        logger = Logger(label: "swiftvmm")
        if let name = settings.pod.podName { logger[metadataKey: "pod"] = "\(name)" }
        if let namespace = settings.pod.podNamespace { logger[metadataKey: "namespace"] = "\(namespace)" }
    }

    /// The guest against the pod's memory limit: huge pages are charged to the pod's
    /// hugepages-2Mi resource (the hugetlb cgroup), not to its memory limit.
    private func checkResources() throws(CommandFailure) {
        do {
            let chargedMiB = machineConfiguration.memoryBacking == .hugetlbfs ? 0 : machineConfiguration.memoryMiB
            let warnings = try ResourceCheck.check(
                guestMemoryMiB: chargedMiB, overheadMiB: settings.pod.memoryOverheadMiB,
                vcpus: machineConfiguration.vcpuCount, cgroup: CgroupLimits.read(),
                downwardMemoryLimitBytes: settings.pod.memoryLimitBytes)
            for warning in warnings { logger.warning("\(warning)") }
        } catch {
            throw CommandFailure(message: error.message, status: error.status)
        }
    }

    /// The machines: the console streamed line by line, each observed by the endpoint.
    private func bootLoop() -> BootLoop {
        guard let signals, let observability, let console else {
            preconditionFailure("the machines step runs after its set-up")
        }
        let logger = self.logger
        let idleMilliseconds = settings.pod.consoleIdleFlushMilliseconds
        let loop = BootLoop(
            configuration: machineConfiguration, rebootInPlace: settings.pod.rebootInPlace, signals: signals,
            logger: logger, log: RunLog(logger: logger), events: { Self.log(event: $0, logger: logger) })
        loop.observe = { machine in
            observability.attach(machine)
            Self.stream(machine, to: console, idleMilliseconds: idleMilliseconds)
        }
        loop.networkServices = network != nil || observability.usesNetwork
        loop.release = { observability.detach() }
        return loop
    }

    /// The readiness rule of the `pod` section: the boot timer, a console line, or a TCP port of
    /// the guest (which needs the pod network: the guest's address is the lease's).
    static func readinessRule(_ pod: PodSettings, network: PodNetwork?) throws(CommandFailure) -> ReadinessRule {
        if let pattern = pod.readyConsolePattern { return .consoleLine(pattern: pattern) }
        guard let port = pod.readyTCPPort else { return .bootTimer }
        guard let network else {
            throw CommandFailure(
                MachineError.invalidValue(
                    field: "pod.ready_tcp_port", value: "\(port)",
                    expected: "a pod network (pod.network) to reach the guest through"))
        }
        return .tcpPort(host: "\(network.plan.lease.address)", port: port)
    }

    /// Feeds `machine`'s console to `writer` until the machine stops, flushing a partial line
    /// after the idle period (a login prompt).
    static func stream(_ machine: Machine, to writer: ConsoleLineWriter, idleMilliseconds: Int) {
        guard let console = machine.console else { return }
        // Neither task holds the machine: a reboot in place builds the next one while these
        // finish, and the old one must be gone by then (its disks are locked while it lives).
        let chunks = console.output()
        let ended = EndFlag()
        Task.detached {
            for await chunk in chunks { writer.feed(chunk, now: DispatchTime.now().uptimeNanoseconds) }
            writer.finish()
            ended.value.store(true, ordering: .releasing)
        }
        Task.detached {
            while !Task.isCancelled, !ended.value.load(ordering: .acquiring) {
                try? await Task.sleep(for: .milliseconds(max(1, idleMilliseconds / 2)))
                writer.flushIfIdle(now: DispatchTime.now().uptimeNanoseconds)
            }
        }
    }

    static func log(event: MachineEvent, logger: Logger) {
        switch event {
        case .guestReady(let nanoseconds):
            logger.info("guest ready", metadata: ["boot_ms": "\(Double(nanoseconds / 1000) / 1000)"])
        case .stateChanged, .powerButtonPressed:
            break  // the machine logs these itself
        }
    }
}

/// Set once the console stream ended (shared by the two streaming tasks).
private final class EndFlag: Sendable {
    let value = Atomic<Bool>(false)
}
