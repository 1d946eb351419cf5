import NIOCore
import NIOHTTP1
import NIOPosix

/// `swiftvmm probe`'s side: one GET over the launcher's unix socket (for exec probes, when the
/// pod's HTTP port is the guest's — a bridge binding), with SwiftNIO's HTTP/1.1 codec.
public enum ProbeClient {
    /// What the launcher answered: the HTTP status and the body's first line.
    public struct Answer: Sendable, Equatable {
        public var status: Int
        public var reason: String
    }

    /// GETs `path` (`/readyz`, `/healthz`) from the endpoint at the unix socket `socketPath`.
    public static func get(_ path: String, socketPath: String, timeoutSeconds: Int64 = 5) async throws -> Answer {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(timeoutSeconds))
            .connect(unixDomainSocketPath: socketPath) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: "localhost")
            headers.add(name: "Connection", value: "close")
            try await outbound.write(
                .head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)))
            try await outbound.write(.end(nil))
            var status = 0
            var body = ByteBuffer()
            reading: for try await part in inbound {
                switch part {
                case .head(let head): status = Int(head.status.code)
                case .body(var piece): body.writeBuffer(&piece)
                case .end: break reading
                }
            }
            let text = body.readString(length: min(body.readableBytes, 4096)) ?? ""
            return Answer(status: status, reason: String(text.split(separator: "\n").first ?? ""))
        }
    }
}
