import GuestMemory
import Testing
@_spi(ExitPath) import Virtio
import VirtioTestSupport

@_spi(ExitPath) @testable import Devices

/// A UDP/IPv4 datagram in an Ethernet frame, and the checksum rules that judge it, written out
/// here independently of the device's code.
private enum UDPFrame {
    static let source: [UInt8] = [10, 0, 2, 2]
    static let destination: [UInt8] = [10, 0, 2, 15]
    /// Where the UDP header starts in the Ethernet frame, and its checksum field within it.
    static let udpStart = 14 + 20
    static let checksumOffset = 6

    /// RFC 1071 sum over big-endian words, folded.
    static func onesComplementSum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        for index in stride(from: 0, to: bytes.count, by: 2) {
            sum += UInt32(bytes[index]) << 8 | (index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0)
        }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        return UInt16(sum)
    }

    static func pseudoHeader(udpLength: Int) -> [UInt8] {
        source + destination + [0, 17, UInt8(udpLength >> 8), UInt8(udpLength & 0xff)]
    }

    /// The frame with a payload of `payloadBytes` (odd, to exercise the padding); its UDP
    /// checksum field holds `checksum` (nil: the correct value).
    static func frame(payloadBytes: Int = 37, checksum: UInt16? = nil) -> [UInt8] {
        let payload = (0..<payloadBytes).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        let udpLength = 8 + payload.count
        var ip: [UInt8] = [
            0x45, 0, UInt8((20 + udpLength) >> 8), UInt8((20 + udpLength) & 0xff), 0, 1, 0, 0, 64, 17, 0, 0,
        ]
        ip += source + destination
        let ipChecksum = ~onesComplementSum(ip)
        ip[10] = UInt8(ipChecksum >> 8)
        ip[11] = UInt8(ipChecksum & 0xff)
        var udp: [UInt8] = [0x13, 0x88, 0, 7, UInt8(udpLength >> 8), UInt8(udpLength & 0xff), 0, 0] + payload
        let value = checksum ?? ~onesComplementSum(pseudoHeader(udpLength: udpLength) + udp)
        udp[6] = UInt8(value >> 8)
        udp[7] = UInt8(value & 0xff)
        return [2, 0, 0, 0, 0, 9, 2, 0, 0, 0, 0, 1, 0x08, 0x00] + ip + udp
    }

    /// What a kernel hands a tap for a CHECKSUM_PARTIAL datagram: the UDP checksum field holds
    /// the pseudo-header's folded sum, not the checksum.
    static func partialFrame() -> [UInt8] {
        let complete = frame()
        let udpLength = complete.count - udpStart
        return frame(checksum: onesComplementSum(pseudoHeader(udpLength: udpLength)))
    }

    /// Whether the UDP checksum of Ethernet `frame` verifies.
    static func checksumVerifies(_ frame: [UInt8]) -> Bool {
        let udp = Array(frame[udpStart...])
        return onesComplementSum(pseudoHeader(udpLength: udp.count) + udp) == 0xffff
    }

    /// A virtio-net header: `flags`, `gsoType`, and NEEDS_CSUM's fields for this frame.
    static func header(flags: UInt8, gsoType: UInt8 = 0, checksumStart: Int = udpStart) -> [UInt8] {
        [
            flags, gsoType, 0, 0, 0, 0, UInt8(checksumStart & 0xff), UInt8(checksumStart >> 8), UInt8(checksumOffset),
            0, 0, 0,
        ]
    }
}

/// What the driver sees of the tap's virtio-net header (virtio 1.2, 5.1.6.4.1): without
/// VIRTIO_NET_F_GUEST_CSUM, `flags` 0 and a fully checksummed frame; GSO frames only when
/// negotiated. Both receive paths: straight into the chain, and through the bounce buffer of
/// mergeable receive buffers.
@Suite struct VirtioNetReceiveOffloadTests {
    enum Path: CaseIterable {
        /// One 1526-byte buffer per frame: read straight into the chain.
        case direct
        /// A chain of a 4-byte and a larger buffer: the header spans two buffers.
        case directSplitHeader
        /// VIRTIO_NET_F_MRG_RXBUF with 32-byte buffers: through the bounce buffer.
        case mergeable
    }

    /// The device with the driver's `features` (plus MRG_RXBUF for `.mergeable`), buffers posted.
    private func harness(_ path: Path, features: UInt64) throws -> NetHarness {
        let mergeable = path == .mergeable ? VirtioNetFeature.mergeableReceiveBuffers : 0
        let net = try NetHarness(features: VirtioFeature.version1 | features | mergeable)
        switch path {
        case .direct:
            for _ in 0..<4 { net.postReceiveBuffer() }
        case .directSplitHeader:
            for _ in 0..<4 {
                net.receive.addChain([
                    .init(address: net.receive.allocate(4), length: 4, writable: true),
                    .init(address: net.receive.allocate(1522), length: 1522, writable: true),
                ])
            }
        case .mergeable:
            for _ in 0..<12 { net.postReceiveBuffer(32) }
        }
        return net
    }

    /// The bytes of the next received frame (header included), joined from its used buffers.
    private func received(_ net: NetHarness) throws -> [UInt8]? {
        let used = net.receive.takeUsed()
        guard !used.isEmpty else { return nil }
        var bytes: [UInt8] = []
        for element in used {
            var left = Int(element.length)
            for buffer in net.receive.chainBuffers(head: UInt16(element.head)) where left > 0 {
                let count = min(Int(buffer.length), left)
                bytes += try net.receive.memory.readBytes(at: GuestAddress(buffer.address), count: count)
                left -= count
            }
        }
        return bytes
    }

    @Test(arguments: Path.allCases)
    func dataValidIsClearedWithoutGuestChecksum(path: Path) throws {
        let net = try harness(path, features: 0)
        let frame = UDPFrame.frame()
        net.backend.inject(UDPFrame.header(flags: VirtioNetHeader.flagDataValid) + frame)
        try net.device.sourceReady(VirtioNet.tapSource)
        let bytes = try #require(try received(net))
        #expect(bytes[0] == 0, "flags 0 for a driver without GUEST_CSUM")
        #expect(Array(bytes[12...]) == frame)
        #expect(net.device.statistics.receivedFrames == 1 && net.device.statistics.droppedReceive == 0)
    }

    @Test(arguments: Path.allCases)
    func needsChecksumIsCompletedWithoutGuestChecksum(path: Path) throws {
        let net = try harness(path, features: 0)
        let partial = UDPFrame.partialFrame()
        #expect(!UDPFrame.checksumVerifies(partial), "the tap's frame carries only the pseudo-header sum")
        net.backend.inject(UDPFrame.header(flags: VirtioNetHeader.flagNeedsChecksum) + partial)
        try net.device.sourceReady(VirtioNet.tapSource)
        let bytes = try #require(try received(net))
        #expect(bytes[0] == 0, "flags 0")
        let frame = Array(bytes[12...])
        #expect(UDPFrame.checksumVerifies(frame), "the checksum was completed")
        #expect(frame == UDPFrame.frame(), "and it is the one the sender would have computed")
    }

    @Test(arguments: Path.allCases)
    func theFlagsPassThroughWithGuestChecksum(path: Path) throws {
        let net = try harness(path, features: VirtioNetFeature.guestChecksum)
        let partial = UDPFrame.partialFrame()
        net.backend.inject(UDPFrame.header(flags: VirtioNetHeader.flagDataValid) + UDPFrame.frame())
        net.backend.inject(UDPFrame.header(flags: VirtioNetHeader.flagNeedsChecksum) + partial)
        try net.device.sourceReady(VirtioNet.tapSource)
        let used = net.receive.takeUsed()
        #expect(net.device.statistics.receivedFrames == 2)
        // The first buffer of each frame holds its flags.
        let heads = path == .mergeable ? [used[0].head, used[used.count / 2].head] : used.map(\.head)
        let flags = try heads.map { head in
            try net.receive.memory.readBytes(
                at: GuestAddress(net.receive.chainBuffers(head: UInt16(head))[0].address), count: 1)[0]
        }
        #expect(flags == [VirtioNetHeader.flagDataValid, VirtioNetHeader.flagNeedsChecksum])
    }

    /// A GSO frame the driver did not negotiate, and a NEEDS_CSUM frame whose checksum field
    /// lies past its end, are dropped and counted; the buffers serve the next frame.
    @Test(arguments: Path.allCases)
    func unnegotiatedOrImpossibleOffloadsAreDropped(path: Path) throws {
        let net = try harness(path, features: 0)
        let frame = UDPFrame.frame()
        net.backend.inject(UDPFrame.header(flags: 1, gsoType: VirtioNetHeader.gsoTCPv4) + frame)
        net.backend.inject(UDPFrame.header(flags: 1, checksumStart: frame.count - 7) + frame)
        net.backend.inject(UDPFrame.header(flags: 0) + frame)
        try net.device.sourceReady(VirtioNet.tapSource)
        #expect(net.device.statistics.droppedReceive == 2)
        #expect(net.device.statistics.receivedFrames == 1)
        let bytes = try #require(try received(net))
        #expect(Array(bytes[12...]) == frame)
    }

    @Test func segmentationNeedsGuestChecksumAndTheMatchingFeature() {
        let tso4 = VirtioNetFeature.guestChecksum | VirtioNetFeature.guestTSO4
        #expect(ReceiveOffloads.acceptsSegmentation(VirtioNetHeader.gsoTCPv4, features: tso4))
        #expect(!ReceiveOffloads.acceptsSegmentation(VirtioNetHeader.gsoTCPv6, features: tso4))
        #expect(!ReceiveOffloads.acceptsSegmentation(VirtioNetHeader.gsoTCPv4 | VirtioNetHeader.gsoECN, features: tso4))
        #expect(!ReceiveOffloads.acceptsSegmentation(VirtioNetHeader.gsoUDP, features: ~0))
    }
}

extension MockDriverQueue {
    /// The buffers of the chain at `head`, read back from the descriptor table (direct
    /// descriptors only).
    fileprivate func chainBuffers(head: UInt16) -> [Buffer] {
        var buffers: [Buffer] = []
        var index = head
        for _ in 0..<layout.size {
            let base = layout.descriptorTable + 16 * UInt64(index)
            let address = (try? memory.load(UInt64.self, at: GuestAddress(base))) ?? 0
            let length = (try? memory.load(UInt32.self, at: GuestAddress(base + 8))) ?? 0
            let flags = (try? memory.load(UInt16.self, at: GuestAddress(base + 12))) ?? 0
            buffers.append(Buffer(address: address, length: length, writable: flags & Self.flagWrite != 0))
            guard flags & Self.flagNext != 0 else { break }
            index = (try? memory.load(UInt16.self, at: GuestAddress(base + 14))) ?? 0
        }
        return buffers
    }
}
