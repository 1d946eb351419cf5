import EventLoop
import GuestMemory
import Synchronization
import Testing
import Virtio
import VirtioTestSupport

@testable import Devices

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
        _ = frame.withUnsafeBytes { send(peer, $0.baseAddress, $0.count, 0) }
    }

    /// A frame the device transmitted, or nil.
    func takeTransmitted() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 70_000)
        let count = buffer.withUnsafeMutableBytes { recv(peer, $0.baseAddress, $0.count, 0) }
        return count > 0 ? Array(buffer.prefix(count)) : nil
    }
}

private struct NetHarness {
    let device: VirtioNet
    let backend = SocketPairBackend()
    let receive: MockDriverQueue
    let transmit: MockDriverQueue
    let interest = InterestLog()

    init(features: UInt64 = VirtioFeature.version1) throws {
        let memory = try GuestMemory(totalBytes: 1 << 20)
        receive = MockDriverQueue(memory: memory, base: 0x10000, size: 16)
        transmit = MockDriverQueue(memory: memory, base: 0x40000, size: 16)
        device = VirtioNet(backend: backend, mac: [2, 0, 0, 0, 0, 9], mtu: 1500)
        let log = interest
        device.setReceiveInterestHandler { log.record($0) }
        let queues = try [receive, transmit].map {
            try SplitQueue(layout: $0.layout, memory: memory, eventIndex: false, indirectDescriptors: false)
        }
        try device.activate(
            VirtioActivation(queues: queues, memory: memory, features: features, interrupt: VirtioInterrupt(line: nil)))
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

final class InterestLog: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): one test thread.
    var changes: [Bool] = []
    func record(_ value: Bool) { changes.append(value) }
}

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
        try net.device.backendReadable()
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
        try net.device.backendReadable()  // no buffers posted
        #expect(net.interest.changes == [true, false], "stop watching the backend")
        #expect(net.device.statistics.receiveStarvations == 1)
        net.postReceiveBuffer()
        try net.device.queueNotified(0)
        #expect(net.receive.takeUsed().count == 1, "the frame that waited in the backend arrives")
        #expect(
            net.interest.changes == [true, false, true, false], "watching again, then paused: that buffer is used up")
        #expect(net.device.statistics.receiveStarvations == 2)
    }

    @Test func noFrameWaitingGivesTheBufferBack() throws {
        let net = try NetHarness()
        net.postReceiveBuffer()
        try net.device.backendReadable()
        #expect(net.receive.takeUsed().isEmpty)
        net.backend.inject([UInt8](repeating: 0, count: 12) + ethernetFrame)
        try net.device.backendReadable()
        #expect(net.receive.takeUsed().count == 1, "the same buffer is used for the next frame")
    }

    @Test func framesShorterThanAHeaderAreDroppedAndCounted() throws {
        let net = try NetHarness()
        net.postReceiveBuffer()
        net.backend.inject([1, 2, 3, 4, 5])
        try net.device.backendReadable()
        #expect(net.receive.takeUsed().map(\.length) == [0])
        #expect(net.device.statistics.droppedReceive == 1)
    }

    @Test func transmittedFramesReachTheBackendWithTheirHeader() throws {
        let net = try NetHarness()
        net.queueTransmit(ethernetFrame)
        net.queueTransmit(ethernetFrame.reversed())
        try net.device.queueNotified(1)
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
        try net.device.queueNotified(1)
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
        try net.device.queueNotified(1)
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
