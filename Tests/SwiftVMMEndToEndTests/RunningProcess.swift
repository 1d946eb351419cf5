import Foundation
import Synchronization

/// Bytes a reader thread collects from a pipe.
final class CollectedOutput: Sendable {
    private let bytes = Mutex<[UInt8]>([])

    func append(_ chunk: Data) { bytes.withLock { $0 += chunk } }

    var text: String { bytes.withLock { String(decoding: $0, as: UTF8.self) } }
}

/// A process whose standard output and error are collected while it runs, so a test can wait
/// for a console line, signal the process, and check how it ended.
final class RunningProcess: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): `process` is only started in init and then queried
    // (Foundation's Process is thread-safe for that); the buffers are Mutex-protected.
    private let process = Process()
    let standardOutput = CollectedOutput()
    let standardError = CollectedOutput()
    private let readers = DispatchGroup()

    init(executable: URL, arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardInput = FileHandle.nullDevice
        let outputPipe = Pipe()
        let errorPipe = Pipe()
        process.standardOutput = outputPipe
        process.standardError = errorPipe
        try Self.runWithEmptySignalMask(process)
        for (pipe, sink) in [(outputPipe, standardOutput), (errorPipe, standardError)] {
            let handle = pipe.fileHandleForReading
            readers.enter()
            Thread.detachNewThread { [readers] in
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    sink.append(chunk)
                }
                readers.leave()
            }
        }
    }

    var processIdentifier: Int32 { process.processIdentifier }

    /// Starts `process` from a thread that blocks no signals. Swift Testing runs tests on
    /// libdispatch worker threads, which block every signal, and a spawned child inherits that
    /// mask: a shell's `wait` or `timeout` in it would then never see SIGCHLD and hang.
    private static func runWithEmptySignalMask(_ process: Process) throws {
        let done = DispatchSemaphore(value: 0)
        let failure = Mutex<(any Error)?>(nil)
        let thread = Thread {
            var empty = sigset_t()
            sigemptyset(&empty)
            pthread_sigmask(SIG_SETMASK, &empty, nil)
            do { try process.run() } catch { failure.withLock { $0 = error } }
            done.signal()
        }
        thread.start()
        done.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// Waits until standard output (or, with `inStandardError`, standard error) contains
    /// `text`; false after `timeoutSeconds`.
    func waitForOutput(containing text: String, inStandardError: Bool = false, timeoutSeconds: Double) -> Bool {
        let stream = inStandardError ? standardError : standardOutput
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            if stream.text.contains(text) { return true }
            if !process.isRunning { return stream.text.contains(text) }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return false
    }

    /// The process's ID.
    var pid: Int32 { process.processIdentifier }

    /// A process a test started and left running (a failed expectation before its stop) is
    /// killed when the test lets go of it: it never outlives the test and loads the machine.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Sends `signal` to the process (only to this process, by its PID).
    func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to end (killing it after `timeoutSeconds`) and returns its status.
    func waitForExit(timeoutSeconds: Double) -> (status: Int32, timedOut: Bool) {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline {
                timedOut = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        process.waitUntilExit()
        readers.wait()
        return (process.terminationStatus, timedOut)
    }
}

/// Polls `condition` every 50 ms until it holds (true) or `timeoutSeconds` pass (false).
func waitFor(_ timeoutSeconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return false
}
