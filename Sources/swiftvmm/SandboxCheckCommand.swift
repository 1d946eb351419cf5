import ArgumentParser
import Launcher
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// `swiftvmm sandbox-check`: makes a system call that the vCPU filter forbids, on a thread
/// under that filter — the documented way to see what a violation does (status 16 and one
/// line on stderr under `enforce`). With `--process FILE`, puts the whole process under a
/// run's process filter and tries what it refuses (an executable mapping, opening FILE for
/// writing, removing it, an io_uring, a unix socket, a signal outside the process: the last
/// stops the process), printing one `probe NAME: errno N` line each. Hidden: for tests and
/// operators checking a host.
struct SandboxCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox-check",
        abstract: "Make a system call the vCPU seccomp filter forbids (expect exit status 16).",
        shouldDisplay: false)

    @Option(name: .long, help: ArgumentHelp("enforce or log.", valueName: "mode"))
    var seccomp: String = "enforce"

    @Option(
        name: .long,
        help: ArgumentHelp("Probe the process filter instead, on this (existing) file.", valueName: "file"))
    var process: String?

    func run() throws {
        guard let mode = SeccompMode(rawValue: seccomp), mode != .off else {
            throw ValidationError("--seccomp: '\(seccomp)' is not valid; expected enforce or log")
        }
        if let process {
            do {
                try ProcessSandbox.probeProcessFilter(mode: mode, path: process) { probe, result in
                    writeStandardError("probe \(probe): errno \(result)\n")
                }
            } catch {
                throw CommandFailure(error)
            }
            return
        }
        let result: Int32
        do { result = try ProcessSandbox.makeForbiddenCallOnAVCPUThread(mode: mode) } catch {
            throw CommandFailure(error)
        }
        writeStandardError("swiftvmm: the forbidden call returned \(result) (logged, not stopped)\n")
    }
}
