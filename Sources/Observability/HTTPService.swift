import Dispatch
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
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

/// An HTTP/1.1 server on Hummingbird's own event loop (never a vCPU or the I/O thread), bound
/// before `start` returns: the observability endpoint and the Firecracker-compatible API.
/// Stopping is a graceful shutdown of a service group (open connections are finished), never a
/// task cancellation, which NIO's channels do not survive.
package final class HTTPService: Sendable {
    package let address: HTTPListenAddress
    private let group: ServiceGroup
    private let finished: DispatchSemaphore

    private init(address: HTTPListenAddress, group: ServiceGroup, finished: DispatchSemaphore) {
        self.address = address
        self.group = group
        self.finished = finished
    }

    /// Binds `address` and serves `respond` until `stop()`; throws (before anything is served)
    /// when the address cannot be bound, naming `field`. A unix socket is claimed first (see
    /// `UnixSocketPath.claim`) and made owner-only once bound. `idleTimeout` closes connections
    /// that send nothing (a half-open or slow client); headers are capped by Hummingbird's
    /// decoder (80 KiB).
    package static func start(
        address: HTTPListenAddress, field: String, idleTimeout: Duration? = nil, logger: Logger,
        respond: @escaping @Sendable (Request) async -> Response
    ) throws(MachineError) -> HTTPService {
        if case .unixSocket(let path) = address { try UnixSocketPath.claim(path, field: field) }
        let bindAddress: BindAddress
        switch address {
        case .tcp(let host, let port): bindAddress = .hostname(host, port: port)
        case .unixSocket(let path): bindAddress = .unixDomainSocket(path: path)
        }
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        let bound = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let outcome = Mutex<String?>(nil)
        let responder = CallbackResponder<BasicRequestContext> { request, _ in await respond(request) }
        let timeout = idleTimeout.map { TimeAmount.nanoseconds(Int64($0.components.seconds) * 1_000_000_000) }
        let application = Application(
            responder: responder, server: .http1(configuration: .init(idleTimeout: timeout)),
            configuration: .init(address: bindAddress, serverName: "swiftvmm"),
            onServerRunning: { _ in bound.signal() }, logger: quiet)
        let group = ServiceGroup(services: [application], logger: quiet)
        Task.detached {
            do { try await group.run() } catch {
                outcome.withLock { $0 = "\(error)" }
            }
            bound.signal()
            finished.signal()
        }
        bound.wait()
        if let failure = outcome.withLock({ $0 }) {
            throw MachineError(
                code: .networkUnavailable, field: field,
                message: "\(field): cannot listen on \(address): \(failure); choose a free port or another path")
        }
        // Only the owner (root in a pod) may connect.
        if case .unixSocket(let path) = address { chmod(path, 0o600) }
        return HTTPService(address: address, group: group, finished: finished)
    }

    /// Stops serving: a graceful shutdown that ends in the background; a unix socket's file is
    /// removed now.
    package func stop() {
        let group = self.group
        Task.detached { await group.triggerGracefulShutdown() }
        if case .unixSocket(let path) = address { unlink(path) }
    }

    /// `stop()`, then waits up to `timeoutSeconds` for the responses in flight to be written.
    package func stopAndWait(timeoutSeconds: Double) {
        stop()
        _ = finished.wait(timeout: .now() + timeoutSeconds)
    }
}

/// The file of a unix socket a server is about to bind.
package enum UnixSocketPath {
    /// Makes `path` usable for a new socket: its directory is created (owner only) when missing;
    /// a leftover socket nobody listens on is removed; one in use, or any other file, is an error
    /// (never someone else's socket unlinked).
    package static func claim(_ path: String, field: String) throws(MachineError) {
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
        if hasListener(path) {
            throw MachineError(
                code: .networkUnavailable, field: field,
                message: "\(field): '\(path)' is in use by another process; stop it or choose another path")
        }
        unlink(path)
    }

    /// Whether a process accepts connections on the socket at `path`.
    static func hasListener(_ path: String) -> Bool {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        // SAFETY: the path (shorter than sun_path, checked above) is copied into the tuple's own
        // storage; the rest stays zero, so the name is NUL-terminated.
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
        // SAFETY: connect(2) reads `size` bytes of the local sockaddr_un during the call.
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return connected == 0 || errno == EAGAIN
    }
}
