import GuestMemory
import Synchronization
@_spi(ExitPath) import Virtio

#if canImport(Glibc)
    import Glibc
#endif

/// virtio-net (device ID 1): a receive and a transmit queue over a `NetworkBackend`. Frames move
/// with one readv/writev between the backend and the guest's buffers. On activation the device
/// watches its queues and its backend (`tapSource`). Receiving runs only while the guest has
/// posted buffers: when they run out, the device stops hearing the backend (its watch waits for
/// nothing) and the backend queues frames until the guest posts more buffers; a backend that
/// failed for good is no longer watched at all. Each call does at most `QueueWork.budget`
/// frames per direction.
package final class VirtioNet: VirtioDevice, Sendable {
    package static let deviceTypeID: UInt32 = 1
    package static let queueSize: UInt16 = 256
    static let receiveQueue = 0
    static let transmitQueue = 1
    /// Largest frame accepted from the guest (a 64 KiB GSO frame plus its Ethernet header).
    static let maximumFrameBytes = 65_536 + 14
    /// Where num_buffers sits in the virtio-net header.
    static let numBuffersOffset: UInt64 = 10

    package let backend: any NetworkBackend
    package let mac: [UInt8]
    package let mtu: UInt16?
    private let active = Mutex<VirtioActivation?>(nil)
    private let counters = Mutex(VirtioNetCounters())
    /// The backend's watch while active.
    private let backendWatch = Mutex<(any DeviceEventWatch)?>(nil)
    private let starved = Atomic<Bool>(false)
    private let failed = Atomic<Bool>(false)
    /// Frames spread over several receive chains (VIRTIO_NET_F_MRG_RXBUF); nil when its bounce
    /// buffer could not be mapped (the feature is then not offered).
    private let merger: MergeableReceiver?

    package init(backend: any NetworkBackend, mac: [UInt8], mtu: UInt16?) {
        self.backend = backend
        self.mac = mac
        self.mtu = mtu
        merger = try? MergeableReceiver()
    }

    /// The token of the backend's descriptor (`sourceReady(tapSource)`).
    package static let tapSource = 0

    /// Hears the backend's frames (true) or not (false: the guest has no buffers).
    private func hearBackend(_ hear: Bool) {
        guard !failed.load(ordering: .acquiring) else { return }
        try? backendWatch.withLock { $0 }?.change(interest: hear ? .readable : [])
    }

    package var statistics: VirtioNetCounters { counters.withLock { $0 } }

    package var deviceID: UInt32 { Self.deviceTypeID }
    package var queueMaximumSizes: [UInt16] { [Self.queueSize, Self.queueSize] }
    package var deviceFeatures: UInt64 {
        var features =
            VirtioNetFeature.mac | VirtioNetFeature.status | VirtioNetFeature.checksum | VirtioNetFeature.guestChecksum
            | VirtioNetFeature.guestTSO4 | VirtioNetFeature.guestTSO6 | VirtioNetFeature.guestECN
            | VirtioNetFeature.hostTSO4 | VirtioNetFeature.hostTSO6 | VirtioNetFeature.hostECN
        if mtu != nil { features |= VirtioNetFeature.mtu }
        if merger != nil { features |= VirtioNetFeature.mergeableReceiveBuffers }
        return features
    }

    /// Configuration space: mac[6], status (LINK_UP), max_virtqueue_pairs (1), mtu.
    package func readConfiguration(offset: UInt64, size: Int) -> UInt64 {
        let mtuValue = mtu ?? 1500
        let bytes =
            mac + [1, 0, 1, 0] + [UInt8(truncatingIfNeeded: mtuValue), UInt8(truncatingIfNeeded: mtuValue >> 8)]
        return VirtioConfigurationSpace.read(bytes, offset: offset, size: size)
    }

    package func writeConfiguration(offset: UInt64, size: Int, value: UInt64) {}  // the MAC is ours

    package func activate(_ activation: VirtioActivation) throws(VirtioDeviceError) {
        guard activation.queues.count == 2, activation.queues[0] != nil, activation.queues[1] != nil else {
            throw VirtioDeviceError("virtio-net: the driver did not enable both queues")
        }
        try activation.events.watchQueues(activation.queues)
        let watch =
            failed.load(ordering: .acquiring)
            ? nil : try activation.events.watch(backend.descriptor, source: Self.tapSource)
        backend.guestAcceptsOffloads(features: activation.features)
        backendWatch.withLock { $0 = watch }
        active.withLock { $0 = activation }
        starved.store(false, ordering: .relaxed)
    }

    package func reset() {
        active.withLock { $0 = nil }
        backendWatch.withLock { $0 = nil }  // the transport ends the activation's watches
        merger?.reset()
    }

    package func queueNotified(_ index: Int) throws(QueueError) -> QueueWork {
        switch index {
        case Self.receiveQueue:
            // New receive buffers: hear the backend again if it was starved, and take what waits.
            if starved.exchange(false, ordering: .acquiringAndReleasing) { hearBackend(true) }
            try receive()
            return .done  // more frames keep the (level-triggered) backend readable
        case Self.transmitQueue:
            return try transmit()
        default:
            return .done
        }
    }

    /// How a backend error is handled.
    enum BackendErrorKind {
        /// Nothing waiting (EAGAIN).
        case empty
        /// One frame was lost (the backend consumed it but could not copy it); go on.
        case frameLost
        /// The backend is gone for good (e.g. its tap was deleted: EBADFD).
        case fatal
    }

    static func classify(_ error: FileIOError) -> BackendErrorKind {
        switch error.errno {
        case EAGAIN, EWOULDBLOCK: return .empty
        case EFAULT, EINVAL, EMSGSIZE, ENOBUFS, ENOMEM, EIO: return .frameLost
        default: return .fatal
        }
    }

    /// What one turn of receiving counted.
    private struct ReceiveTally {
        var received: UInt64 = 0
        var receivedBytes: UInt64 = 0
        var dropped: UInt64 = 0
        var unusable: UInt64 = 0
        /// The guest had no (or not enough) receive buffers posted.
        var starved = false
        var backendFailed = false
    }

    /// Whether a turn of receiving goes on to the next frame.
    private enum ReceiveStep {
        case next
        case stop
    }

    /// The backend is readable.
    package func sourceReady(_ source: Int) throws(QueueError) {
        if source == Self.tapSource { try receive() }
    }

    /// Moves up to `QueueWork.budget` waiting frames into posted receive buffers.
    func receive() throws(QueueError) {
        guard !failed.load(ordering: .acquiring), let activation = active.withLock({ $0 }),
            let queue = activation.queues[Self.receiveQueue]
        else { return }
        var tally = ReceiveTally()
        let merger = activation.features & VirtioNetFeature.mergeableReceiveBuffers != 0 ? self.merger : nil
        for _ in 0..<QueueWork.budget {
            let step: ReceiveStep
            if let merger {
                step = try receiveMerged(merger, queue: queue, activation: activation, tally: &tally)
            } else {
                step = try receiveDirect(queue: queue, activation: activation, tally: &tally)
            }
            if step == .stop { break }
        }
        if tally.backendFailed {
            // Every event a dead backend still raises (errors, hang-ups) would only spin the I/O thread.
            failed.store(true, ordering: .releasing)
            backendWatch.withLock { $0 }?.cancel()
            activation.events.report(
                "\(backend.name) failed (deleted?): the network device receives nothing more and its frames are"
                    + " dropped")
        } else if tally.starved, !starved.exchange(true, ordering: .acquiringAndReleasing) {
            hearBackend(false)
            counters.withLock { $0.receiveStarvations += 1 }
            // Buffers posted between the pop and the pause would be missed: look once more.
            if try queue.enableNotifications() {
                starved.store(false, ordering: .releasing)
                hearBackend(true)
            }
        }
        counters.withLock {
            $0.receivedFrames += tally.received
            $0.receivedBytes &+= tally.receivedBytes
            $0.droppedReceive += tally.dropped
            $0.unusableReceiveBuffers += tally.unusable
            $0.backendFailed = $0.backendFailed || tally.backendFailed
        }
        if try queue.needsInterrupt() { activation.interrupt.raise() }
    }

    /// One frame read straight into one chain (`popped`, or the next posted one).
    private func receiveDirect(
        queue: SplitQueue, activation: VirtioActivation, tally: inout ReceiveTally, popped: AvailableChain? = nil
    ) throws(QueueError) -> ReceiveStep {
        var next = popped
        if next == nil { next = try queue.popAvailable() }
        guard let available = next else {
            tally.starved = true
            return .stop
        }
        guard case .valid(let chain) = available, chain.writableLength >= UInt64(VirtioNetHeader.size) else {
            tally.unusable += 1
            try queue.addUsed(head: available.head, length: 0)
            return .next
        }
        switch backend.receive(into: chain.writable, memory: activation.memory) {
        case .failure(let error):
            // The buffer stays posted for the next frame.
            queue.undoPop()
            return Self.backendError(error, tally: &tally)
        case .success(let length):
            guard length >= VirtioNetHeader.size, UInt64(length) <= chain.writableLength else {
                // Truncated (the frame was larger than the buffers) or garbage: lost.
                queue.undoPop()
                tally.dropped += 1
                return .next
            }
            // The header must say only what the driver negotiated (its buffers stay posted
            // when the frame is dropped).
            let frame = ReceivedFrame(memory: activation.memory, buffers: chain.writable, length: length)
            guard ReceiveOffloads.apply(to: frame, features: activation.features) == .deliver else {
                queue.undoPop()
                tally.dropped += 1
                return .next
            }
            // One chain for this frame: num_buffers is 1 (with or without
            // VIRTIO_NET_F_MRG_RXBUF). It goes at its offset in the chain, whatever the size of
            // the first buffer.
            var writer = ChainWriter(chain, memory: activation.memory)
            _ = try? writer.skip(Self.numBuffersOffset)
            _ = try? writer.write(UInt16(1))
            try queue.addUsed(head: available.head, length: UInt32(length))
            tally.received += 1
            tally.receivedBytes &+= UInt64(length - VirtioNetHeader.size)
            return .next
        }
    }

    /// One frame with mergeable buffers: through the bounce buffer, unless the next chain can
    /// take the largest frame (then straight into it).
    private func receiveMerged(
        _ merger: MergeableReceiver, queue: SplitQueue, activation: VirtioActivation, tally: inout ReceiveTally
    ) throws(QueueError) -> ReceiveStep {
        if !merger.hasPendingFrame {
            if !merger.hasReservedChains {
                // Read a frame only when the guest has posted a chain for it.
                guard let available = try queue.popAvailable() else {
                    tally.starved = true
                    return .stop
                }
                if case .valid(let chain) = available, chain.writableLength >= UInt64(MergeableReceiver.bufferBytes) {
                    return try receiveDirect(queue: queue, activation: activation, tally: &tally, popped: available)
                }
                if case .valid(let chain) = available, chain.writableLength >= UInt64(VirtioNetHeader.size) {
                    merger.hold(chain)  // the frame's first chain, popped once
                } else {
                    queue.undoPop()  // placing the frame gives it back empty
                }
            }
            switch merger.readFrame(from: backend, features: activation.features) {
            case .failure(let error):
                return Self.backendError(error, tally: &tally)
            case .success(let length) where length == 0:
                tally.dropped += 1
                return .next
            case .success:
                break
            }
        }
        switch try merger.place(queue: queue, memory: activation.memory) {
        case .placed(let bytes, _, let skipped):
            tally.received += 1
            tally.receivedBytes &+= UInt64(bytes)
            tally.unusable += UInt64(skipped)
            return .next
        case .waiting(let skipped):
            tally.unusable += UInt64(skipped)
            tally.starved = true
            return .stop
        case .dropped(let skipped):
            tally.unusable += UInt64(skipped)
            tally.dropped += 1
            return .next
        }
    }

    /// Counts a failed backend read: nothing waiting stops the turn, a lost frame does not, a
    /// dead backend stops receiving for good.
    private static func backendError(_ error: FileIOError, tally: inout ReceiveTally) -> ReceiveStep {
        switch classify(error) {
        case .empty:
            return .stop
        case .frameLost:
            tally.dropped += 1
            return .next
        case .fatal:
            tally.backendFailed = true
            return .stop
        }
    }

    /// Sends up to `QueueWork.budget` frames the guest queued, in order.
    private func transmit() throws(QueueError) -> QueueWork {
        guard let activation = active.withLock({ $0 }), let queue = activation.queues[Self.transmitQueue] else {
            return .done
        }
        var sent: UInt64 = 0
        var sentBytes: UInt64 = 0
        var dropped: UInt64 = 0
        var budget = QueueWork.budget
        var work = QueueWork.done
        var emptyRounds = 0
        repeat {
            try queue.disableNotifications()
            let before = budget
            while let available = try queue.popAvailable() {
                defer { _ = try? queue.addUsed(head: available.head, length: 0) }
                budget -= 1
                if let bytes = sendFrame(available, activation: activation) {
                    sent += 1
                    sentBytes &+= UInt64(bytes)
                } else {
                    dropped += 1
                }
                if budget == 0 { break }
            }
            if budget == 0 {
                work = .pending
                break
            }
            // Nothing taken again and again: a driver changing its ring under the device.
            emptyRounds = budget == before ? emptyRounds + 1 : 0
            if emptyRounds >= 2 { break }
        } while try queue.enableNotifications()
        counters.withLock {
            $0.transmittedFrames += sent
            $0.transmittedBytes &+= sentBytes
            $0.droppedTransmit += dropped
        }
        if try queue.needsInterrupt() { activation.interrupt.raise() }
        return work
    }

    /// Checks and sends one transmit chain: the frame's length, or nil when it was dropped.
    private func sendFrame(_ available: AvailableChain, activation: VirtioActivation) -> Int? {
        guard case .valid(let chain) = available, chain.writable.isEmpty else { return nil }
        var reader = ChainReader(chain, memory: activation.memory)
        let frameLength = Int(chain.readableLength) - VirtioNetHeader.size
        guard frameLength >= 14, frameLength <= Self.maximumFrameBytes,
            let headerBytes = try? reader.read(count: VirtioNetHeader.size),
            VirtioNetHeader(bytes: headerBytes).problem(frameLength: frameLength, negotiated: activation.features)
                == nil
        else { return nil }
        guard case .success(let count) = backend.send(from: chain.readable, memory: activation.memory),
            count == Int(chain.readableLength)
        else { return nil }
        return frameLength
    }
}
