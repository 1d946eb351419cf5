import Logging
import Observability
import VMM

/// `swiftvmm run`: one machine in the foreground (rebooted in place when asked), as a pipeline
/// of steps. The order (`StepOrder`'s rules by number):
///
/// 1. `logging` — stderr text lines at the command's level (1).
/// 2. `configuration` — the file and the flags, checked (1).
/// 3. `shutdown signals` — SIGTERM/SIGINT blocked before any thread (2); undo: the signals
///    stop acting on the machine.
/// 4. `observability endpoint` — `--http`, `--probe-socket` and the readiness rule, before the
///    machine (6); undo: the endpoints stop.
/// 5. `machines` — `BootLoop`: startup code, build, process sandbox, signal thread, observers,
///    start, run to the end, and again on a reset with `--reboot-in-place` (3, 4, 5, 7, 8).
public final class RunPipeline {
    /// What `run`'s flags ask for.
    public struct Options {
        /// The configuration file with the flags applied (called by the `configuration` step).
        public var configuration: () throws(MachineError) -> VirtualMachineConfiguration
        public var logLevel: Logger.Level
        public var graceSeconds: Double
        public var rebootInPlace: Bool
        /// `--http`: the endpoint's `HOST:PORT`.
        public var http: String?
        /// `--probe-socket`: the endpoint on a unix socket.
        public var probeSocket: String?
        /// `--ready-console`: a regular expression for a console line.
        public var readyConsole: String?
        /// `--ready-tcp`: `HOST:PORT` accepting connections.
        public var readyTCP: String?

        public init(
            configuration: @escaping () throws(MachineError) -> VirtualMachineConfiguration, logLevel: Logger.Level,
            graceSeconds: Double, rebootInPlace: Bool, http: String? = nil, probeSocket: String? = nil,
            readyConsole: String? = nil, readyTCP: String? = nil
        ) {
            self.configuration = configuration
            self.logLevel = logLevel
            self.graceSeconds = graceSeconds
            self.rebootInPlace = rebootInPlace
            self.http = http
            self.probeSocket = probeSocket
            self.readyConsole = readyConsole
            self.readyTCP = readyTCP
        }
    }

    private let options: Options
    // What the steps make, for the steps after them.
    private var logger = Logger(label: "swiftvmm", factory: { _ in SwiftLogNoOpLogHandler() })
    private var configuration = VirtualMachineConfiguration()
    private var signals: ShutdownSignals?
    private var observability: ObservabilityStep?
    private var exit = MachineExit.stopped

    public init(_ options: Options) {
        self.options = options
    }

    /// The steps, in order (nothing happens until `run()`).
    public private(set) lazy var pipeline = Pipeline<CommandFailure>([
        Step("logging") { self.bootstrapLogging() },
        Step("configuration") { () throws(CommandFailure) in try self.readConfiguration() },
        Step("shutdown signals") {
            self.signals = ShutdownSignals.blocked(graceSeconds: self.options.graceSeconds, log: .standardError)
        } undo: {
            self.signals?.cancel()
        },
        Step("observability endpoint") { () throws(CommandFailure) in
            try self.startEndpoint()
        } undo: {
            self.observability?.stop()
        },
        Step("machines") { () throws(CommandFailure) in self.exit = try self.bootLoop().run() },
    ])

    /// Runs the pipeline; returns the exit status, with a line on stderr unless the guest powered off.
    public func run() throws(CommandFailure) -> Int32 {
        try pipeline.run()
        if exit != .poweredOff {
            writeStandardError("swiftvmm: \(exit)\n")
        }
        return exit.exitStatus
    }

    private func readConfiguration() throws(CommandFailure) {
        do { configuration = try options.configuration() } catch { throw CommandFailure(error) }
    }

    private func startEndpoint() throws(CommandFailure) {
        observability = try ObservabilityStep(
            listen: options.http, field: "--http", probeSocket: options.probeSocket, probeField: "--probe-socket",
            rule: try readinessRule(), ruleField: options.readyTCP == nil ? "--ready-console" : "--ready-tcp",
            logger: logger)
    }

    private func bootstrapLogging() {
        let level = options.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        logger = Logger(label: "swiftvmm")
    }

    /// The machines, each observed by the endpoint; with `--ready-console` and the console on
    /// stdio, the console goes to stdout through the VMM (the rule reads its lines).
    private func bootLoop() -> BootLoop {
        guard let signals, let observability else { preconditionFailure("the machines step runs after its set-up") }
        var machineConfiguration = Self.interactive(configuration)
        let consoleThroughVMM = options.readyConsole != nil && configuration.console == .stdio
        if consoleThroughVMM { machineConfiguration.console = .stream }
        let loop = BootLoop(
            configuration: machineConfiguration, rebootInPlace: options.rebootInPlace, signals: signals,
            logger: logger, log: .standardError, events: RunLog.standardError.events)
        loop.observe = { machine in
            observability.attach(machine)
            if consoleThroughVMM, let console = machine.console {
                let chunks = console.output()
                Task.detached { for await chunk in chunks { writeStandardOutput(chunk) } }
            }
        }
        loop.networkServices = observability.usesNetwork
        loop.release = { observability.detach() }
        return loop
    }

    /// The readiness rule of the flags (the boot timer unless one is given).
    private func readinessRule() throws(CommandFailure) -> ReadinessRule {
        if let readyConsole = options.readyConsole { return .consoleLine(pattern: readyConsole) }
        guard let readyTCP = options.readyTCP else { return .bootTimer }
        do {
            guard
                case .tcp(let host, let port) = try ObservabilityEndpoint.Address(
                    parsing: readyTCP, field: "--ready-tcp")
            else { return .bootTimer }
            return .tcpPort(host: host, port: port)
        } catch {
            throw CommandFailure(error)
        }
    }

    /// `stdio` in the command's sense: the guest's console on stdout, and stdin typed into it
    /// when stdin is a terminal, pipe or socket (the library reads stdin only when asked).
    static func interactive(_ configuration: VirtualMachineConfiguration) -> VirtualMachineConfiguration {
        guard configuration.console == .stdio else { return configuration }
        var configuration = configuration
        configuration.console = .fileDescriptor(read: ConsoleInputPump.isInteractive(0) ? 0 : nil, write: 1)
        return configuration
    }
}
