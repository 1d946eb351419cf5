import ArgumentParser
import Dispatch
import FoundationEssentials
import Launcher
import Logging
import Observability
import PodNetwork
import Synchronization
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// `swiftvmm launch`: the Kubernetes pod's entrypoint. The VM configuration and its `pod`
/// section come from a file (a mounted ConfigMap), the pod's identity and overrides from the
/// environment (docs/kubernetes.md). As PID 1 it reaps children; SIGTERM/SIGINT
/// press the power button and force the stop after the grace period; the guest console goes
/// to stdout line by line, the launcher's own log to stderr as JSON lines (text on a terminal).
struct LaunchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "Run a VM as a Kubernetes pod's entrypoint.",
        discussion:
            "Environment: "
            + PodSettings.environmentVariables.map { "\($0.name) — \($0.meaning)" }.joined(separator: "; ")
    )

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The VM configuration (JSON, as for run --config) with an optional \"pod\" section.", valueName: "file"))
    var config: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Log level: trace, debug, info, notice, warning, error or critical (default info).", valueName: "level"))
    var logLevel: String = "info"

    func validate() throws {
        _ = try parseLogLevel(logLevel)
    }

    func run() throws {
        // Before any thread exists: the stop signals and SIGCHLD stay pending until taken.
        let settings: LaunchConfiguration
        do {
            settings = try LaunchConfiguration(file: config, environment: ProcessInfo.processInfo.environment)
            // Every field on its own terms before any is used: the fit check below does
            // arithmetic on memory_mib, and a negative or huge value must be an error line
            // (status 10), not a crash. `Machine` validates the final configuration again.
            try settings.machine.validate()
        } catch {
            throw CommandFailure(error)
        }
        let signals = ShutdownSignals(graceSeconds: settings.pod.graceSeconds, reapChildren: getpid() == 1)
        let logger = Self.bootstrapLogging(level: try parseLogLevel(logLevel), pod: settings.pod)
        var machineConfiguration = settings.machine
        machineConfiguration.console = .stream
        do {
            // Huge pages are charged to the pod's hugepages-2Mi resource (the hugetlb cgroup), not
            // to its memory limit.
            let chargedMiB = machineConfiguration.memoryBacking == .hugetlbfs ? 0 : machineConfiguration.memoryMiB
            let warnings = try ResourceCheck.check(
                guestMemoryMiB: chargedMiB, overheadMiB: settings.pod.memoryOverheadMiB,
                vcpus: machineConfiguration.vcpuCount, cgroup: CgroupLimits.read(),
                downwardMemoryLimitBytes: settings.pod.memoryLimitBytes)
            for warning in warnings { logger.warning("\(warning)") }
        } catch {
            throw CommandFailure(message: error.message, status: error.status)
        }
        let httpPort = settings.pod.httpPort
        let network = try PodNetworkStep.setUp(
            settings, machine: &machineConfiguration, reservedTCPPorts: httpPort.map { [$0] } ?? [], logger: logger)
        let observability: ObservabilityStep
        do {
            observability = try ObservabilityStep(
                listen: settings.pod.httpListen, field: "pod.http_listen", probeSocket: settings.pod.probeSocket,
                probeField: "pod.probe_socket",
                rule: try Self.readinessRule(settings.pod, network: network), ruleField: "pod.ready_console",
                logger: logger)
        } catch {
            PodNetworkStep.tearDown(network, logger: logger)
            throw error
        }
        let console = ConsoleLineWriter(idleMilliseconds: settings.pod.consoleIdleFlushMilliseconds) { bytes in
            writeStandardOutput(bytes)
        }
        var loop = BootLoop(
            configuration: machineConfiguration, rebootInPlace: settings.pod.rebootInPlace, signals: signals,
            logger: logger, events: { Self.log(event: $0, logger: logger) },
            prepare: { machine in
                observability.attach(machine)
                Self.stream(machine, to: console, idleMilliseconds: settings.pod.consoleIdleFlushMilliseconds)
            })
        loop.networkServices = network != nil || observability.usesNetwork
        loop.finished = { observability.detach() }
        logger.info(
            "launching",
            metadata: ["vcpus": "\(machineConfiguration.vcpuCount)", "memory_mib": "\(machineConfiguration.memoryMiB)"])
        let exit: MachineExit
        do { exit = try loop.run() } catch {
            console.finish()
            // Before the sandbox, what set-up made is removed again; after it, no capability is
            // left to do so (the next start replaces the table and reuses the tap).
            if !loop.sandboxed.isSet { PodNetworkStep.tearDown(network, logger: logger) }
            throw error
        }
        console.finish()
        observability.stop()
        PodNetworkStep.finish(network, logger: logger)
        signals.cancel()
        logger.info("exiting", metadata: ["exit": "\(exit)", "status": "\(exit.exitStatus)"])
        Glibc.exit(exit.exitStatus)
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

    /// JSON lines on stderr (text when stderr is a terminal), with the pod's name and namespace.
    static func bootstrapLogging(level: Logger.Level, pod: PodSettings) -> Logger {
        let format: PodLogHandler.Format = isatty(2) == 1 ? .text : .json
        LoggingSystem.bootstrap { label in
            var handler = PodLogHandler(label: label, format: format) { line in writeStandardError(line) }
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "swiftvmm")
        if let name = pod.podName { logger[metadataKey: "pod"] = "\(name)" }
        if let namespace = pod.podNamespace { logger[metadataKey: "namespace"] = "\(namespace)" }
        RunLog.use(logger)
        return logger
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
