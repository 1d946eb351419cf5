import Dispatch
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import Synchronization
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// Where an HTTP server listens.
public enum HTTPListenAddress: Sendable, Equatable, CustomStringConvertible {
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

/// An HTTP/1.1 server on NIO's event loops (never a vCPU or the I/O thread), bound before
/// `start` returns: the observability endpoint and the Firecracker-compatible API. Requests are
/// read and answered by Hummingbird's HTTP/1.1 channel; the listener is ours, so that a unix
/// socket is owner-only from the moment it exists (`UnixSocketPath.bindOwnerOnly`), and every
/// connection is under a `ConnectionGuard` (header and idle deadlines, a cap that evicts the
/// oldest unfinished connection rather than refusing a new one). Stopping closes the listener and
/// lets the connections finish the answers in flight — never a task cancellation, which NIO's
/// channels do not survive.
package final class HTTPService: Sendable {
    package let address: HTTPListenAddress
    private let listener: any Channel
    private let connections: ConnectionGuard
    private let finished: DispatchSemaphore

    private init(
        address: HTTPListenAddress, listener: any Channel, connections: ConnectionGuard, finished: DispatchSemaphore
    ) {
        self.address = address
        self.listener = listener
        self.connections = connections
        self.finished = finished
    }

    /// Binds `address` and serves `respond` until `stop()`; throws (before anything is served)
    /// when the address cannot be bound, naming `field`. A unix socket is claimed first (see
    /// `UnixSocketPath.claim`). Connections are held to `limits`; headers are capped by
    /// Hummingbird's decoder (80 KiB), so a connection's memory is bounded too.
    package static func start(
        address: HTTPListenAddress, field: String, limits: HTTPConnectionLimits = HTTPConnectionLimits(),
        logger: Logger, respond: @escaping @Sendable (Request) async -> Response
    ) throws(MachineError) -> HTTPService {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        let logger = quiet
        let target: ListenTarget
        switch address {
        case .tcp(let host, let port):
            target = .tcp(host: host, port: port)
        case .unixSocket(let path):
            try UnixSocketPath.claim(path, field: field)
            target = .boundSocket(try UnixSocketPath.bindOwnerOnly(path, field: field))
        }
        let connections = ConnectionGuard(limits: limits)
        let throttle = AcceptThrottle()
        let child = GuardedHTTP1Channel(responder: responder(respond), connectionGuard: connections, throttle: throttle)
        let bound = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<any Channel, any Error>?>(nil)
        Task.detached {
            let server: NIOAsyncChannel<GuardedHTTP1Channel.Value, Never>
            do {
                server = try await listen(on: target, throttle: throttle) {
                    child.setup(channel: $0, logger: logger)
                }
                outcome.withLock { $0 = .success(server.channel) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
                bound.signal()
                finished.signal()
                return
            }
            bound.signal()
            await withDiscardingTaskGroup { group in
                do {
                    try await server.executeThenClose { inbound in
                        for try await connection in inbound {
                            group.addTask { await child.handle(value: connection, logger: logger) }
                        }
                    }
                } catch {
                    logger.error("the HTTP server stopped accepting", metadata: ["error": "\(error)"])
                }
            }
            finished.signal()
        }
        bound.wait()
        if case .success(let listener)? = outcome.withLock({ $0 }) {
            return HTTPService(address: address, listener: listener, connections: connections, finished: finished)
        }
        if case .unixSocket(let path) = address { unlink(path) }
        let failure = outcome.withLock { $0 }.map { "\($0)" } ?? "the listener ended before it was bound"
        throw MachineError(
            code: .networkUnavailable, field: field,
            message: "\(field): cannot listen on \(address): \(failure); choose a free port or another path")
    }

    /// What the listener listens on: a TCP address NIO binds, or a unix socket bound already.
    private enum ListenTarget {
        case tcp(host: String, port: Int)
        case boundSocket(Int32)
    }

    /// A listening channel on `target`, its accepts paced by `throttle`.
    private static func listen(
        on target: ListenTarget, throttle: AcceptThrottle,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<GuardedHTTP1Channel.Value>
    ) async throws -> NIOAsyncChannel<GuardedHTTP1Channel.Value, Never> {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { listener in
                listener.eventLoop.makeCompletedFuture {
                    try listener.pipeline.syncOperations.addHandler(throttle.makeHandler())
                }
            }
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        switch target {
        case .tcp(let host, let port):
            return try await bootstrap.bind(host: host, port: port, childChannelInitializer: initializer)
        case .boundSocket(let socket):
            return try await bootstrap.bind(socket, childChannelInitializer: initializer)
        }
    }

    /// Hummingbird's responder for `respond`: the answer with `Server` and `Date` headers.
    private static func responder(
        _ respond: @escaping @Sendable (Request) async -> Response
    ) -> HTTPChannelHandler.Responder {
        { (request, writer: consuming ResponseWriter, _) in
            var response = await respond(request)
            response.headers[.server] = "swiftvmm"
            response.headers[.date] = HTTPDate.string(secondsSinceEpoch: Int64(time(nil)))
            try await writer.write(response: response.head, body: response.body)
        }
    }

    /// Stops serving: the listener closes, idle connections and those awaiting headers close, and
    /// those in a request close once answered (in the background); a unix socket's file is
    /// removed now where the process may still remove files (the executables' process sandbox
    /// refuses it: the file stays and the next start replaces it).
    package func stop() {
        let connections = self.connections
        listener.close().whenComplete { _ in connections.quiesce() }
        if case .unixSocket(let path) = address { unlink(path) }
    }

    /// `stop()`, then waits up to `timeoutSeconds` for the responses in flight to be written.
    package func stopAndWait(timeoutSeconds: Double) {
        stop()
        _ = finished.wait(timeout: .now() + timeoutSeconds)
    }
}
