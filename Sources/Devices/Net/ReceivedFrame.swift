import GuestMemory
@_spi(ExitPath) import Virtio

/// A received frame, its virtio-net header first, where the backend put it: `length` bytes
/// spread over `buffers` of `memory` (a receive chain in guest memory, or the device's bounce
/// buffer). The guest may change its buffers at any time, so every read is a copy taken once,
/// every offset is checked against `length` and the buffers, and a failed access is an answer
/// (nil or false), never a trap.
struct ReceivedFrame {
    let memory: GuestMemory
    let buffers: [DescriptorBuffer]
    /// Bytes the backend wrote (header and frame); at most the buffers' total length.
    let length: Int

    /// The first two header bytes, `flags` and `gso_type` (read without an allocation when the
    /// first buffer holds both, as it does for every driver that posts whole headers).
    func flagsAndType() -> (flags: UInt8, gsoType: UInt8)? {
        guard length >= 2 else { return nil }
        if let first = buffers.first, first.length >= 2 {
            guard let word = try? memory.load(UInt16.self, at: first.address) else { return nil }
            return (UInt8(truncatingIfNeeded: word), UInt8(truncatingIfNeeded: word >> 8))
        }
        guard let bytes = read(at: 0, count: 2) else { return nil }
        return (bytes[0], bytes[1])
    }

    /// A copy of `count` bytes from `offset`, or nil when they are not all within `length` (or
    /// the memory refused).
    func read(at offset: Int, count: Int) -> [UInt8]? {
        guard let pieces = pieces(at: offset, count: count) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        for piece in pieces {
            guard let chunk = try? memory.readBytes(at: piece.address, count: piece.count) else { return nil }
            bytes += chunk
        }
        return bytes
    }

    /// Writes `bytes` at `offset`; false when they are not all within `length` (or the memory
    /// refused).
    func write(_ bytes: [UInt8], at offset: Int) -> Bool {
        guard let pieces = pieces(at: offset, count: bytes.count) else { return false }
        var done = 0
        for piece in pieces {
            guard (try? memory.write(bytes[done..<done + piece.count], at: piece.address)) != nil else { return false }
            done += piece.count
        }
        return true
    }

    /// Where `count` bytes from frame `offset` lie: (address, count) per buffer touched, or nil
    /// when the range is not within `length` and the buffers.
    private func pieces(at offset: Int, count: Int) -> [(address: GuestAddress, count: Int)]? {
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard offset >= 0, count >= 0, !overflow, end <= length else { return nil }
        var pieces: [(address: GuestAddress, count: Int)] = []
        var bufferStart = 0
        var position = offset
        for buffer in buffers where position < end {
            let bufferEnd = bufferStart + Int(buffer.length)  // at most 1024 buffers of 4 GiB: no overflow
            defer { bufferStart = bufferEnd }
            guard position < bufferEnd else { continue }
            let inBuffer = position - bufferStart
            let take = min(bufferEnd, end) - position
            guard let address = buffer.address.advanced(by: UInt64(inBuffer)) else { return nil }
            pieces.append((address, take))
            position += take
        }
        return position == end ? pieces : nil
    }
}
