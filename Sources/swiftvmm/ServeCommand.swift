import ArgumentParser
import Dispatch
import FirecrackerAPI
import Logging
import Synchronization
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// `swiftvmm serve`: Firecracker's API on a unix socket (Firecracker's flag names), so that
/// Firecracker's clients and SDKs configure, start, pause, resume and stop the machine.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve Firecracker's REST API on a unix socket and run the machine it configures.",
        discussion: """
            The API follows Firecracker's swagger (v1.x): configure with PUT /machine-config, \
            /boot-source, /drives/ID, /network-interfaces/ID, then PUT /actions InstanceStart. \
            --config-file boots a Firecracker configuration file at once; the socket keeps serving \
            unless --no-api. The process ends when the guest does, with `run`'s exit statuses. \
            SIGTERM or SIGINT presses the power button (forced stop after --grace-seconds); \
            before InstanceStart it ends the process.
            """
    )

    @Option(name: .customLong("api-sock"), help: ArgumentHelp("The API's unix socket.", valueName: "path"))
    var apiSocket = "/run/firecracker.socket"

    @Option(name: .customLong("id"), help: ArgumentHelp("The microVM's id (GET /, log lines).", valueName: "id"))
    var instanceID = "anonymous-instance"

    @Option(
        name: .customLong("config-file"),
        help: ArgumentHelp("Boot this Firecracker configuration file at once.", valueName: "file"))
    var configFile: String?

    @Flag(name: .customLong("no-api"), help: "Serve no API (needs --config-file).")
    var noAPI = false

    @OptionGroup var grace: GraceOption

    @Option(
        name: .long,
        help: ArgumentHelp("seccomp filters: enforce (default), log or off.", valueName: "mode"))
    var seccomp: String?

    @Option(
        name: .customLong("level"),
        help: ArgumentHelp("Log level: Error, Warning, Info (default), Debug, Trace or Off.", valueName: "level"))
    var level: String?

    @Option(
        name: .customLong("log-path"),
        help: ArgumentHelp("Write the log to this file or named pipe (default: stderr).", valueName: "path"))
    var logPath: String?

    @Flag(name: .customLong("show-level"), help: "Put each log line's level in it.")
    var showLevel = false

    @Flag(name: .customLong("show-log-origin"), help: "Put each log line's source file and line in it.")
    var showLogOrigin = false

    @Option(
        name: .customLong("metrics-path"),
        help: ArgumentHelp("Write Firecracker-style JSON metric lines to this file or named pipe.", valueName: "path"))
    var metricsPath: String?

    @Option(
        name: .customLong("http-api-max-payload-size"),
        help: ArgumentHelp("The largest request body the API takes, in bytes (default 51200).", valueName: "bytes"))
    var maximumPayloadBytes = FirecrackerAPIServer.defaultMaximumBodyBytes

    func validate() throws {
        guard !noAPI || configFile != nil else {
            throw ValidationError("--no-api: give --config-file too (without the API nothing could start the machine)")
        }
        guard (1...64).contains(instanceID.count), instanceID.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" })
        else {
            throw ValidationError(
                "--id: '\(instanceID)' is not valid; expected 1 to 64 letters, digits or hyphens")
        }
        guard !apiSocket.isEmpty else { throw ValidationError("--api-sock: give the path of the socket") }
        if let seccomp, SeccompMode(rawValue: seccomp) == nil {
            throw ValidationError("--seccomp: '\(seccomp)' is not valid; expected enforce, log or off")
        }
        if let level,
            !FirecrackerLoggerConfiguration.Level.allCases.contains(where: {
                $0.rawValue.lowercased() == level.lowercased()
            })
        {
            throw ValidationError(
                "--level: '\(level)' is not valid; expected Error, Warning, Info, Debug, Trace or Off")
        }
        guard (1...(16 << 20)).contains(maximumPayloadBytes) else {
            throw ValidationError(
                "--http-api-max-payload-size: '\(maximumPayloadBytes)' is not valid; expected 1 to 16777216 bytes")
        }
    }

    /// The logger options of the command line, if any was given.
    var loggerOptions: FirecrackerLoggerConfiguration? {
        guard level != nil || logPath != nil || showLevel || showLogOrigin else { return nil }
        var configuration = FirecrackerLoggerConfiguration()
        configuration.level = level.flatMap { text in
            FirecrackerLoggerConfiguration.Level.allCases.first { $0.rawValue.lowercased() == text.lowercased() }
        }
        configuration.logPath = logPath
        configuration.showLevel = showLevel ? true : nil
        configuration.showLogOrigin = showLogOrigin ? true : nil
        return configuration
    }

    func run() throws {
        let sink = FirecrackerLogSink(instanceID: instanceID)
        LoggingSystem.bootstrap { label in FirecrackerLogHandler(label: label, sink: sink) }
        let logger = Logger(label: "swiftvmm")
        // A bad file ends the command before anything is served.
        let file: FirecrackerConfigFile?
        do {
            file = try configFile.map { path throws(MachineError) in try FirecrackerConfigFile(contentsOfFile: path) }
            _ = try file?.resources.virtualMachineConfiguration(id: instanceID)
        } catch let error as MachineError {
            throw CommandFailure(error)
        } catch let fault as FirecrackerFault {
            throw CommandFailure(
                message: "--config-file \(configFile ?? ""): \(fault.message)", status: fault.exitStatus)
        }
        let signals = ShutdownSignals(graceSeconds: grace.graceSeconds)
        let starter = MainThreadStarter(seccomp: seccomp.flatMap(SeccompMode.init(rawValue:)))
        let controller = FirecrackerController(instanceID: instanceID, starter: starter, logSink: sink)
        do {
            try controller.configure(
                logger: loggerOptions, metrics: metricsPath.map { FirecrackerMetricsConfiguration(metricsPath: $0) })
        } catch {
            throw CommandFailure(message: "--log-path/--metrics-path: \(error.message)", status: error.exitStatus)
        }
        let server: FirecrackerAPIServer?
        do {
            server =
                noAPI
                ? nil
                : try FirecrackerAPIServer.start(
                    socketPath: apiSocket, controller: controller, maximumBodyBytes: maximumPayloadBytes,
                    logger: logger)
        } catch {
            throw CommandFailure(error)
        }
        // The signal thread starts before the sandbox here (it must end a process that has no
        // machine yet); it only waits for signals.
        signals.whenNoMachine { starter.shutDown() }
        signals.start()
        if let file, let path = configFile {
            starter.exitOnFailure = true
            DispatchQueue.global().async {
                do throws(FirecrackerFault) { try controller.boot(from: file) } catch {
                    server?.stop()
                    SwiftVMMCommand.fail("--config-file \(path): \(error.message)", status: error.exitStatus)
                }
            }
        }
        let exit = try runMachines(starter: starter, signals: signals, logger: logger, server: server)
        controller.finish()
        server?.stop()
        signals.cancel()
        if let exit, exit != .poweredOff { writeStandardError("swiftvmm: \(exit)\n") }
        Glibc.exit(exit?.exitStatus ?? 0)
    }

    /// The main thread builds and runs each machine InstanceStart asks for, until one started
    /// (its exit is returned) or a signal ended the process before any did (nil).
    private func runMachines(
        starter: MainThreadStarter, signals: ShutdownSignals, logger: Logger, server: FirecrackerAPIServer?
    ) throws(CommandFailure) -> MachineExit? {
        while let configuration = starter.nextRequest() {
            let sandboxed = Atomic(false)
            var loop = BootLoop(
                configuration: RunCommand.interactive(configuration), rebootInPlace: false, signals: signals,
                logger: logger, events: RunLog.event, prepare: { _ in sandboxed.store(true, ordering: .relaxed) })
            loop.networkServices = true
            loop.opensDiskImages = true
            loop.started = { machine in starter.answer(.success(machine)) }
            do {
                return try loop.run()
            } catch {
                starter.answer(.failure(FirecrackerFault(error.message, exitStatus: error.status)))
                // Once the process sandbox is in place no machine can be built again here.
                if sandboxed.load(ordering: .relaxed) || starter.exitOnFailure {
                    server?.stop()
                    throw error
                }
            }
        }
        return nil
    }
}

/// Hands InstanceStart's configuration to the main thread and its outcome back to the API.
final class MainThreadStarter: MachineStarter, Sendable {
    private let seccomp: SeccompMode?
    private let state = Mutex(State())
    private let requested = DispatchSemaphore(value: 0)
    private let answered = DispatchSemaphore(value: 0)

    struct State {
        var configuration: VirtualMachineConfiguration?
        var outcome: Result<Machine, FirecrackerFault>?
        var shuttingDown = false
        var exitOnFailure = false
    }

    init(seccomp: SeccompMode?) {
        self.seccomp = seccomp
    }

    /// A failed start ends the process (`--config-file`).
    var exitOnFailure: Bool {
        get { state.withLock { $0.exitOnFailure } }
        set { state.withLock { $0.exitOnFailure = newValue } }
    }

    func start(_ configuration: VirtualMachineConfiguration) throws(FirecrackerFault) -> Machine {
        var configuration = configuration
        if let seccomp { configuration.seccomp = seccomp }
        let accepted = state.withLock { state in
            guard !state.shuttingDown else { return false }
            state.configuration = configuration
            state.outcome = nil
            return true
        }
        guard accepted else { throw FirecrackerFault("The VMM is shutting down.") }
        requested.signal()
        answered.wait()
        guard let outcome = state.withLock({ $0.outcome }) else { throw FirecrackerFault("The VMM is shutting down.") }
        return try outcome.get()
    }

    /// Waits for the next start request; nil once the process is shutting down.
    func nextRequest() -> VirtualMachineConfiguration? {
        requested.wait()
        return state.withLock { state in
            guard !state.shuttingDown else { return nil }
            defer { state.configuration = nil }
            return state.configuration
        }
    }

    func answer(_ outcome: Result<Machine, FirecrackerFault>) {
        state.withLock { $0.outcome = outcome }
        answered.signal()
    }

    /// Ends the wait of the main thread (a signal before any machine started).
    func shutDown() {
        state.withLock { $0.shuttingDown = true }
        requested.signal()
        answered.signal()
    }
}
