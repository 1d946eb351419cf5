import ArgumentParser
import Dispatch
import Launcher
import Observability
import Synchronization
import VMM

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

    enum Question: String, ExpressibleByArgument, CaseIterable {
        case ready, healthy
    }

    @Argument(help: "ready (/readyz) or healthy (/healthz).")
    var question: Question

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The launcher's probe socket (pod.probe_socket; default \(PodSettings.defaultProbeSocket)).",
            valueName: "path"))
    var socket: String = PodSettings.defaultProbeSocket

    func run() throws {
        let path = question == .ready ? "/readyz" : "/healthz"
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<ProbeClient.Answer, any Error>?>(nil)
        let socket = self.socket
        Task.detached {
            do {
                let answer = try await ProbeClient.get(path, socketPath: socket)
                result.withLock { $0 = .success(answer) }
            } catch {
                result.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        done.wait()
        switch result.withLock({ $0 }) {
        case .success(let answer):
            print("\(answer.status == 200 ? question.rawValue : "not \(question.rawValue)"): \(answer.reason)")
            Glibc.exit(answer.status == 200 ? 0 : 1)
        case .failure(let error):
            print("not \(question.rawValue): no launcher answered on \(socket) (\(error))")
            Glibc.exit(1)
        case nil:
            Glibc.exit(1)
        }
    }
}
