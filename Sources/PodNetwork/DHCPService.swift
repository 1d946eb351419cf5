import CPodNetwork
import Synchronization
import Threads
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// The DHCPv4 server at work: a UDP socket on port 67 bound to the tap, served by its own thread
/// until `stop()`. Each datagram is parsed (bounded by its length), answered by `DHCPServer`
/// and the reply sent (broadcast, or unicast to a renewing client); every message is counted.
public final class DHCPService: Sendable {
    /// What happened, for the launcher's log.
    public enum Event: Sendable, Equatable {
        /// An ACK: the guest has (or renewed) its lease.
        case leased(address: IPv4Address, clientHardwareAddress: String)
        /// A NAK, with the reason sent.
        case refused(clientHardwareAddress: String, reason: String)
        /// A datagram that is not a DHCP request (dropped).
        case malformed(length: Int)
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
    private let server: DHCPServer
    private let stopping = Atomic<Bool>(false)
    private let state = Mutex<(thread: OSThread?, counters: Counters)>((nil, Counters()))

    /// Opens the socket on `interface` (CAP_NET_BIND_SERVICE or root: port 67). Call `start`.
    public init(interface: String, lease: DHCPServer.Lease) throws(PodNetworkError) {
        let descriptor = cpodnet_udp_socket_on_interface(interface, 67)
        guard descriptor >= 0 else {
            throw PodNetworkError(step: "DHCP server socket on \(interface) port 67", errno: errno)
        }
        socket = descriptor
        server = DHCPServer(lease: lease)
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
    public var counters: Counters { state.withLock { $0.counters } }

    private func serve(_ events: @Sendable (Event) -> Void) {
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
                handle(Array(buffer.prefix(Int(length))), truncated: Int(length) > buffer.count, events: events)
            }
        }
    }

    private func handle(_ bytes: [UInt8], truncated: Bool, events: (Event) -> Void) {
        state.withLock { $0.counters.received += 1 }
        guard !truncated, let request = DHCPMessage(bytes: bytes) else {
            state.withLock { $0.counters.malformed += 1 }
            events(.malformed(length: bytes.count))
            return
        }
        guard let reply = server.reply(to: request) else { return }
        let payload = reply.message.bytes
        let sent = payload.withUnsafeBufferPointer { pointer in
            // SAFETY: sendto reads `count` bytes of the buffer it is given.
            cpodnet_udp_send(socket, pointer.baseAddress, pointer.count, reply.destination.value, 68)
        }
        guard sent == payload.count else { return }
        let mac = request.clientHardwareAddress.map { byte in
            let text = String(byte, radix: 16)
            return text.count == 1 ? "0" + text : text
        }.joined(separator: ":")
        switch reply.message.messageType {
        case .offer: state.withLock { $0.counters.offers += 1 }
        case .ack:
            state.withLock { $0.counters.acks += 1 }
            if reply.message.yourAddress != .any {
                events(.leased(address: reply.message.yourAddress, clientHardwareAddress: mac))
            }
        case .nak:
            state.withLock { $0.counters.naks += 1 }
            let reason =
                reply.message.option(DHCPMessage.Option.message).map { String(decoding: $0, as: UTF8.self) } ?? ""
            events(.refused(clientHardwareAddress: mac, reason: reason))
        default: break
        }
    }
}

/// A pod network set-up step that failed: one line naming the step, the cause and what to do.
public struct PodNetworkError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The exit status of a pod network failure (`ExitStatus.podNetwork`).
    public static var status: Int32 { ExitStatus.podNetwork }

    public var message: String

    public init(message: String) { self.message = message }

    /// "STEP failed: strerror (errno N)", with `advice` appended when given.
    public init(step: String, errno code: Int32, advice: String? = nil) {
        var text = "pod network: \(step) failed: \(String(cString: strerror(code))) (errno \(code))"
        if let advice { text += "; \(advice)" }
        message = text
    }

    public var description: String { message }
}
