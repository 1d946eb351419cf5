/// Makes a received frame's virtio-net header say only what the driver negotiated (virtio 1.2,
/// 5.1.6.4.1), before the frame is published. The tap fills the header from the host kernel's
/// view of the packet: DATA_VALID (0x2) for one it already checked (CHECKSUM_UNNECESSARY, such
/// as a frame forwarded from another namespace), NEEDS_CSUM (0x1) for one whose checksum it
/// left to finish, a GSO type for one it did not segment. The tap's offloads mirror the
/// driver's features, but its header is the kernel's word, not the driver's contract:
///
/// - Without VIRTIO_NET_F_GUEST_CSUM the driver gets `flags` 0 and a fully checksummed frame.
///   DATA_VALID is cleared; a NEEDS_CSUM frame gets its checksum computed here (the internet
///   checksum from `csum_start` to the frame's end, stored at `csum_start + csum_offset`), or
///   is dropped when those fields do not lie in the frame.
/// - With GUEST_CSUM, NEEDS_CSUM and DATA_VALID pass through; other flag bits are cleared.
/// - A GSO frame (`gso_type` not NONE) is dropped unless the driver negotiated GUEST_CSUM and
///   that type (GUEST_TSO4 / GUEST_TSO6, GUEST_ECN for the ECN bit; UFO and USO are not
///   offered).
///
/// A dropped frame is counted by the caller (`droppedReceive`).
enum ReceiveOffloads {
    /// What becomes of the frame.
    enum Verdict: Equatable {
        /// Publish it (its header was rewritten where needed).
        case deliver
        /// Drop it: an offload the driver did not negotiate, or a header that cannot be honoured.
        case drop
    }

    /// Checks and rewrites the header of `frame` for a driver that negotiated `features`.
    static func apply(to frame: ReceivedFrame, features: UInt64) -> Verdict {
        guard frame.length >= VirtioNetHeader.size, let (flags, gsoType) = frame.flagsAndType() else { return .drop }
        let guestChecksum = features & VirtioNetFeature.guestChecksum != 0
        if gsoType != VirtioNetHeader.gsoNone, !(guestChecksum && acceptsSegmentation(gsoType, features: features)) {
            return .drop
        }
        let known = VirtioNetHeader.flagNeedsChecksum | VirtioNetHeader.flagDataValid
        if guestChecksum {
            return flags & ~known == 0 || frame.write([flags & known], at: 0) ? .deliver : .drop
        }
        if flags & VirtioNetHeader.flagNeedsChecksum != 0 {
            guard completeChecksum(of: frame) else { return .drop }
        }
        return flags == 0 || frame.write([0], at: 0) ? .deliver : .drop
    }

    /// Whether the driver negotiated segmentation offload for `gsoType`.
    static func acceptsSegmentation(_ gsoType: UInt8, features: UInt64) -> Bool {
        if gsoType & VirtioNetHeader.gsoECN != 0, features & VirtioNetFeature.guestECN == 0 { return false }
        switch gsoType & ~VirtioNetHeader.gsoECN {
        case VirtioNetHeader.gsoTCPv4: return features & VirtioNetFeature.guestTSO4 != 0
        case VirtioNetHeader.gsoTCPv6: return features & VirtioNetFeature.guestTSO6 != 0
        default: return false
        }
    }

    /// Computes a NEEDS_CSUM frame's checksum as the sending kernel would have
    /// (`skb_checksum_help`): the field at `csum_start + csum_offset` holds the pseudo-header's
    /// sum, the ones' complement of the sum from `csum_start` to the frame's end replaces it
    /// (0 is sent as 0xffff). False when the fields do not lie in the frame or memory refused.
    static func completeChecksum(of frame: ReceivedFrame) -> Bool {
        let header = VirtioNetHeader.size
        guard let fields = frame.read(at: 6, count: 4) else { return false }
        // Each at most 65535: Int arithmetic cannot overflow; the frame bounds them below.
        let start = Int(fields[0]) | Int(fields[1]) << 8
        let fieldOffset = Int(fields[2]) | Int(fields[3]) << 8
        let frameLength = frame.length - header
        guard start + fieldOffset + 2 <= frameLength,
            let covered = frame.read(at: header + start, count: frameLength - start)
        else { return false }
        let checksum = ~InternetChecksum.fold(InternetChecksum.sum(covered))
        let value = checksum == 0 ? 0xffff : checksum
        return frame.write([UInt8(value >> 8), UInt8(truncatingIfNeeded: value)], at: header + start + fieldOffset)
    }
}
