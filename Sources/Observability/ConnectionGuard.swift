import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// What keeps hostile clients from holding an HTTP server's connections: every connection of one
/// server in accept order (`ConnectionRegistry`, under a lock, shared by the event loops), the
/// eviction of the oldest unfinished one when a new connection goes over the cap, and the
/// shutdown that asks each one to finish.
package final class ConnectionGuard: Sendable {
    package let limits: HTTPConnectionLimits
    private let state: Mutex<State>

    private struct State {
        var registry: ConnectionRegistry<any Channel>
        var shuttingDown = false
    }

    package init(limits: HTTPConnectionLimits) {
        self.limits = limits
        state = Mutex(
            State(
                registry: ConnectionRegistry(
                    maximumConnections: limits.maximumConnections,
                    evictionGraceNanoseconds: Self.evictionGraceNanoseconds)))
    }

    /// How long a connection awaits its headers before it is evicted ahead of idle ones: far
    /// longer than a probe's request takes to be read, even on a loaded event loop, and a tenth
    /// of the default header timeout.
    static let evictionGraceNanoseconds: UInt64 = 1_000_000_000

    /// Registers `channel`, just accepted, and closes the connection it evicts (on that
    /// connection's own event loop); nil when the server is shutting down.
    func admit(_ channel: any Channel) -> UInt64? {
        let admitted: (number: UInt64, evicted: (any Channel)?)? = state.withLock { state in
            state.shuttingDown ? nil : state.registry.open(channel, nowNanoseconds: Self.nowNanoseconds())
        }
        admitted?.evicted?.close(promise: nil)
        return admitted?.number
    }

    func setPhase(_ phase: ConnectionPhase, of number: UInt64) {
        state.withLock { $0.registry.setPhase(phase, of: number, nowNanoseconds: Self.nowNanoseconds()) }
    }

    func remove(_ number: UInt64) {
        state.withLock { $0.registry.remove(number) }
    }

    /// The monotonic clock (NIO's deadlines' own).
    private static func nowNanoseconds() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    /// The server stopped accepting: every connection is asked to finish (Hummingbird closes an
    /// idle one or one awaiting headers now, one in a request once its answer is written) and
    /// connections accepted from now on are closed.
    func quiesce() {
        let channels = state.withLock { state in
            state.shuttingDown = true
            return state.registry.removeAll()
        }
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
    }
}

/// Hummingbird's HTTP/1.1 channel with the guard's deadlines: a handler in front of the HTTP
/// decoder sees raw bytes arrive, one after it sees request heads come in and answers' ends go
/// out; together they move the connection between phases and arm its deadline.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let responder: HTTPChannelHandler.Responder
    let connectionGuard: ConnectionGuard
    let throttle: AcceptThrottle

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        throttle.settled(channel)
        let limits = connectionGuard.limits
        guard let number = connectionGuard.admit(channel) else {
            channel.close(promise: nil)
            return HTTP1Channel(responder: responder).setup(channel: channel, logger: logger)
        }
        let connectionGuard = self.connectionGuard
        channel.closeFuture.whenComplete { _ in connectionGuard.remove(number) }
        // NIO runs a child channel's initializer (this) on the channel's event loop.
        let watch = ConnectionWatch(number: number, channel: channel, connectionGuard: connectionGuard)
        do {
            try channel.pipeline.syncOperations.addHandler(RawBytesWatcher(watch: watch))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        watch.accepted()
        let progress = NIOLoopBound(RequestProgressWatcher(watch: watch), eventLoop: channel.eventLoop)
        // Hummingbird's own idle timer (reset by each request part) closes a request whose body
        // stops arriving; the guard's deadlines cover the time between requests.
        let configuration = HTTP1Channel.Configuration(
            additionalChannelHandlers: [progress.value], idleTimeout: TimeAmount(limits.idleTimeout))
        return HTTP1Channel(responder: responder, configuration: configuration).setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await HTTP1Channel(responder: responder).handle(value: value, logger: logger)
    }
}

/// One connection's phase and deadline, on its event loop. Accepted, it awaits headers (the
/// header deadline from the accept); the first byte of a request restarts that deadline; a
/// complete request head stops it until the answers in progress are written; then the idle
/// deadline runs until the next byte.
final class ConnectionWatch {
    private let number: UInt64
    private let channel: any Channel
    private let connectionGuard: ConnectionGuard
    private var phase = ConnectionPhase.awaitingHeaders
    /// Whether some bytes of the awaited request arrived (its header deadline runs from the first).
    private var requestStarted = false
    /// Request heads read whose answer is not written yet (HTTP/1.1 pipelining may read ahead).
    private var answersOwed = 0
    private var deadline: Scheduled<Void>?

    init(number: UInt64, channel: any Channel, connectionGuard: ConnectionGuard) {
        self.number = number
        self.channel = channel
        self.connectionGuard = connectionGuard
    }

    /// The connection was accepted: the header deadline runs.
    func accepted() { arm(connectionGuard.limits.headerTimeout) }

    /// Bytes arrived from the client (before the HTTP decoder).
    func bytesArrived() {
        switch phase {
        case .inRequest:
            return
        case .awaitingHeaders where requestStarted:
            return
        case .awaitingHeaders, .idle:
            requestStarted = true
            enter(.awaitingHeaders)
            arm(connectionGuard.limits.headerTimeout)
        }
    }

    /// The decoder produced a request head: no deadline of ours while it is answered.
    func headReceived() {
        answersOwed += 1
        requestStarted = false
        enter(.inRequest)
        disarm()
    }

    /// An answer's last part was written; with none owed, the idle deadline runs. (Bytes of a
    /// pipelined request that arrived during the answer count as idle time: bounded all the same.)
    func answerEnded() {
        answersOwed = max(0, answersOwed - 1)
        guard answersOwed == 0, phase == .inRequest else { return }
        enter(.idle)
        arm(connectionGuard.limits.idleTimeout)
    }

    /// The connection's pipeline is being torn down: no deadline outlives it.
    func closed() { disarm() }

    private func enter(_ newPhase: ConnectionPhase) {
        guard newPhase != phase else { return }
        phase = newPhase
        connectionGuard.setPhase(newPhase, of: number)
    }

    private func arm(_ timeout: Duration) {
        disarm()
        deadline = channel.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) { [self] in
            deadline = nil
            channel.close(promise: nil)
        }
    }

    private func disarm() {
        deadline?.cancel()
        deadline = nil
    }
}

/// First in the pipeline (in front of the HTTP decoder): every read of raw bytes.
final class RawBytesWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let watch: ConnectionWatch

    init(watch: ConnectionWatch) { self.watch = watch }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        watch.bytesArrived()
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) { watch.closed() }
}

/// After Hummingbird's HTTP codec: request heads coming in, the end of each answer going out.
final class RequestProgressWatcher: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let watch: ConnectionWatch

    init(watch: ConnectionWatch) { self.watch = watch }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { watch.headReceived() }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { watch.answerEnded() }
        context.write(data, promise: promise)
    }
}
