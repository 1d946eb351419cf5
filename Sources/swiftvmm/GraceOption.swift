import ArgumentParser

/// `--grace-seconds`, shared by `run` and `serve`: how long SIGTERM/SIGINT's power-button press
/// waits before the run is forced to stop.
struct GraceOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds the guest has to power off after SIGTERM/SIGINT before the run is forced to stop (default 30).",
            valueName: "seconds"))
    var graceSeconds: Double = 30

    func validate() throws {
        guard graceSeconds >= 0, graceSeconds.isFinite else {
            throw ValidationError("--grace-seconds: '\(graceSeconds)' is not valid; expected a number of seconds ≥ 0")
        }
    }
}
