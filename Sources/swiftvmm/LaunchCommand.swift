import ArgumentParser
import FoundationEssentials
import Launcher

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
        let pipeline = LaunchPipeline(
            LaunchPipeline.Options(
                configFile: config, environment: ProcessInfo.processInfo.environment,
                logLevel: try parseLogLevel(logLevel)))
        Glibc.exit(try pipeline.run())
    }
}
