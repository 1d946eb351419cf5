import CPodNetwork
import Synchronization
import Threads

#if canImport(Glibc)
    import Glibc
#endif

/// The DHCPv4 server at work: a UDP socket on port 67 bound to the tap, served by its own thread
/// until `stop()`. Each datagram goes through a `DHCPExchange` (parsed, answered by
/// `DHCPServer`, counted) and the reply is sent (broadcast, or unicast to a renewing client).
/// Events reach the caller only when they are worth a log line (`DHCPEventLimiter`): a lease
/// when it changes, refusals and malformed datagrams at most once per 10 s per kind.
public final class DHCPService: Sendable {
    /// What happened, for the launcher's log.
    public enum Event: Sendable, Equatable {
        /// An ACK that gave the guest a lease it did not have (the first, or another address or
        /// client): renewals of the same lease are not reported.
        case leased(address: IPv4Address, clientHardwareAddress: String)
        /// A NAK, with the reason sent; `suppressed` refusals before it were not reported.
        case refused(clientHardwareAddress: String, reason: String, suppressed: Int)
        /// A datagram that is not a DHCP request (dropped); `suppressed` before it were not
        /// reported.
        case malformed(length: Int, suppressed: Int)
    }

    /// Messages seen and sent.
    public struct Counters: Sendable, Equatable {
        public var received = 0
        public var malformed = 0
        public var offers = 0
        public var acks = 0
        public var naks = 0
    }

    private let socket: Int32
    private let stopping = Atomic<Bool>(false)
    private let state: Mutex<(thread: OSThread?, exchange: DHCPExchange)>

    /// Opens the socket on `interface` (CAP_NET_BIND_SERVICE or root: port 67). Call `start`.
    public init(interface: String, lease: DHCPServer.Lease) throws(PodNetworkError) {
        let descriptor = cpodnet_udp_socket_on_interface(interface, 67)
        guard descriptor >= 0 else {
            throw PodNetworkError(step: "DHCP server socket on \(interface) port 67", errno: errno)
        }
        socket = descriptor
        state = Mutex((nil, DHCPExchange(lease: lease)))
    }

    deinit {
        stop()
        close(socket)
    }

    /// Serves on a thread named `dhcp` until `stop()`; `events` is called on that thread.
    public func start(events: @escaping @Sendable (Event) -> Void) throws(PodNetworkError) {
        let thread: OSThread
        do {
            thread = try OSThread(name: "dhcp") { [self] in serve(events) }
        } catch {
            throw PodNetworkError(step: "DHCP server thread", errno: error.errno)
        }
        state.withLock { $0.thread = thread }
    }

    /// Stops the thread (within 200 ms) and waits for it.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        let thread = state.withLock { state -> OSThread? in
            defer { state.thread = nil }
            return state.thread
        }
        thread?.join()
    }

    /// The counters so far.
    public var counters: Counters { state.withLock { $0.exchange.counters } }

    private func serve(_ events: @Sendable (Event) -> Void) {
        let start = ContinuousClock.now
        // One datagram at a time, at most an Ethernet jumbo frame's worth.
        var buffer = [UInt8](repeating: 0, count: 9216)
        while !stopping.load(ordering: .acquiring) {
            guard cpodnet_wait_readable(socket, 200) == 1 else { continue }
            // A burst is bounded: at most 64 datagrams before looking at the stop flag again.
            for _ in 0..<64 {
                let length = buffer.withUnsafeMutableBufferPointer { pointer in
                    // SAFETY: recv writes at most `count` bytes into the buffer it is given.
                    cpodnet_udp_receive(socket, pointer.baseAddress, pointer.count)
                }
                guard length >= 0 else { break }
                let bytes = Array(buffer.prefix(Int(length)))
                let truncated = Int(length) > buffer.count
                let now = ContinuousClock.now - start
                let event = state.withLock { state in
                    state.exchange.handle(bytes, truncated: truncated, at: now) { reply in send(reply) }
                }
                if let event { events(event) }
            }
        }
    }

    /// Sends `reply` to its destination, port 68: whether all of it went out.
    private func send(_ reply: DHCPServer.Reply) -> Bool {
        let payload = reply.message.bytes
        let sent = payload.withUnsafeBufferPointer { pointer in
            // SAFETY: sendto reads `count` bytes of the buffer it is given.
            cpodnet_udp_send(socket, pointer.baseAddress, pointer.count, reply.destination.value, 68)
        }
        return sent == payload.count
    }
}
