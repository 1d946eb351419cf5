import EventLoop
import GuestMemory
import Synchronization
import Testing
@_spi(ExitPath) import Virtio
import VirtioTestSupport

@_spi(ExitPath) @testable import Devices

#if canImport(Glibc)
    import Glibc
#endif

/// A backend double: one end of a datagram socket pair stands for the tap (one frame per
/// message, header included); the test holds the other end.
final class SocketPairBackend: NetworkBackend, @unchecked Sendable {
    // SAFETY (@unchecked Sendable): tests use it from one thread.
    let descriptor: Int32
    let peer: Int32
    var offloadFeatures: UInt64?

    init() {
        var pair: [Int32] = [0, 0]
        socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0, &pair)
        descriptor = pair[0]
        peer = pair[1]
        _ = fcntl(descriptor, F_SETFL, O_NONBLOCK)
        _ = fcntl(peer, F_SETFL, O_NONBLOCK)
    }

    deinit {
        close(descriptor)
        close(peer)
    }

    func guestAcceptsOffloads(features: UInt64) { offloadFeatures = features }

    /// Sends a frame "from the network" (virtio header + frame).
    func inject(_ frame: [UInt8]) {
        _ = frame.withUnsafeBytes { Glibc.send(peer, $0.baseAddress, $0.count, 0) }
    }

    /// A frame the device transmitted, or nil.
    func takeTransmitted() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 70_000)
        let count = buffer.withUnsafeMutableBytes { recv(peer, $0.baseAddress, $0.count, 0) }
        return count > 0 ? Array(buffer.prefix(count)) : nil
    }
}

struct NetHarness {
    let device: VirtioNet
    let backend = SocketPairBackend()
    let receive: MockDriverQueue
    let transmit: MockDriverQueue
    let registrar = RecordingEventRegistrar()
    var interest: InterestLog { InterestLog(registrar) }

    init(features: UInt64 = VirtioFeature.version1) throws {
        let memory = try GuestMemory(totalBytes: 1 << 20)
        receive = MockDriverQueue(memory: memory, base: 0x10000, size: 16)
        transmit = MockDriverQueue(memory: memory, base: 0x40000, size: 16)
        device = VirtioNet(backend: backend, mac: [2, 0, 0, 0, 0, 9], mtu: 1500)
        let queues = try [receive, transmit].map {
            try SplitQueue(layout: $0.layout, memory: memory, eventIndex: false, indirectDescriptors: false)
        }
        try device.activate(
            VirtioActivation(
                queues: queues, memory: memory, features: features, interrupt: VirtioInterrupt(line: nil),
                events: registrar.events(queueCount: 2)))
    }

    /// Posts one receive buffer of `length` bytes.
    @discardableResult
    func postReceiveBuffer(_ length: UInt32 = 1526) -> UInt64 {
        let address = receive.allocate(length)
        receive.addChain([.init(address: address, length: length, writable: true)])
        return address
    }

    /// Queues a frame (with a zero virtio header unless given) for transmission.
    func queueTransmit(_ frame: [UInt8], header: [UInt8] = [UInt8](repeating: 0, count: 12)) {
        let headerAddress = transmit.allocate(12)
        try? transmit.memory.write(header, at: GuestAddress(headerAddress))
        let frameAddress = transmit.allocate(UInt32(frame.count))
        try? transmit.memory.write(frame, at: GuestAddress(frameAddress))
        transmit.addChain([
            .init(address: headerAddress, length: 12, writable: false),
            .init(address: frameAddress, length: UInt32(frame.count), writable: false),
        ])
    }
}

/// What the device asked of its tap's watch: hear it, stop hearing it (no buffers), or stop
/// watching it for good.
enum TapInterest: Equatable {
    case receive
    case pause
    case detach
}

/// The tap's watch as the device used it, read from the registrar.
struct InterestLog {
    let interests: [TapInterest]

    init(_ registrar: RecordingEventRegistrar) {
        interests = registrar.actions.compactMap { action in
            switch action {
            case .watch(.source(VirtioNet.tapSource), let readable),
                .change(.source(VirtioNet.tapSource), let readable):
                return readable ? .receive : .pause
            case .cancel(.source(VirtioNet.tapSource)): return .detach
            default: return nil
            }
        }
    }

    /// Each watch or change: true to hear the tap.
    var changes: [Bool] { interests.filter { $0 != .detach }.map { $0 == .receive } }
}
