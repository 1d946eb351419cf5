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
    public typealias Address = HTTPListenAddress

    private let service: HTTPService
    public let address: Address

    /// Binds `address` and serves until `stop()`; throws (before anything is served) when the
    /// address cannot be bound, naming `field`. Clients are held to `limits` (by default: headers
    /// within 10 s, idle keep-alive connections closed after 30 s, at most 256 connections — the
    /// oldest unfinished one is closed for a new one, so a probe always gets through).
    public static func start(
        address: Address, field: String, machine: CurrentMachine, metrics: MachineMetrics, readiness: Readiness,
        limits: HTTPConnectionLimits = HTTPConnectionLimits(), logger: Logger
    ) throws(MachineError) -> ObservabilityEndpoint {
        let service = try HTTPService.start(address: address, field: field, limits: limits, logger: logger) { request in
            guard request.method == .get else { return Self.text(.methodNotAllowed, "only GET is served") }
            switch request.uri.path {
            case "/healthz":
                let (healthy, reason) = Health.status(machine: machine.value)
                return Self.text(healthy ? .ok : .serviceUnavailable, reason)
            case "/readyz":
                let (ready, reason) = readiness.status(machine: machine.value)
                return Self.text(ready ? .ok : .serviceUnavailable, reason)
            case "/metrics":
                let format = MachineMetrics.Format(accept: request.headers[.accept])
                let page = metrics.page(machine: machine.value, format: format)
                return Response(
                    status: .ok, headers: [.contentType: format.contentType],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: page)))
            default:
                return Self.text(.notFound, "not found: /healthz, /readyz and /metrics are served")
            }
        }
        return ObservabilityEndpoint(service: service, address: address)
    }

    private init(service: HTTPService, address: Address) {
        self.service = service
        self.address = address
    }

    /// Stops serving: a graceful shutdown (it ends in the background; a unix socket's file is
    /// removed now).
    public func stop() { service.stop() }

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
            let health = machine.statistics.health
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
