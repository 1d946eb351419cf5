import GuestMemory
import Synchronization
import Virtio

#if canImport(Glibc)
    import Glibc
#endif

/// The host side of a network device: a non-blocking descriptor that carries one frame per
/// read or write, each with a 12-byte virtio-net header in front (a tap with IFF_VNET_HDR).
public protocol NetworkBackend: AnyObject, Sendable {
    var descriptor: Int32 { get }
    /// The guest negotiated these features: accept the matching offloads on received frames.
    func guestAcceptsOffloads(features: UInt64)
}

/// Counters of a virtio-net device.
public struct VirtioNetCounters: Sendable, Equatable {
    public var receivedFrames: UInt64 = 0
    public var transmittedFrames: UInt64 = 0
    /// Transmitted frames refused: bad header or length, or the backend would not take them.
    public var droppedTransmit: UInt64 = 0
    /// Received frames that did not fit the guest's buffer.
    public var droppedReceive: UInt64 = 0
    /// Times receiving stopped because the guest had posted no buffers.
    public var receiveStarvations: UInt64 = 0
}

/// virtio-net (device ID 1): a receive and a transmit queue over a `NetworkBackend`. Frames move
/// with one readv/writev between the backend and the guest's buffers. Receiving runs only while
/// the guest has posted buffers: when they run out, the device asks its owner to stop watching
/// the backend (`receiveInterest(false)`) and the backend queues frames until the guest posts
/// more buffers.
public final class VirtioNet: VirtioDevice, Sendable {
    public static let deviceTypeID: UInt32 = 1
    public static let queueSize: UInt16 = 256
    static let receiveQueue = 0
    static let transmitQueue = 1
    /// Largest frame accepted from the guest (a 64 KiB GSO frame plus its Ethernet header).
    static let maximumFrameBytes = 65_536 + 14

    public let backend: any NetworkBackend
    public let mac: [UInt8]
    public let mtu: UInt16?
    private let active = Mutex<VirtioActivation?>(nil)
    private let counters = Mutex(VirtioNetCounters())
    private let receiveInterest = Mutex<(@Sendable (Bool) -> Void)?>(nil)
    private let starved = Atomic<Bool>(false)

    public init(backend: any NetworkBackend, mac: [UInt8], mtu: UInt16?) {
        self.backend = backend
        self.mac = mac
        self.mtu = mtu
    }

    /// The owner's way to start (true) or stop (false) watching the backend for frames.
    public func setReceiveInterestHandler(_ handler: @escaping @Sendable (Bool) -> Void) {
        receiveInterest.withLock { $0 = handler }
    }

    public var statistics: VirtioNetCounters { counters.withLock { $0 } }

    public var deviceID: UInt32 { Self.deviceTypeID }
    public var queueMaximumSizes: [UInt16] { [Self.queueSize, Self.queueSize] }
    public var deviceFeatures: UInt64 {
        var features =
            VirtioNetFeature.mac | VirtioNetFeature.status | VirtioNetFeature.checksum | VirtioNetFeature.guestChecksum
            | VirtioNetFeature.guestTSO4 | VirtioNetFeature.guestTSO6 | VirtioNetFeature.guestECN
            | VirtioNetFeature.hostTSO4 | VirtioNetFeature.hostTSO6 | VirtioNetFeature.hostECN
        if mtu != nil { features |= VirtioNetFeature.mtu }
        return features
    }

    /// Configuration space: mac[6], status (LINK_UP), max_virtqueue_pairs (1), mtu.
    public func readConfiguration(offset: UInt64, size: Int) -> UInt64 {
        let mtuValue = mtu ?? 1500
        let bytes =
            mac + [1, 0, 1, 0] + [UInt8(truncatingIfNeeded: mtuValue), UInt8(truncatingIfNeeded: mtuValue >> 8)]
        return VirtioConfigurationSpace.read(bytes, offset: offset, size: size)
    }

    public func writeConfiguration(offset: UInt64, size: Int, value: UInt64) {}  // the MAC is ours

    public func activate(_ activation: VirtioActivation) throws(VirtioDeviceError) {
        guard activation.queues.count == 2, activation.queues[0] != nil, activation.queues[1] != nil else {
            throw VirtioDeviceError("virtio-net: the driver did not enable both queues")
        }
        backend.guestAcceptsOffloads(features: activation.features)
        active.withLock { $0 = activation }
        starved.store(false, ordering: .relaxed)
        receiveInterest.withLock { $0 }?(true)
    }

    public func reset() {
        active.withLock { $0 = nil }
        receiveInterest.withLock { $0 }?(false)
    }

    public func queueNotified(_ index: Int) throws(QueueError) {
        switch index {
        case Self.receiveQueue:
            // New receive buffers: resume watching the backend if it was paused, and take what waits.
            if starved.exchange(false, ordering: .acquiringAndReleasing) { receiveInterest.withLock { $0 }?(true) }
            try backendReadable()
        case Self.transmitQueue:
            try transmit()
        default:
            break
        }
    }

    /// The backend has frames: move them into posted receive buffers.
    public func backendReadable() throws(QueueError) {
        guard let activation = active.withLock({ $0 }), let queue = activation.queues[Self.receiveQueue] else { return }
        var received: UInt64 = 0
        var dropped: UInt64 = 0
        var starvedNow = false
        while true {
            guard let available = try queue.popAvailable() else {
                starvedNow = true
                break
            }
            guard case .valid(let chain) = available, chain.writableLength >= UInt64(VirtioNetHeader.size) else {
                try queue.addUsed(head: available.head, length: 0)
                continue
            }
            let buffers = chain.writable.map { (address: $0.address, length: $0.length) }
            let result: Result<Int, FileIOError>
            do { result = try activation.memory.receive(from: backend.descriptor, into: buffers) } catch {
                try queue.addUsed(head: available.head, length: 0)
                continue
            }
            switch result {
            case .failure(let error) where error.errno == EAGAIN || error.errno == EWOULDBLOCK:
                queue.undoPop()  // nothing waiting: keep the buffer for the next frame
            case .failure(let error) where error.errno == EFAULT || error.errno == EMSGSIZE || error.errno == EINVAL:
                // The tap dropped a frame that did not fit this buffer; the buffer stays posted.
                queue.undoPop()
                dropped += 1
                continue
            case .failure:
                queue.undoPop()
            case .success(let length):
                guard length >= VirtioNetHeader.size, UInt64(length) <= chain.writableLength else {
                    dropped += 1  // truncated: the frame did not fit this buffer
                    try queue.addUsed(head: available.head, length: 0)
                    continue
                }
                // num_buffers is 1: one buffer per frame (no VIRTIO_NET_F_MRG_RXBUF).
                try? activation.memory.store(UInt16(1), at: GuestAddress(chain.writable[0].address.rawValue + 10))
                try queue.addUsed(head: available.head, length: UInt32(length))
                received += 1
                continue
            }
            break
        }
        if starvedNow, !starved.exchange(true, ordering: .acquiringAndReleasing) {
            receiveInterest.withLock { $0 }?(false)
            counters.withLock { $0.receiveStarvations += 1 }
            // Buffers posted between the pop and the pause would be missed: look once more.
            if try queue.enableNotifications() {
                starved.store(false, ordering: .releasing)
                receiveInterest.withLock { $0 }?(true)
            }
        }
        counters.withLock {
            $0.receivedFrames += received
            $0.droppedReceive += dropped
        }
        if try queue.needsInterrupt() { activation.interrupt.raise() }
    }

    /// Sends every frame the guest queued, in order.
    private func transmit() throws(QueueError) {
        guard let activation = active.withLock({ $0 }), let queue = activation.queues[Self.transmitQueue] else {
            return
        }
        var sent: UInt64 = 0
        var dropped: UInt64 = 0
        repeat {
            try queue.disableNotifications()
            while let available = try queue.popAvailable() {
                defer { _ = try? queue.addUsed(head: available.head, length: 0) }
                guard case .valid(let chain) = available, chain.writable.isEmpty else {
                    dropped += 1
                    continue
                }
                var reader = ChainReader(chain, memory: activation.memory)
                let frameLength = Int(chain.readableLength) - VirtioNetHeader.size
                guard frameLength >= 14, frameLength <= Self.maximumFrameBytes,
                    let headerBytes = try? reader.read(count: VirtioNetHeader.size),
                    VirtioNetHeader(bytes: headerBytes).problem(
                        frameLength: frameLength, negotiated: activation.features)
                        == nil
                else {
                    dropped += 1
                    continue
                }
                let buffers = chain.readable.map { (address: $0.address, length: $0.length) }
                if case .success(let count)? = try? activation.memory.send(to: backend.descriptor, from: buffers),
                    count == Int(chain.readableLength)
                {
                    sent += 1
                } else {
                    dropped += 1
                }
            }
        } while try queue.enableNotifications()
        counters.withLock {
            $0.transmittedFrames += sent
            $0.droppedTransmit += dropped
        }
        if try queue.needsInterrupt() { activation.interrupt.raise() }
    }
}
