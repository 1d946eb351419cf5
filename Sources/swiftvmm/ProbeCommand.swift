import ArgumentParser
import Launcher

#if canImport(Glibc)
    import Glibc
#endif

/// `swiftvmm probe ready|healthy`: an exec probe for a Pod. Asks the running launcher over its
/// unix socket and exits 0 (ready / healthy) or 1, with the launcher's one-line reason.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Ask the running launcher whether the guest is ready or the VMM healthy (an exec probe).",
        discussion: "Exit status 0: yes; 1: no, or no launcher answered. The reason is printed on one line.")

    @Argument(help: "ready (/readyz) or healthy (/healthz).")
    var question: Probe.Question

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The launcher's probe socket (pod.probe_socket; default \(PodSettings.defaultProbeSocket)).",
            valueName: "path"))
    var socket: String = PodSettings.defaultProbeSocket

    func run() throws {
        let (line, status) = Probe.ask(question, socket: socket)
        print(line)
        Glibc.exit(status)
    }
}

extension Probe.Question: ExpressibleByArgument {}
