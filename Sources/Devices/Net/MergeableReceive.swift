import GuestMemory
import Synchronization
@_spi(ExitPath) import Virtio

/// VIRTIO_NET_F_MRG_RXBUF (virtio 1.x, 5.1.6.4): a guest may post receive buffers smaller than
/// a frame. A frame is read from the backend into the device's own bounce buffer (one frame at a
/// time, at most `bufferBytes`), then spread over as many posted chains as it needs; the header's
/// `num_buffers` says how many, and their used elements are published together. Chains taken
/// for a frame that does not fit yet stay with the device until the guest posts more; a frame
/// that cannot fit in a whole queue of the guest's chains is dropped (the chains serve the next).
final class MergeableReceiver: Sendable {
    /// The largest frame a backend delivers: the 12-byte header and a 64 KiB GSO frame with its
    /// Ethernet header.
    static let bufferBytes = VirtioNetHeader.size + 65_536 + 14
    /// The bounce buffer: private host memory addressed like guest memory (so the backend reads
    /// into it as into guest buffers).
    private let bounce: GuestMemory
    private let state = Mutex(State())

    struct State {
        /// Length of the frame waiting in the bounce buffer.
        var pendingLength: Int?
        /// Chains taken from the queue for the pending frame (or kept for the next one).
        var reserved: [DescriptorChain] = []
    }

    /// What placing the pending frame did.
    enum Outcome: Equatable {
        /// Placed: its Ethernet bytes (without the header), over `buffers` chains.
        case placed(frameBytes: Int, buffers: Int, unusable: Int)
        /// Not enough chains posted yet: the frame waits.
        case waiting(unusable: Int)
        /// It could not be placed (too large for the queue, or a chain's memory failed): lost.
        case dropped(unusable: Int)
    }

    init() throws(GuestMemoryError) {
        let pages = (UInt64(Self.bufferBytes) + 4095) / 4096
        bounce = try GuestMemory(totalBytes: pages * 4096)
    }

    /// A frame waits in the bounce buffer for chains.
    var hasPendingFrame: Bool { state.withLock { $0.pendingLength != nil } }

    /// Chains are held for the next frame.
    var hasReservedChains: Bool { state.withLock { !$0.reserved.isEmpty } }

    /// Reads the next frame from `backend` into the bounce buffer and makes its header match
    /// the driver's `features` (`ReceiveOffloads`). A read that is not a whole frame with its
    /// header (too short), or a frame `ReceiveOffloads` drops, reports `.success(0)` and holds
    /// nothing.
    func readFrame(from backend: any NetworkBackend, features: UInt64) -> Result<Int, FileIOError> {
        let buffer = DescriptorBuffer(address: GuestAddress(0), length: UInt32(Self.bufferBytes))
        let result = backend.receive(into: [buffer], memory: bounce)
        guard case .success(let length) = result else { return result }
        guard length >= VirtioNetHeader.size, length <= Self.bufferBytes,
            ReceiveOffloads.apply(
                to: ReceivedFrame(memory: bounce, buffers: [buffer], length: length), features: features)
                == .deliver
        else { return .success(0) }
        state.withLock { $0.pendingLength = length }
        return .success(length)
    }

    /// Keeps `chain` (popped, with room for the header) as the next frame's first.
    func hold(_ chain: DescriptorChain) {
        state.withLock { $0.reserved.append(chain) }
    }

    /// Places the pending frame into chains from `queue` (and those already reserved).
    func place(queue: SplitQueue, memory: GuestMemory) throws(QueueError) -> Outcome {
        let queueSize = Int(queue.layout.size)
        return
            try state.withLock { (state: inout State) throws(QueueError) -> Outcome in
                guard let length = state.pendingLength else { return .waiting(unusable: 0) }
                var unusable = 0
                var room = state.reserved.reduce(UInt64(0)) { $0 + $1.writableLength }
                while room < UInt64(length) {
                    if state.reserved.count >= queueSize {
                        // A whole queue of the guest's chains cannot hold it: the frame is lost.
                        state.pendingLength = nil
                        return .dropped(unusable: unusable)
                    }
                    guard let available = try queue.popAvailable() else { return .waiting(unusable: unusable) }
                    // The header must fit in the first chain; any chain must take something.
                    let minimum = state.reserved.isEmpty ? UInt64(VirtioNetHeader.size) : 1
                    guard case .valid(let chain) = available, chain.writableLength >= minimum else {
                        unusable += 1
                        try queue.addUsed(head: available.head, length: 0)
                        continue
                    }
                    state.reserved.append(chain)
                    room += chain.writableLength
                }
                // Copy the frame over the chains, in order, filling each.
                var offset = 0
                var elements: [(head: UInt16, length: UInt32)] = []
                do {
                    for chain in state.reserved where offset < length {
                        var written = 0
                        for buffer in chain.writable where offset < length {
                            let count = min(Int(buffer.length), length - offset)
                            try memory.copy(count, from: bounce, at: GuestAddress(UInt64(offset)), to: buffer.address)
                            offset += count
                            written += count
                        }
                        elements.append((chain.head, UInt32(written)))
                    }
                    var header = ChainWriter(state.reserved[0], memory: memory)
                    try header.skip(VirtioNet.numBuffersOffset)
                    try header.write(UInt16(elements.count))
                } catch {
                    // The guest's memory refused a copy: the frame is lost and its chains given back
                    // empty (they are not trusted for another frame).
                    let chains = state.reserved
                    state.reserved = []
                    state.pendingLength = nil
                    try queue.addUsed(chains.map { ($0.head, UInt32(0)) })
                    return .dropped(unusable: unusable)
                }
                let buffers = elements.count
                try queue.addUsed(elements)
                state.reserved.removeFirst(buffers)
                state.pendingLength = nil
                return .placed(frameBytes: length - VirtioNetHeader.size, buffers: buffers, unusable: unusable)
            }
    }

    /// Forgets the pending frame and the reserved chains (the device was reset).
    func reset() {
        state.withLock { $0 = State() }
    }
}
