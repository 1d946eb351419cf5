import ArgumentParser
import FirecrackerAPI
import Launcher
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
        let pipeline = ServePipeline(
            ServePipeline.Options(
                apiSocket: noAPI ? nil : apiSocket, instanceID: instanceID, configFile: configFile,
                graceSeconds: grace.graceSeconds, seccomp: seccomp.flatMap(SeccompMode.init(rawValue:)),
                logger: loggerOptions, metricsPath: metricsPath, maximumPayloadBytes: maximumPayloadBytes))
        Glibc.exit(try pipeline.run())
    }
}
