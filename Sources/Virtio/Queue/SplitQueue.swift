import GuestMemory

/// Where the driver put one queue's three areas, and its size (from the transport registers).
package struct QueueLayout: Sendable, Equatable {
    package var size: UInt16
    package var descriptorTable: UInt64
    package var availableRing: UInt64
    package var usedRing: UInt64

    package init(size: UInt16, descriptorTable: UInt64, availableRing: UInt64, usedRing: UInt64) {
        self.size = size
        self.descriptorTable = descriptorTable
        self.availableRing = availableRing
        self.usedRing = usedRing
    }
}

/// What popping the available ring gave: a valid chain, or a malformed one that the device
/// must still complete (with an error status where it can, length 0 otherwise).
package enum AvailableChain: Sendable, Equatable {
    case valid(DescriptorChain)
    case malformed(head: UInt16, QueueError)

    package var head: UInt16 {
        switch self {
        case .valid(let chain): return chain.head
        case .malformed(let head, _): return head
        }
    }
}

/// The device side of a split virtqueue (virtio 1.x, 2.7). Ring indices are read with acquire
/// and written with release ordering.
package final class SplitQueue: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): its mutable state (indices) is used by one thread at a time:
    // the transport serializes every device call that reaches a queue (activate, notify, reset).

    package let layout: QueueLayout
    let memory: GuestMemory
    /// VIRTIO_F_RING_EVENT_IDX negotiated.
    package let eventIndex: Bool
    /// VIRTIO_F_RING_INDIRECT_DESC negotiated.
    package let indirectDescriptors: Bool
    /// The next available-ring position to read (last_avail_idx).
    package private(set) var nextAvailable: UInt16 = 0
    /// The used index the device has published.
    package private(set) var usedIndex: UInt16 = 0
    /// The used index at the last interrupt decision (for EVENT_IDX suppression).
    private var usedIndexAtLastSignal: UInt16 = 0

    static let availableFlagNoInterrupt: UInt16 = 1
    static let usedFlagNoNotify: UInt16 = 1

    private var availableIndexAddress: GuestAddress { GuestAddress(layout.availableRing + 2) }
    private var usedEventAddress: GuestAddress { GuestAddress(layout.availableRing + 4 + 2 * UInt64(layout.size)) }
    private var usedIndexAddress: GuestAddress { GuestAddress(layout.usedRing + 2) }
    private var availableEventAddress: GuestAddress { GuestAddress(layout.usedRing + 4 + 8 * UInt64(layout.size)) }

    /// Validates `layout` against `memory`: size a power of two (≤ 32768), each area inside
    /// guest memory with its required alignment (16, 2, 4).
    package init(layout: QueueLayout, memory: GuestMemory, eventIndex: Bool, indirectDescriptors: Bool)
        throws(QueueError)
    {
        let size = layout.size
        guard size > 0, size <= 32768, size & (size - 1) == 0 else { throw .invalidQueueSize(size) }
        let entries = UInt64(size)
        let areas: [(String, UInt64, UInt64, UInt64)] = [
            ("descriptor table", layout.descriptorTable, 16 * entries, 16),
            ("available ring", layout.availableRing, 6 + 2 * entries, 2),
            ("used ring", layout.usedRing, 6 + 8 * entries, 4),
        ]
        for (name, address, length, alignment) in areas {
            guard address % alignment == 0, memory.contains(GuestAddress(address), length: length) else {
                throw .ringOutsideMemory("\(name) at 0x\(String(address, radix: 16)) (\(length) bytes)")
            }
        }
        // The three areas must not overlap: otherwise the device's own writes (used ring,
        // avail_event, NO_NOTIFY) would change the available ring under it — e.g. make the
        // re-check after enabling notifications see new buffers that never come.
        for (first, second) in [(0, 1), (0, 2), (1, 2)] {
            let (a, b) = (areas[first], areas[second])
            if a.1 < b.1 + b.2, b.1 < a.1 + a.2 {  // in memory, so the sums cannot overflow
                throw .ringOutsideMemory("\(a.0) at 0x\(String(a.1, radix: 16)) overlaps the \(b.0)")
            }
        }
        self.layout = layout
        self.memory = memory
        self.eventIndex = eventIndex
        self.indirectDescriptors = indirectDescriptors
    }

    /// The next chain the driver made available, or nil when there is none. Throws only when
    /// the queue itself is unusable.
    package func popAvailable() throws(QueueError) -> AvailableChain? {
        let available: UInt16
        do { available = try memory.loadAcquire(UInt16.self, at: availableIndexAddress) } catch {
            throw .from(error, "available index")
        }
        guard available != nextAvailable else { return nil }
        guard available &- nextAvailable <= layout.size else {
            throw .availableIndexJump(previous: nextAvailable, current: available, queueSize: layout.size)
        }
        let slot = GuestAddress(layout.availableRing + 4 + 2 * UInt64(nextAvailable % layout.size))
        let head: UInt16
        do { head = try memory.load(UInt16.self, at: slot) } catch { throw .from(error, "available ring entry") }
        nextAvailable &+= 1
        do {
            let chain = try DescriptorChain.read(
                head: head, table: GuestAddress(layout.descriptorTable), queueSize: layout.size, memory: memory,
                indirectAllowed: indirectDescriptors)
            return .valid(chain)
        } catch {
            return .malformed(head: head, error)
        }
    }

    /// Tells the driver not to notify while the device is working through the queue (without
    /// EVENT_IDX: VIRTQ_USED_F_NO_NOTIFY; with it, `avail_event` simply stays behind).
    package func disableNotifications() throws(QueueError) {
        guard !eventIndex else { return }
        do { try memory.storeRelease(Self.usedFlagNoNotify, at: GuestAddress(layout.usedRing)) } catch {
            throw .from(error, "used flags")
        }
    }

    /// Asks the driver to notify again for anything it adds next, then checks (after a full
    /// fence) whether it added something meanwhile: true means "process the queue again".
    package func enableNotifications() throws(QueueError) -> Bool {
        do {
            if eventIndex {
                try memory.storeRelease(nextAvailable, at: availableEventAddress)
            } else {
                try memory.storeRelease(0, at: GuestAddress(layout.usedRing))
            }
            GuestMemory.fullFence()  // publish before re-reading the available index
            return try memory.loadAcquire(UInt16.self, at: availableIndexAddress) != nextAvailable
        } catch {
            throw .from(error, "notification suppression")
        }
    }

    /// Gives back the chain `popAvailable` returned last, unused (e.g. a receive buffer when no
    /// frame was waiting after all): the next pop returns it again.
    package func undoPop() {
        nextAvailable &-= 1
    }

    /// Puts chain `head` in the used ring with `length` bytes written, and publishes it.
    package func addUsed(head: UInt16, length: UInt32) throws(QueueError) {
        do {
            try storeUsedElement(head: head, length: length, at: usedIndex)
            usedIndex &+= 1
            try memory.storeRelease(usedIndex, at: usedIndexAddress)
        } catch {
            throw .from(error, "used ring")
        }
    }

    /// Puts several chains in the used ring and publishes them with one index update, so that
    /// the driver sees all of them or none (the buffers of one merged receive frame).
    package func addUsed(_ elements: [(head: UInt16, length: UInt32)]) throws(QueueError) {
        var index = usedIndex
        do {
            for (head, length) in elements {
                try storeUsedElement(head: head, length: length, at: index)
                index &+= 1
            }
            usedIndex = index
            try memory.storeRelease(usedIndex, at: usedIndexAddress)
        } catch {
            throw .from(error, "used ring")
        }
    }

    /// Writes used element number `index` (not yet published).
    private func storeUsedElement(head: UInt16, length: UInt32, at index: UInt16) throws(GuestMemoryError) {
        let element = GuestAddress(layout.usedRing + 4 + 8 * UInt64(index % layout.size))
        try memory.store(UInt32(head), at: element)
        try memory.store(length, at: GuestAddress(element.rawValue + 4))
    }

    /// Whether the driver wants an interrupt for the entries used since the last call
    /// (EVENT_IDX: `used_event`; otherwise the NO_INTERRUPT flag).
    package func needsInterrupt() throws(QueueError) -> Bool {
        let previous = usedIndexAtLastSignal
        usedIndexAtLastSignal = usedIndex
        guard usedIndex != previous else { return false }
        GuestMemory.fullFence()  // the used index must be visible before used_event is read
        if eventIndex {
            let usedEvent: UInt16
            do { usedEvent = try memory.loadAcquire(UInt16.self, at: usedEventAddress) } catch {
                throw .from(error, "used_event")
            }
            // vring_need_event: notify when used_event lies in [previous, usedIndex).
            return usedIndex &- usedEvent &- 1 < usedIndex &- previous
        }
        let flags: UInt16
        do { flags = try memory.loadAcquire(UInt16.self, at: GuestAddress(layout.availableRing)) } catch {
            throw .from(error, "available flags")
        }
        return flags & Self.availableFlagNoInterrupt == 0
    }
}
