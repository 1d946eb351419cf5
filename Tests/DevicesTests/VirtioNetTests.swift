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

private let ethernetFrame: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 9, 0x08, 0x06] + Array(0..<46)

@Suite struct VirtioNetTests {
    @Test func configurationSpaceHasMacStatusAndMTU() throws {
        let net = try NetHarness()
        #expect(net.device.readConfiguration(offset: 0, size: 4) == 0x0000_0002)
        #expect(net.device.readConfiguration(offset: 5, size: 1) == 9)
        #expect(net.device.readConfiguration(offset: 6, size: 2) == 1, "link up")
        #expect(net.device.readConfiguration(offset: 10, size: 2) == 1500)
        #expect(net.device.deviceFeatures & VirtioNetFeature.mtu != 0)
        #expect(net.interest.changes == [true], "activation starts receiving")
    }

    @Test func receivedFramesLandInPostedBuffersWithOneBufferCount() throws {
        let net = try NetHarness()
        let buffer = net.postReceiveBuffer()
        net.backend.inject([UInt8](repeating: 0, count: 12) + ethernetFrame)
        try net.device.sourceReady(VirtioNet.tapSource)
        let used = net.receive.takeUsed()
        #expect(used.map(\.length) == [UInt32(12 + ethernetFrame.count)])
        let bytes = try net.receive.memory.readBytes(at: GuestAddress(buffer), count: 12 + ethernetFrame.count)
        #expect(bytes[10] == 1 && bytes[11] == 0, "num_buffers = 1")
        #expect(Array(bytes[12...]) == ethernetFrame)
        #expect(net.device.statistics.receivedFrames == 1)
    }

    @Test func receivingPausesWithoutBuffersAndResumesWhenTheGuestPostsSome() throws {
        let net = try NetHarness()
        net.backend.inject([UInt8](repeating: 0, count: 12) + ethernetFrame)
        try net.device.sourceReady(VirtioNet.tapSource)  // no buffers posted
        #expect(net.interest.changes == [true, false], "stop watching the backend")
        #expect(net.device.statistics.receiveStarvations == 1)
        net.postReceiveBuffer()
        _ = try net.device.queueNotified(0)
        #expect(net.receive.takeUsed().count == 1, "the frame that waited in the backend arrives")
        #expect(
            net.interest.changes == [true, false, true, false], "watching again, then paused: that buffer is used up")
        #expect(net.device.statistics.receiveStarvations == 2)
    }

    @Test func noFrameWaitingGivesTheBufferBack() throws {
        let net = try NetHarness()
        net.postReceiveBuffer()
        try net.device.sourceReady(VirtioNet.tapSource)
        #expect(net.receive.takeUsed().isEmpty)
        net.backend.inject([UInt8](repeating: 0, count: 12) + ethernetFrame)
        try net.device.sourceReady(VirtioNet.tapSource)
        #expect(net.receive.takeUsed().count == 1, "the same buffer is used for the next frame")
    }

    @Test func framesShorterThanAHeaderAreDroppedAndCounted() throws {
        let net = try NetHarness()
        net.postReceiveBuffer()
        net.backend.inject([1, 2, 3, 4, 5])
        try net.device.sourceReady(VirtioNet.tapSource)
        #expect(net.receive.takeUsed().isEmpty, "the buffer stays posted")
        #expect(net.device.statistics.droppedReceive == 1)
        net.backend.inject([UInt8](repeating: 0, count: 12) + ethernetFrame)
        try net.device.sourceReady(VirtioNet.tapSource)
        #expect(net.receive.takeUsed().map(\.length) == [UInt32(12 + ethernetFrame.count)])
    }

    @Test func transmittedFramesReachTheBackendWithTheirHeader() throws {
        let net = try NetHarness()
        net.queueTransmit(ethernetFrame)
        net.queueTransmit(ethernetFrame.reversed())
        _ = try net.device.queueNotified(1)
        #expect(net.backend.takeTransmitted() == [UInt8](repeating: 0, count: 12) + ethernetFrame)
        #expect(net.backend.takeTransmitted() == [UInt8](repeating: 0, count: 12) + ethernetFrame.reversed())
        #expect(net.transmit.takeUsed().count == 2)
        #expect(net.device.statistics.transmittedFrames == 2)
    }

    @Test func malformedTransmitChainsAreDroppedAndCounted() throws {
        let net = try NetHarness()
        net.queueTransmit([1, 2, 3])  // shorter than an Ethernet header
        net.queueTransmit(ethernetFrame, header: [1] + [UInt8](repeating: 0, count: 11))  // NEEDS_CSUM, not negotiated
        net.queueTransmit(ethernetFrame, header: [0, 1] + [UInt8](repeating: 0, count: 10))  // TSO, not negotiated
        net.queueTransmit(ethernetFrame, header: [0x80] + [UInt8](repeating: 0, count: 11))  // unknown flag
        // A device-writable buffer in a transmit chain: the wrong direction.
        net.transmit.addChain([.init(address: net.transmit.allocate(64), length: 64, writable: true)])
        net.queueTransmit(ethernetFrame)  // and a good one
        _ = try net.device.queueNotified(1)
        #expect(net.transmit.takeUsed().count == 6, "every chain is completed")
        #expect(net.device.statistics.droppedTransmit == 5)
        #expect(net.device.statistics.transmittedFrames == 1)
        #expect(net.backend.takeTransmitted() == [UInt8](repeating: 0, count: 12) + ethernetFrame)
        #expect(net.backend.takeTransmitted() == nil)
    }

    @Test func checksumOffloadIsAcceptedOnceNegotiated() throws {
        let net = try NetHarness(
            features: VirtioFeature.version1 | VirtioNetFeature.checksum | VirtioNetFeature.guestChecksum)
        #expect(net.backend.offloadFeatures.map { $0 & VirtioNetFeature.guestChecksum != 0 } == true)
        var header = [UInt8](repeating: 0, count: 12)
        header[0] = 1  // NEEDS_CSUM
        header[6] = 34  // csum_start
        header[8] = 6  // csum_offset
        net.queueTransmit(ethernetFrame, header: header)
        header[6] = 60  // checksum field past the frame's end
        net.queueTransmit(ethernetFrame, header: header)
        _ = try net.device.queueNotified(1)
        #expect(net.device.statistics.transmittedFrames == 1 && net.device.statistics.droppedTransmit == 1)
    }

    @Test func headerParsing() {
        let header = VirtioNetHeader(bytes: [1, 4, 0x36, 0, 0xa8, 0x05, 34, 0, 16, 0, 1, 0])
        #expect(header.flags == 1 && header.gsoType == 4 && header.headerLength == 0x36)
        #expect(
            header.gsoSize == 1448 && header.checksumStart == 34 && header.checksumOffset == 16
                && header.bufferCount == 1)
        let all = VirtioNetFeature.checksum | VirtioNetFeature.hostTSO6
        #expect(header.problem(frameLength: 9000, negotiated: all) == nil)
        #expect(header.problem(frameLength: 9000, negotiated: VirtioNetFeature.checksum) != nil, "TSO6 not negotiated")
    }
}

/// A backend double whose reads and writes return what a test scripts: errors, lengths larger
/// than the buffers, short writes.
final class ScriptedBackend: NetworkBackend, @unchecked Sendable {
    // SAFETY (@unchecked Sendable): tests use it from one thread.
    var receiveResults: [Result<Int, FileIOError>] = []
    /// What every read returns once the script is used up.
    var receiveDefault: Result<Int, FileIOError> = .failure(FileIOError(errno: EAGAIN))
    var receiveCalls = 0
    var sendResult: Result<Int, FileIOError>?
    var sendCalls = 0

    var descriptor: Int32 { -1 }
    func guestAcceptsOffloads(features: UInt64) {}

    func receive(into buffers: [DescriptorBuffer], memory: GuestMemory) -> Result<Int, FileIOError> {
        receiveCalls += 1
        return receiveResults.isEmpty ? receiveDefault : receiveResults.removeFirst()
    }

    func send(from buffers: [DescriptorBuffer], memory: GuestMemory) -> Result<Int, FileIOError> {
        sendCalls += 1
        return sendResult ?? .success(Int(buffers.totalLength))
    }
}

/// What a hostile driver (or a failing tap) can do to virtio-net.
@Suite struct VirtioNetHostileTests {
    private struct Harness {
        let device: VirtioNet
        let backend = ScriptedBackend()
        let receive: MockDriverQueue
        let transmit: MockDriverQueue
        let registrar = RecordingEventRegistrar()
        var interest: InterestLog { InterestLog(registrar) }

        init() throws {
            let memory = try GuestMemory(totalBytes: 1 << 20)
            receive = MockDriverQueue(memory: memory, base: 0x10000, size: 256)
            transmit = MockDriverQueue(memory: memory, base: 0x30000, size: 256)
            device = VirtioNet(backend: backend, mac: [2, 0, 0, 0, 0, 9], mtu: nil)
            let queues = try [receive, transmit].map {
                try SplitQueue(layout: $0.layout, memory: memory, eventIndex: false, indirectDescriptors: true)
            }
            try device.activate(
                VirtioActivation(
                    queues: queues, memory: memory, features: VirtioFeature.version1,
                    interrupt: VirtioInterrupt(line: nil), events: registrar.events(queueCount: 2)))
        }
    }

    /// A receive chain with more than 1024 writable buffers cannot be read into; it is completed
    /// (length 0) and counted, never put back and retried forever.
    @Test func receiveChainsOverTheDescriptorLimitAreCompletedNotRetried() throws {
        let net = try Harness()
        let buffer = net.receive.allocate(64)
        net.receive.addIndirectChain(
            [MockDriverQueue.Buffer](repeating: .init(address: buffer, length: 64, writable: true), count: 1025))
        net.backend.receiveResults = [.success(60)]
        try net.device.sourceReady(VirtioNet.tapSource)
        #expect(net.receive.takeUsed().map(\.length) == [0])
        #expect(net.device.statistics.unusableReceiveBuffers == 1)
        #expect(net.backend.receiveCalls <= 1)
    }

    /// A backend that fails every read with a per-frame error is read at most `QueueWork.budget`
    /// times per wake-up: the I/O thread always gets back to its other events.
    @Test func aFailingBackendCannotHoldTheIOThread() throws {
        let net = try Harness()
        for _ in 0..<4 {
            net.receive.addChain([.init(address: net.receive.allocate(1526), length: 1526, writable: true)])
        }
        net.backend.receiveDefault = .failure(FileIOError(errno: EMSGSIZE))
        try net.device.sourceReady(VirtioNet.tapSource)
        #expect(net.backend.receiveCalls == QueueWork.budget)
        #expect(net.device.statistics.droppedReceive == UInt64(QueueWork.budget))
        #expect(net.receive.takeUsed().isEmpty, "the buffers stay posted")
    }

    /// A backend that is gone for good (a deleted tap reads EBADFD and polls as an error) is
    /// detached from the I/O loop once; the device stops reading it and the VM goes on.
    @Test func aDeadBackendIsDetached() throws {
        let net = try Harness()
        net.receive.addChain([.init(address: net.receive.allocate(1526), length: 1526, writable: true)])
        net.backend.receiveDefault = .failure(FileIOError(errno: EBADFD))
        try net.device.sourceReady(VirtioNet.tapSource)
        try net.device.sourceReady(VirtioNet.tapSource)
        #expect(net.backend.receiveCalls == 1)
        #expect(net.interest.interests == [.receive, .detach])
        #expect(net.registrar.reports.count == 1 && net.registrar.reports[0].contains("failed (deleted?)"))
        #expect(net.device.statistics.backendFailed)
        _ = try net.device.queueNotified(0)  // new buffers do not resume it
        #expect(net.interest.interests == [.receive, .detach])
        #expect(net.backend.receiveCalls == 1)
    }

    /// A frame larger than the posted buffers (the tap reports its whole length) is dropped
    /// and counted; it is not counted as received and the buffer stays posted.
    @Test func framesLargerThanTheBuffersAreDropped() throws {
        let net = try Harness()
        net.receive.addChain([.init(address: net.receive.allocate(100), length: 100, writable: true)])
        net.backend.receiveResults = [.success(1514 + 12)]
        try net.device.sourceReady(VirtioNet.tapSource)
        #expect(net.receive.takeUsed().isEmpty)
        #expect(net.device.statistics.droppedReceive == 1)
        #expect(net.device.statistics.receivedFrames == 0)
    }

    /// num_buffers goes at offset 10 of the chain even when the first buffer is shorter than
    /// the 12-byte header: nothing is written past that buffer.
    @Test func numBuffersLandsInTheHeaderWhateverTheBufferSizes() throws {
        let net = try Harness()
        let small = net.receive.allocate(16, filledWith: 0xaa)
        let large = net.receive.allocate(1600, filledWith: 0xbb)
        // What the (scripted) tap leaves in the header's first bytes: flags 0, no GSO.
        try net.receive.memory.write([0, 0, 0, 0], at: GuestAddress(small))
        net.receive.addChain([
            .init(address: small, length: 4, writable: true), .init(address: large, length: 1600, writable: true),
        ])
        net.backend.receiveResults = [.success(12 + 60)]
        try net.device.sourceReady(VirtioNet.tapSource)
        #expect(net.receive.takeUsed().map(\.length) == [72])
        let memory = net.receive.memory
        #expect(try memory.readBytes(at: GuestAddress(small + 4), count: 12) == [UInt8](repeating: 0xaa, count: 12))
        #expect(try memory.load(UInt16.self, at: GuestAddress(large + 6)) == 1, "num_buffers at chain offset 10")
    }

    /// Transmitting does at most `QueueWork.budget` frames per notification and says more wait.
    @Test func transmitDoesBoundedWorkPerNotification() throws {
        let net = try Harness()
        let frame = net.transmit.allocate(12 + 60)
        for _ in 0..<100 {
            net.transmit.addChain([.init(address: frame, length: 12 + 60, writable: false)])
        }
        #expect(try net.device.queueNotified(1) == .pending)
        #expect(net.transmit.takeUsed().count == QueueWork.budget)
        #expect(try net.device.queueNotified(1) == .done)
        #expect(net.transmit.takeUsed().count == 100 - QueueWork.budget)
        #expect(net.device.statistics.transmittedFrames == 100)
    }
}

/// VIRTIO_NET_F_MRG_RXBUF: frames spread over small receive buffers.
@Suite struct VirtioNetMergeableTests {
    static let features = VirtioFeature.version1 | VirtioNetFeature.mergeableReceiveBuffers

    /// A virtio header (num_buffers 0, as a tap leaves it) and `count` Ethernet bytes.
    func frame(_ count: Int) -> [UInt8] {
        [UInt8](repeating: 0, count: 12) + (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
    }

    /// Reads what the used elements say was written to the chains at `addresses`, in order.
    private func gather(_ net: NetHarness, _ addresses: [UInt64], _ used: [(head: UInt32, length: UInt32)]) throws
        -> [UInt8]
    {
        var bytes: [UInt8] = []
        for (address, element) in zip(addresses, used) {
            bytes += try net.receive.memory.readBytes(at: GuestAddress(address), count: Int(element.length))
        }
        return bytes
    }

    @Test func theFeatureIsOfferedAndAFrameSpreadsOverSmallBuffersWithItsCount() throws {
        let net = try NetHarness(features: Self.features)
        #expect(net.device.deviceFeatures & VirtioNetFeature.mergeableReceiveBuffers != 0)
        let addresses = (0..<5).map { _ in net.postReceiveBuffer(256) }
        let sent = frame(1000)
        net.backend.inject(sent)
        try net.device.sourceReady(VirtioNet.tapSource)
        let used = net.receive.takeUsed()
        #expect(used.map(\.length) == [256, 256, 256, 244], "1012 bytes over four 256-byte buffers")
        let received = try gather(net, addresses, used)
        #expect(received[10] == 4 && received[11] == 0, "num_buffers = 4")
        #expect(Array(received[12...]) == Array(sent[12...]))
        #expect(net.device.statistics.receivedFrames == 1 && net.device.statistics.receivedBytes == 1000)
    }

    @Test func aFrameWaitsForEnoughBuffersWithoutLosingIt() throws {
        let net = try NetHarness(features: Self.features)
        var addresses = (0..<2).map { _ in net.postReceiveBuffer(256) }
        let sent = frame(1000)
        net.backend.inject(sent)
        try net.device.sourceReady(VirtioNet.tapSource)
        #expect(net.receive.takeUsed().isEmpty, "two buffers cannot hold it: it waits")
        #expect(net.interest.changes.last == false, "receiving paused until more buffers come")
        addresses += (0..<2).map { _ in net.postReceiveBuffer(256) }
        _ = try net.device.queueNotified(0)
        let used = net.receive.takeUsed()
        #expect(used.count == 4)
        #expect(Array(try gather(net, addresses, used)[12...]) == Array(sent[12...]))
        #expect(net.device.statistics.droppedReceive == 0)
    }

    @Test func aFrameNoQueueCanHoldIsDroppedAndItsBuffersServeTheNext() throws {
        let net = try NetHarness(features: Self.features)  // a 16-entry receive queue
        let addresses = (0..<16).map { _ in net.postReceiveBuffer(64) }
        net.backend.inject(frame(2000))  // 2012 bytes > 16 × 64
        let small = frame(50)
        net.backend.inject(small)
        try net.device.sourceReady(VirtioNet.tapSource)
        let used = net.receive.takeUsed()
        #expect(net.device.statistics.droppedReceive == 1)
        #expect(used.map(\.length) == [62], "the next frame in the first kept buffer")
        #expect(
            try net.receive.memory.readBytes(at: GuestAddress(addresses[0]), count: 62).suffix(50) == small.suffix(50))
    }

    @Test func aFirstBufferTooSmallForTheHeaderIsGivenBackEmpty() throws {
        let net = try NetHarness(features: Self.features)
        net.postReceiveBuffer(8)
        let addresses = (0..<2).map { _ in net.postReceiveBuffer(512) }
        let sent = frame(600)
        net.backend.inject(sent)
        try net.device.sourceReady(VirtioNet.tapSource)
        let used = net.receive.takeUsed()
        #expect(used.map(\.length) == [0, 512, 100])
        #expect(Array(try gather(net, addresses, Array(used.dropFirst()))[12...]) == Array(sent[12...]))
        #expect(net.device.statistics.unusableReceiveBuffers == 1)
    }

    @Test func aBufferForTheLargestFrameIsFilledDirectly() throws {
        let net = try NetHarness(features: Self.features)
        let address = net.postReceiveBuffer(UInt32(MergeableReceiver.bufferBytes))
        let sent = frame(1000)
        net.backend.inject(sent)
        try net.device.sourceReady(VirtioNet.tapSource)
        #expect(net.receive.takeUsed().map(\.length) == [1012])
        let bytes = try net.receive.memory.readBytes(at: GuestAddress(address), count: 1012)
        #expect(bytes[10] == 1 && Array(bytes[12...]) == Array(sent[12...]))
    }

    @Test func aResetForgetsTheWaitingFrame() throws {
        let net = try NetHarness(features: Self.features)
        net.postReceiveBuffer(256)
        net.backend.inject(frame(1000))
        try net.device.sourceReady(VirtioNet.tapSource)
        net.device.reset()
        #expect(net.receive.takeUsed().isEmpty)
    }
}
