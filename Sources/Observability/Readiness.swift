import FoundationEssentials
import NIOCore
import NIOPosix
import Synchronization
import VMM

/// When the guest counts as ready (`/readyz`, `swiftvmm probe ready`), without an agent in it.
public enum ReadinessRule: Sendable, Equatable {
    /// The guest wrote the boot timer (the firmware's "ready", Linux's init through the
    /// `boot_timer` port; `Machine.statistics.guestReadyNanoseconds`).
    case bootTimer
    /// A console line matched this regular expression.
    case consoleLine(pattern: String)
    /// A TCP connection to the guest's `port` at `host` succeeded (checked every second, so it
    /// goes back to not ready when the service stops accepting).
    case tcpPort(host: String, port: Int)
}

/// The readiness state of the current guest, by its rule.
public final class Readiness: Sendable {
    public let rule: ReadinessRule
    /// The console rule's expression (a Mutex: Regex is not Sendable).
    private let regex: Mutex<Regex<AnyRegexOutput>?>
    private let state = Mutex<(matched: Bool, connected: Bool, lastError: String?)>((false, false, nil))
    private let checker = Mutex<Task<Void, Never>?>(nil)

    /// Checks `rule` (a bad regular expression is an error naming `field`).
    public init(rule: ReadinessRule, field: String = "ready") throws(MachineError) {
        self.rule = rule
        if case .consoleLine(let pattern) = rule {
            do { regex = Mutex(try Regex(pattern)) } catch {
                throw .invalidValue(field: field, value: pattern, expected: "a regular expression (\(error))")
            }
        } else {
            regex = Mutex(nil)
        }
        if case .tcpPort(let host, let port) = rule {
            guard (1...65_535).contains(port) else {
                throw .invalidValue(field: field, value: "\(host):\(port)", expected: "a TCP port from 1 to 65535")
            }
        }
    }

    deinit { checker.withLock { $0?.cancel() } }

    /// A console line (for the console rule).
    public func observe(consoleLine line: String) {
        guard !state.withLock({ $0.matched }) else { return }
        let matched = regex.withLock { regex in regex.map { (try? $0.firstMatch(in: line)) != nil } ?? false }
        if matched { state.withLock { $0.matched = true } }
    }

    /// A new boot (reboot in place): the console rule starts over.
    public func reset() { state.withLock { $0.matched = false } }

    /// For the TCP rule: starts connecting once a second (until the process ends).
    public func startChecking() {
        guard case .tcpPort(let host, let port) = rule else { return }
        let task = Task.detached { [weak self] in
            while !Task.isCancelled {
                let result = await Self.connect(host: host, port: port)
                guard let self else { return }
                self.state.withLock {
                    $0.connected = result == nil
                    $0.lastError = result
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        checker.withLock { $0 = task }
    }

    /// Whether `machine`'s guest is ready, and why (or why not).
    public func status(machine: Machine?) -> (ready: Bool, reason: String) {
        guard let machine else { return (false, "no machine yet") }
        switch machine.state {
        case .created: return (false, "the machine has not started")
        case .stopping: return (false, "the machine is stopping")
        case .stopped(let exit): return (false, "the machine stopped: \(exit)")
        case .paused: return (false, "the machine is paused")
        case .running: break
        }
        switch rule {
        case .bootTimer:
            guard let nanoseconds = machine.statistics.guestReadyAfterStartNanoseconds else {
                return (false, "the guest has not written the boot timer yet")
            }
            return (true, "boot timer written \(Double(nanoseconds / 1_000) / 1_000) ms after start")
        case .consoleLine(let pattern):
            return state.withLock { $0.matched }
                ? (true, "a console line matched \(pattern)") : (false, "no console line matched \(pattern) yet")
        case .tcpPort(let host, let port):
            let (connected, error) = state.withLock { ($0.connected, $0.lastError) }
            return connected
                ? (true, "\(host):\(port) accepts connections")
                : (false, "\(host):\(port) does not accept connections\(error.map { " (\($0))" } ?? "")")
        }
    }

    /// Connects to host:port with a 1 s timeout; nil on success, else why not.
    static func connect(host: String, port: Int) async -> String? {
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(1))
        do {
            let channel = try await bootstrap.connect(host: host, port: port).get()
            try? await channel.close()
            return nil
        } catch {
            return "\(error)"
        }
    }
}
