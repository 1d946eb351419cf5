import Hummingbird
import Logging
import NIOCore
import Observability
import VMM

/// The API socket: HTTP/1.1 on a unix socket (owner-only from the moment it exists, removed on
/// exit; one in use is an error), answering through a `FirecrackerController`. Bodies are capped
/// (Firecracker's default, 51200 bytes), headers by Hummingbird's decoder; headers must be
/// complete within `idleTimeout` of their first byte, and a connection silent for `idleTimeout`
/// after it was accepted, between requests or in a body is closed; at most 256 stay open (the
/// oldest unfinished one is closed for a new one), so that a slow, half-open or hostile client
/// holds nothing.
public final class FirecrackerAPIServer: Sendable {
    /// Firecracker's default cap on a request body (`--http-api-max-payload-size`).
    public static let defaultMaximumBodyBytes = 51_200
    /// How long a connection may stay silent.
    public static let idleTimeout = Duration.seconds(10)
    /// The API socket's connection limits: `idleTimeout` for headers and between requests.
    static let limits = HTTPConnectionLimits(headerTimeout: idleTimeout, idleTimeout: idleTimeout)

    private let service: HTTPService

    private init(service: HTTPService) { self.service = service }

    /// Binds `socketPath` (`field` names the flag in errors) and serves `controller`, taking
    /// request bodies of at most `maximumBodyBytes`.
    public static func start(
        socketPath: String, field: String = "--api-sock", controller: FirecrackerController,
        maximumBodyBytes: Int = defaultMaximumBodyBytes, logger: Logger
    ) throws(MachineError) -> FirecrackerAPIServer {
        let service = try HTTPService.start(
            address: .unixSocket(path: socketPath), field: field, limits: limits, logger: logger
        ) { request in
            await respond(to: request, controller: controller, maximumBodyBytes: maximumBodyBytes, logger: logger)
        }
        return FirecrackerAPIServer(service: service)
    }

    /// Stops serving and removes the socket, letting the answers in flight go out first.
    public func stop() {
        service.stopAndWait(timeoutSeconds: 2)
    }

    static func respond(
        to request: Request, controller: FirecrackerController, maximumBodyBytes: Int, logger: Logger
    ) async -> Response {
        let method = request.method.rawValue
        let path = request.uri.path
        let answer: FirecrackerResponse
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maximumBodyBytes {
            answer = .fault(tooLarge(length, limit: maximumBodyBytes))
        } else {
            do {
                let buffer = try await request.body.collect(upTo: maximumBodyBytes)
                let body = buffer.readableBytes == 0 ? nil : Array(buffer.readableBytesView)
                logger.info("The API server received a \(method) request on \"\(path)\".")
                answer = await controller.handle(method: method, path: path, body: body)
            } catch {
                answer = .fault(tooLarge(nil, limit: maximumBodyBytes))
            }
        }
        if answer.status == 400, let text = String(validating: answer.body, as: UTF8.self) {
            logger.warning("Received Error. Status code: 400 Bad Request. Message: \(text)")
        }
        guard answer.status != 204 else { return Response(status: .noContent) }
        return Response(
            status: .init(code: answer.status), headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    static func tooLarge(_ length: Int?, limit: Int) -> FirecrackerFault {
        FirecrackerFault(
            "Request payload with size \(length.map(String.init) ?? "over the limit") is larger than the limit of "
                + "\(limit) allowed by server.")
    }
}
