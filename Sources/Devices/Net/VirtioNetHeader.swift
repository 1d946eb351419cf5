/// The virtio_net_hdr_v1 (12 bytes) in front of every frame, on the queues and on the tap.
package struct VirtioNetHeader: Sendable, Equatable {
    package static let size = 12
    /// VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_F_DATA_VALID.
    package static let flagNeedsChecksum: UInt8 = 1
    package static let flagDataValid: UInt8 = 2
    /// GSO types.
    package static let gsoNone: UInt8 = 0
    package static let gsoTCPv4: UInt8 = 1
    package static let gsoUDP: UInt8 = 3
    package static let gsoTCPv6: UInt8 = 4
    package static let gsoECN: UInt8 = 0x80

    package var flags: UInt8
    package var gsoType: UInt8
    package var headerLength: UInt16
    package var gsoSize: UInt16
    package var checksumStart: UInt16
    package var checksumOffset: UInt16
    package var bufferCount: UInt16

    package init(bytes: [UInt8]) {
        func word(_ offset: Int) -> UInt16 { UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 }
        flags = bytes[0]
        gsoType = bytes[1]
        headerLength = word(2)
        gsoSize = word(4)
        checksumStart = word(6)
        checksumOffset = word(8)
        bufferCount = word(10)
    }

    /// Why a transmitted header is refused, or nil when it is acceptable for a frame of
    /// `frameLength` bytes under `negotiated` features.
    package func problem(frameLength: Int, negotiated: UInt64) -> String? {
        if flags & ~(Self.flagNeedsChecksum | Self.flagDataValid) != 0 {
            return "unknown header flags 0x\(String(flags, radix: 16))"
        }
        if flags & Self.flagNeedsChecksum != 0 {
            guard negotiated & VirtioNetFeature.checksum != 0 else { return "checksum offload not negotiated" }
            guard Int(checksumStart) + Int(checksumOffset) + 2 <= frameLength else {
                return "checksum field outside the frame"
            }
        }
        let gso = gsoType & ~Self.gsoECN
        switch gso {
        case Self.gsoNone:
            return nil
        case Self.gsoTCPv4 where negotiated & VirtioNetFeature.hostTSO4 != 0,
            Self.gsoTCPv6 where negotiated & VirtioNetFeature.hostTSO6 != 0:
            guard gsoSize > 0, flags & Self.flagNeedsChecksum != 0 else {
                return "GSO frame without a segment size or checksum offload"
            }
            return nil
        default:
            return "GSO type \(gsoType) not negotiated"
        }
    }
}

/// virtio-net feature bits (virtio 1.x, 5.1.3).
package enum VirtioNetFeature {
    package static let checksum: UInt64 = 1 << 0
    package static let guestChecksum: UInt64 = 1 << 1
    package static let mtu: UInt64 = 1 << 3
    package static let mac: UInt64 = 1 << 5
    package static let mergeableReceiveBuffers: UInt64 = 1 << 15
    package static let guestTSO4: UInt64 = 1 << 7
    package static let guestTSO6: UInt64 = 1 << 8
    package static let guestECN: UInt64 = 1 << 9
    package static let hostTSO4: UInt64 = 1 << 11
    package static let hostTSO6: UInt64 = 1 << 12
    package static let hostECN: UInt64 = 1 << 13
    package static let status: UInt64 = 1 << 16
}
