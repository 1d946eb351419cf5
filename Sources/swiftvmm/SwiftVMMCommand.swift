import ArgumentParser
import Launcher
import Logging
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// The `swiftvmm` executable: runs virtual machines on Linux KVM.
@main
struct SwiftVMMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftvmm",
        abstract: "Run virtual machines on Linux KVM.",
        discussion: "Exit statuses are listed in docs/configuration.md (0 = guest powered off).",
        version: SwiftVMMVersion.current,
        subcommands: [
            RunCommand.self, ServeCommand.self, LaunchCommand.self, ProbeCommand.self, SandboxCheckCommand.self,
        ],
        defaultSubcommand: RunCommand.self
    )

    /// Parses the command line and runs; every failure is one line on stderr and a documented
    /// exit status (never ArgumentParser's defaults, which would collide with the guest range).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as CommandFailure {
            error.endProcess()
        } catch {
            if exitCode(for: error) == .success {  // --help, --version
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            CommandFailure(message: message(for: error), status: ExitStatus.invalidArgument).endProcess()
        }
    }
}

/// `--log-level`'s level (`run` and `launch`); a ValidationError naming the flag when `text` is not one.
func parseLogLevel(_ text: String) throws -> Logger.Level {
    guard let level = Logger.Level(rawValue: text) else {
        throw ValidationError(
            "--log-level: '\(text)' is not valid; expected trace, debug, info, notice, warning, error or critical")
    }
    return level
}
