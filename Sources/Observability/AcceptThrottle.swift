import NIOCore
import Synchronization

/// Keeps the listener from accepting far ahead of the event loops: NIO accepts as fast as the
/// kernel hands connections over and queues each one's set-up on its event loop, so under a flood
/// hundreds of accepted connections would wait there — descriptors past the cap, and a probe's
/// request read so late that the cap evicts it first. While `maximumAwaitingSetUp` accepted
/// connections wait for their set-up, the listener stops accepting (the kernel's accept queue
/// holds the rest) until one is set up or closed.
package final class AcceptThrottle: Sendable {
    /// Accepted connections that may wait for their set-up at once.
    package let maximumAwaitingSetUp: Int
    private let state = Mutex(State())

    private struct State {
        var awaitingSetUp = Set<ObjectIdentifier>()
        /// Set while the listener holds accepting: resumes it.
        var resume: (@Sendable () -> Void)?
    }

    package init(maximumAwaitingSetUp: Int = 32) {
        self.maximumAwaitingSetUp = max(1, maximumAwaitingSetUp)
    }

    /// The handler to put on the listener's pipeline (in its initializer).
    func makeHandler() -> AcceptThrottleHandler { AcceptThrottleHandler(throttle: self) }

    /// The listener accepted `channel`: it waits for its set-up (or its close, if that comes first).
    func accepted(_ channel: any Channel) {
        _ = state.withLock { $0.awaitingSetUp.insert(ObjectIdentifier(channel)) }
        channel.closeFuture.whenComplete { _ in self.settled(channel) }
    }

    /// `channel` was set up or closed: the listener accepts again if it was held for it.
    func settled(_ channel: any Channel) {
        let resume: (@Sendable () -> Void)? = state.withLock { state in
            guard state.awaitingSetUp.remove(ObjectIdentifier(channel)) != nil,
                state.awaitingSetUp.count < maximumAwaitingSetUp
            else { return nil }
            defer { state.resume = nil }
            return state.resume
        }
        resume?()
    }

    /// The listener's handler is gone: nothing to resume.
    func listenerClosed() { state.withLock { $0.resume = nil } }

    /// Whether the listener may accept now; when not, `resume` is called once it may.
    func mayAccept(orLater resume: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state in
            guard state.awaitingSetUp.count >= maximumAwaitingSetUp else { return true }
            state.resume = resume
            return false
        }
    }
}

/// On the listener's pipeline, in front of NIO's accept handler: sees each accepted connection
/// and holds the listener's reads (accepts) while the throttle says so.
final class AcceptThrottleHandler: ChannelDuplexHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel
    typealias OutboundIn = Never
    typealias OutboundOut = Never

    private let throttle: AcceptThrottle
    private var readHeld = false
    private var resume: (@Sendable () -> Void)?

    init(throttle: AcceptThrottle) { self.throttle = throttle }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        resume = {
            eventLoop.execute {
                let (handler, context) = bound.value
                guard handler.readHeld else { return }
                handler.readHeld = false
                context.read()
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        resume = nil
        throttle.listenerClosed()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        throttle.accepted(unwrapInboundIn(data))
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        guard let resume, !throttle.mayAccept(orLater: resume) else {
            context.read()
            return
        }
        readHeld = true
    }
}
