import Dispatch
import FirecrackerAPI
import Logging
import VMM

/// `swiftvmm serve`: Firecracker's API on a unix socket and the machine it configures, as a
/// pipeline of steps. The order (`StepOrder`'s rules by number):
///
/// 1. `logging` — Firecracker's log lines (stderr, or `--log-path` once configured) (1).
/// 2. `configuration` — `--config-file`, decoded and checked before anything is served (1).
/// 3. `shutdown signals` — SIGTERM/SIGINT blocked before any thread (2); undo: the signals stop
///    acting on the machine.
/// 4. `controller` — the API's state, `--log-path` and `--metrics-path` opened; undo: the last
///    metrics line.
/// 5. `API server` — the socket, unless `--no-api`; undo: it stops.
/// 6. `signal thread` — before any machine: a signal then ends the process (5).
/// 7. `configuration file boot` — `--config-file` starts the machine from another thread, as
///    InstanceStart would; its failure ends the process.
/// 8. `machines` — each InstanceStart's machine is built and run on the main thread
///    (`BootLoop`: startup code, build, process sandbox, observers, start, run to the end)
///    until one started; a failed one lets the API try again until the sandbox is in place
///    (3, 4, 7, 8).
public final class ServePipeline {
    /// What `serve`'s flags (Firecracker's names) ask for.
    public struct Options: Sendable {
        /// The API's unix socket; nil serves no API (`--no-api`).
        public var apiSocket: String?
        public var instanceID: String
        /// `--config-file`: a Firecracker configuration file booted at once.
        public var configFile: String?
        public var graceSeconds: Double
        /// `--seccomp`: overrides the machine's filter mode.
        public var seccomp: SeccompMode?
        /// `--level`, `--log-path`, `--show-level`, `--show-log-origin`, if any was given.
        public var logger: FirecrackerLoggerConfiguration?
        public var metricsPath: String?
        public var maximumPayloadBytes: Int

        public init(
            apiSocket: String?, instanceID: String, configFile: String?, graceSeconds: Double,
            seccomp: SeccompMode?, logger: FirecrackerLoggerConfiguration?, metricsPath: String?,
            maximumPayloadBytes: Int
        ) {
            self.apiSocket = apiSocket
            self.instanceID = instanceID
            self.configFile = configFile
            self.graceSeconds = graceSeconds
            self.seccomp = seccomp
            self.logger = logger
            self.metricsPath = metricsPath
            self.maximumPayloadBytes = maximumPayloadBytes
        }
    }

    private let options: Options
    private let starter: MainThreadStarter
    // What the steps make, for the steps after them.
    private var sink: FirecrackerLogSink
    private var logger = Logger(label: "swiftvmm", factory: { _ in SwiftLogNoOpLogHandler() })
    private var file: FirecrackerConfigFile?
    private var signals: ShutdownSignals?
    private var controller: FirecrackerController?
    private var server: FirecrackerAPIServer?
    private var exit: MachineExit?

    public init(_ options: Options) {
        self.options = options
        starter = MainThreadStarter(seccomp: options.seccomp)
        sink = FirecrackerLogSink(instanceID: options.instanceID)
    }

    /// The steps, in order (nothing happens until `run()`).
    public private(set) lazy var pipeline = Pipeline<CommandFailure>([
        Step("logging") { self.bootstrapLogging() },
        Step("configuration") { () throws(CommandFailure) in try self.readConfigurationFile() },
        Step("shutdown signals") {
            self.signals = ShutdownSignals.blocked(graceSeconds: self.options.graceSeconds, log: .standardError)
        } undo: {
            self.signals?.cancel()
        },
        Step("controller") { () throws(CommandFailure) in
            try self.makeController()
        } undo: {
            self.controller?.finish()
        },
        Step("API server") { () throws(CommandFailure) in
            try self.startServer()
        } undo: {
            self.server?.stop()
        },
        Step("signal thread") { self.startSignalThread() },
        Step("configuration file boot") { self.bootFromFile() },
        Step("machines") { () throws(CommandFailure) in self.exit = try self.runMachines() },
    ])

    /// Runs the pipeline; returns the exit status (0 when a signal ended the process before any
    /// machine started), with a line on stderr unless the guest powered off.
    public func run() throws(CommandFailure) -> Int32 {
        try pipeline.run()
        if let exit, exit != .poweredOff { writeStandardError("swiftvmm: \(exit)\n") }
        return exit?.exitStatus ?? 0
    }

    private func bootstrapLogging() {
        let sink = self.sink
        LoggingSystem.bootstrap { label in FirecrackerLogHandler(label: label, sink: sink) }
        logger = Logger(label: "swiftvmm")
    }

    private func makeController() throws(CommandFailure) {
        let controller = FirecrackerController(instanceID: options.instanceID, starter: starter, logSink: sink)
        do {
            try controller.configure(
                logger: options.logger,
                metrics: options.metricsPath.map { FirecrackerMetricsConfiguration(metricsPath: $0) })
        } catch {
            throw CommandFailure(message: "--log-path/--metrics-path: \(error.message)", status: error.exitStatus)
        }
        self.controller = controller
    }

    /// The signal thread starts before the sandbox here (it must end a process that has no
    /// machine yet); it only waits for signals.
    private func startSignalThread() {
        let starter = self.starter
        signals?.whenNoMachine { starter.shutDown() }
        signals?.start()
    }

    /// A bad file ends the command before anything is served.
    private func readConfigurationFile() throws(CommandFailure) {
        guard let path = options.configFile else { return }
        do {
            let file = try FirecrackerConfigFile(contentsOfFile: path)
            _ = try file.resources.virtualMachineConfiguration(id: options.instanceID)
            self.file = file
        } catch let error as MachineError {
            throw CommandFailure(error)
        } catch let fault as FirecrackerFault {
            throw CommandFailure(message: "--config-file \(path): \(fault.message)", status: fault.exitStatus)
        } catch {
            throw CommandFailure(message: "--config-file \(path): \(error)", status: ExitStatus.invalidArgument)
        }
    }

    private func startServer() throws(CommandFailure) {
        guard let apiSocket = options.apiSocket, let controller else { return }
        do {
            server = try FirecrackerAPIServer.start(
                socketPath: apiSocket, controller: controller, maximumBodyBytes: options.maximumPayloadBytes,
                logger: logger)
        } catch {
            throw CommandFailure(error)
        }
    }

    /// Starts the file's machine from another thread, as InstanceStart would; a failure ends the
    /// process.
    private func bootFromFile() {
        guard let file, let path = options.configFile, let controller else { return }
        starter.exitOnFailure = true
        let server = self.server
        DispatchQueue.global().async {
            do throws(FirecrackerFault) { try controller.boot(from: file) } catch {
                server?.stop()
                CommandFailure(message: "--config-file \(path): \(error.message)", status: error.exitStatus)
                    .endProcess()
            }
        }
    }

    /// The main thread builds and runs each machine InstanceStart asks for, until one started
    /// (its exit is returned) or a signal ended the process before any did (nil).
    private func runMachines() throws(CommandFailure) -> MachineExit? {
        guard let signals else { preconditionFailure("the machines step runs after its set-up") }
        while let configuration = starter.nextRequest() {
            let loop = BootLoop(
                configuration: RunPipeline.interactive(configuration), rebootInPlace: false, signals: signals,
                logger: logger, log: .standardError, events: RunLog.standardError.events)
            loop.networkServices = true
            loop.opensDiskImages = true
            loop.startsSignalThread = false
            let starter = self.starter
            loop.started = { machine in starter.answer(.success(machine)) }
            do {
                return try loop.run()
            } catch {
                starter.answer(.failure(FirecrackerFault(error.message, exitStatus: error.status)))
                // Once the process sandbox is in place no machine can be built again here.
                if loop.sandboxed.isSet || starter.exitOnFailure { throw error }
            }
        }
        return nil
    }
}
