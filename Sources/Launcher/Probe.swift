import Dispatch
import Observability
import Synchronization

/// `swiftvmm probe ready|healthy`: an exec probe for a Pod, answered by the running launcher over
/// its unix socket (`pod.probe_socket`).
public enum Probe {
    /// `ready` (/readyz) or `healthy` (/healthz).
    public enum Question: String, Sendable, CaseIterable {
        case ready, healthy

        var path: String { self == .ready ? "/readyz" : "/healthz" }
    }

    /// Asks the launcher on `socket`; returns the one line to print (the launcher's reason) and
    /// the exit status: 0 yes, 1 no or no launcher answered.
    public static func ask(_ question: Question, socket: String) -> (line: String, status: Int32) {
        // The command is synchronous; the client is async: a semaphore waits for its answer.
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<ProbeClient.Answer, any Error>?>(nil)
        Task.detached {
            do {
                let answer = try await ProbeClient.get(question.path, socketPath: socket)
                result.withLock { $0 = .success(answer) }
            } catch {
                result.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        done.wait()
        switch result.withLock({ $0 }) {
        case .success(let answer):
            let yes = answer.status == 200
            return ("\(yes ? question.rawValue : "not \(question.rawValue)"): \(answer.reason)", yes ? 0 : 1)
        case .failure(let error):
            return ("not \(question.rawValue): no launcher answered on \(socket) (\(error))", 1)
        case nil:
            return ("not \(question.rawValue): no launcher answered on \(socket)", 1)
        }
    }
}
