import Dispatch
import FoundationEssentials
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// The machine an endpoint reports on: the current one (a reboot in place brings a new one).
public final class CurrentMachine: Sendable {
    private let machine = Mutex<Machine?>(nil)

    public init() {}

    /// Makes `machine` the one reported on.
    public func set(_ machine: Machine?) { self.machine.withLock { $0 = machine } }

    public var value: Machine? { machine.withLock { $0 } }
}

/// The HTTP endpoint of `launch` and `run`: `/healthz`, `/readyz` and `/metrics` (Prometheus
/// text, or OpenMetrics when the scraper asks for it), served by Hummingbird on its own event
/// loop, never on a vCPU or the I/O thread.
public final class ObservabilityEndpoint: Sendable {
    /// Where to listen.
    public enum Address: Sendable, Equatable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        case unixSocket(path: String)

        public var description: String {
            switch self {
            case .tcp(let host, let port): return "\(host):\(port)"
            case .unixSocket(let path): return "unix:\(path)"
            }
        }

        /// Parses `HOST:PORT` (`field` names the setting in errors).
        public init(parsing text: String, field: String) throws(MachineError) {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                (1...65_535).contains(port)
            else {
                throw .invalidValue(field: field, value: text, expected: "HOST:PORT, e.g. 0.0.0.0:8080")
            }
            let host = String(text[..<colon].filter { $0 != "[" && $0 != "]" })
            guard !host.isEmpty else {
                throw .invalidValue(field: field, value: text, expected: "HOST:PORT, e.g. 0.0.0.0:8080")
            }
            self = .tcp(host: host, port: port)
        }
    }

    private let task: Task<Void, Never>
    public let address: Address

    /// Binds `address` and serves until `stop()`; throws (before anything is served) when the
    /// address cannot be bound, naming `field`.
    public static func start(
        address: Address, field: String, machine: CurrentMachine, metrics: MachineMetrics, readiness: Readiness,
        logger: Logger
    ) throws(MachineError) -> ObservabilityEndpoint {
        let router = Router()
        router.get("/healthz") { _, _ -> Response in
            let (healthy, reason) = Health.status(machine: machine.value)
            return Self.text(healthy ? .ok : .serviceUnavailable, reason)
        }
        router.get("/readyz") { _, _ -> Response in
            let (ready, reason) = readiness.status(machine: machine.value)
            return Self.text(ready ? .ok : .serviceUnavailable, reason)
        }
        router.get("/metrics") { request, _ -> Response in
            let format = MachineMetrics.Format(accept: request.headers[.accept])
            let page = metrics.page(machine: machine.value, format: format)
            return Response(
                status: .ok, headers: [.contentType: format.contentType],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: page)))
        }
        if case .unixSocket(let path) = address { try claimSocketPath(path, field: field) }
        let bound = DispatchSemaphore(value: 0)
        let outcome = Mutex<String?>(nil)
        let bindAddress: BindAddress
        switch address {
        case .tcp(let host, let port): bindAddress = .hostname(host, port: port)
        case .unixSocket(let path): bindAddress = .unixDomainSocket(path: path)
        }
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        let application = Application(
            router: router, configuration: .init(address: bindAddress, serverName: "swiftvmm"),
            onServerRunning: { _ in bound.signal() }, logger: quiet)
        // Run as a service group, so that stopping is a graceful shutdown (open connections are
        // finished), never a task cancellation (which NIO's channels do not survive).
        let group = ServiceGroup(services: [application], logger: quiet)
        let task = Task.detached {
            do { try await group.run() } catch {
                outcome.withLock { $0 = "\(error)" }
            }
            bound.signal()
        }
        bound.wait()
        if let failure = outcome.withLock({ $0 }) {
            throw MachineError(
                code: .networkUnavailable, field: field,
                message: "\(field): cannot listen on \(address): \(failure); choose a free port or another address")
        }
        // Only the pod's own processes (root in the container) may ask.
        if case .unixSocket(let path) = address { chmod(path, 0o600) }
        return ObservabilityEndpoint(task: task, group: group, address: address)
    }

    private let group: ServiceGroup

    private init(task: Task<Void, Never>, group: ServiceGroup, address: Address) {
        self.task = task
        self.group = group
        self.address = address
    }

    /// Stops serving: a graceful shutdown (it ends in the background; a unix socket's file is
    /// removed now).
    public func stop() {
        let group = self.group
        Task.detached { await group.triggerGracefulShutdown() }
        if case .unixSocket(let path) = address { unlink(path) }
    }

    /// Makes `path` usable for a new socket: its directory is created (owner only) when missing;
    /// a leftover socket nobody answers on is removed; one in use, or any other file, is an error
    /// (never someone else's socket unlinked).
    static func claimSocketPath(_ path: String, field: String) throws(MachineError) {
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            let directory = String(path[..<slash])
            if access(directory, F_OK) != 0, mkdir(directory, 0o700) != 0, errno != EEXIST {
                throw MachineError(
                    code: .networkUnavailable, field: field,
                    message: "\(field): cannot create the directory of '\(path)': \(String(cString: strerror(errno)))")
            }
        }
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw MachineError(
                code: .networkUnavailable, field: field,
                message: "\(field): '\(path)' exists and is not a socket; remove it or choose another path")
        }
        let answered = DispatchSemaphore(value: 0)
        let inUse = Mutex(false)
        Task.detached {
            if (try? await ProbeClient.get("/healthz", socketPath: path, timeoutSeconds: 1)) != nil {
                inUse.withLock { $0 = true }
            }
            answered.signal()
        }
        answered.wait()
        if inUse.withLock({ $0 }) {
            throw MachineError(
                code: .networkUnavailable, field: field,
                message: "\(field): '\(path)' is in use by another swiftvmm; choose another path")
        }
        unlink(path)
    }

    static func text(_ status: HTTPResponse.Status, _ reason: String) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: reason + "\n")))
    }
}

/// Whether the VMM is alive and making progress.
enum Health {
    /// How long the I/O thread may go without a turn (it turns at least once a second).
    static let stallNanoseconds: UInt64 = 10_000_000_000

    static func status(machine: Machine?) -> (healthy: Bool, reason: String) {
        guard let machine else { return (true, "starting: no machine yet") }
        switch machine.state {
        case .created: return (true, "the machine is being started")
        case .running:
            let health = machine.health
            guard health.vcpuThreadsEnded == 0 else {
                return (false, "\(health.vcpuThreadsEnded) of \(health.vcpuCount) vCPU threads ended")
            }
            if let stalled = health.ioThreadNanosecondsSinceProgress, stalled > stallNanoseconds {
                return (false, "the I/O thread has not moved for \(stalled / 1_000_000_000) s")
            }
            return (true, "running: \(health.vcpuCount) vCPU threads and the I/O thread alive")
        case .paused: return (true, "paused")
        case .stopping: return (true, "stopping")
        case .stopped(let exit): return (false, "the machine stopped: \(exit)")
        }
    }
}
