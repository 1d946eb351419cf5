/// The virtio_net_hdr_v1 (12 bytes) in front of every frame, on the queues and on the tap.
public struct VirtioNetHeader: Sendable, Equatable {
    public static let size = 12
    /// VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_F_DATA_VALID.
    public static let flagNeedsChecksum: UInt8 = 1
    public static let flagDataValid: UInt8 = 2
    /// GSO types.
    public static let gsoNone: UInt8 = 0
    public static let gsoTCPv4: UInt8 = 1
    public static let gsoUDP: UInt8 = 3
    public static let gsoTCPv6: UInt8 = 4
    public static let gsoECN: UInt8 = 0x80

    public var flags: UInt8
    public var gsoType: UInt8
    public var headerLength: UInt16
    public var gsoSize: UInt16
    public var checksumStart: UInt16
    public var checksumOffset: UInt16
    public var bufferCount: UInt16

    public init(bytes: [UInt8]) {
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
    public func problem(frameLength: Int, negotiated: UInt64) -> String? {
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
public enum VirtioNetFeature {
    public static let checksum: UInt64 = 1 << 0
    public static let guestChecksum: UInt64 = 1 << 1
    public static let mtu: UInt64 = 1 << 3
    public static let mac: UInt64 = 1 << 5
    public static let guestTSO4: UInt64 = 1 << 7
    public static let guestTSO6: UInt64 = 1 << 8
    public static let guestECN: UInt64 = 1 << 9
    public static let hostTSO4: UInt64 = 1 << 11
    public static let hostTSO6: UInt64 = 1 << 12
    public static let hostECN: UInt64 = 1 << 13
    public static let status: UInt64 = 1 << 16
}
