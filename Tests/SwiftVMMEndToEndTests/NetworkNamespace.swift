import Foundation
import Synchronization

/// A network namespace the test creates (and deletes), with tap devices and host addresses in
/// it: all test traffic stays inside.
final class NetworkNamespace {
    private static let counter = Mutex(0)
    let name: String
    /// iproute2's `ip`, which creates the namespace and its taps and runs programs in it.
    let ip: String

    init() throws {
        ip = try HostTool.ip
        let number = Self.counter.withLock { value -> Int in
            value += 1
            return value
        }
        name = "svmm-test-\(getpid())-\(number)"
        try Self.run([ip, "netns", "add", name])
        try run([ip, "link", "set", "lo", "up"])
    }

    deinit {
        _ = try? Self.run([ip, "netns", "del", name])
    }

    /// Adds tap `tap` with host address `address` (CIDR), up.
    func addTap(_ tap: String, address: String) throws {
        try run([ip, "tuntap", "add", "dev", tap, "mode", "tap"])
        try run([ip, "addr", "add", address, "dev", tap])
        try run([ip, "link", "set", tap, "up"])
    }

    /// The command line that runs `arguments` inside the namespace.
    func command(_ arguments: [String]) -> [String] {
        ["netns", "exec", name] + arguments
    }

    /// Runs `arguments` inside the namespace and returns its status and output.
    @discardableResult
    func run(_ arguments: [String], timeoutSeconds: Double = 60) throws -> (status: Int32, output: String) {
        let process = try RunningProcess(executable: URL(fileURLWithPath: ip), arguments: command(arguments))
        let (status, _) = process.waitForExit(timeoutSeconds: timeoutSeconds)
        return (status, process.standardOutput.text + process.standardError.text)
    }

    /// Starts `arguments` inside the namespace (`ip netns exec` execs it: the PID is the program's).
    func start(_ arguments: [String]) throws -> RunningProcess {
        try RunningProcess(executable: URL(fileURLWithPath: ip), arguments: command(arguments))
    }

    @discardableResult
    private static func run(_ arguments: [String]) throws -> Int32 {
        let process = try RunningProcess(
            executable: URL(fileURLWithPath: arguments[0]), arguments: Array(arguments.dropFirst()))
        return process.waitForExit(timeoutSeconds: 30).status
    }
}
