import GuestMemory
@_spi(ExitPath) import Virtio

/// The driver side of a split virtqueue, for device and queue tests: writes descriptor tables,
/// available-ring entries and indices into guest memory the way a guest driver does, and reads
/// the used ring back. It can also write anything a buggy or hostile driver might.
package final class MockDriverQueue {
    /// One buffer of a chain the mock builds.
    package struct Buffer: Sendable {
        package var address: UInt64
        package var length: UInt32
        package var writable: Bool

        package init(address: UInt64, length: UInt32, writable: Bool) {
            self.address = address
            self.length = length
            self.writable = writable
        }
    }

    package static let flagNext: UInt16 = 1
    package static let flagWrite: UInt16 = 2
    package static let flagIndirect: UInt16 = 4

    package let memory: GuestMemory
    package let layout: QueueLayout
    private var nextDescriptor: UInt16 = 0
    /// The driver's available index.
    package private(set) var availableIndex: UInt16 = 0
    private var lastSeenUsed: UInt16 = 0
    private var nextData: UInt64

    /// Lays out a queue of `size` entries at `base` (descriptor table, available ring, used
    /// ring), with a data area for buffers after it.
    package init(memory: GuestMemory, base: UInt64 = 0x10000, size: UInt16 = 16) {
        self.memory = memory
        let table = base
        let available = table + 16 * UInt64(size)
        let used = (available + 6 + 2 * UInt64(size) + 3) & ~3
        layout = QueueLayout(size: size, descriptorTable: table, availableRing: available, usedRing: used)
        nextData = (used + 6 + 8 * UInt64(size) + 0xfff) & ~0xfff
    }

    /// Reserves `length` bytes of data area (16-byte aligned) and returns its address.
    package func allocate(_ length: UInt32, filledWith byte: UInt8 = 0) -> UInt64 {
        let address = nextData
        nextData = (nextData + UInt64(length) + 15) & ~15
        try? memory.fill(byte, count: Int(length), at: GuestAddress(address))
        return address
    }

    /// Writes descriptor `index` as given.
    package func writeDescriptor(index: UInt16, address: UInt64, length: UInt32, flags: UInt16, next: UInt16) {
        writeDescriptor(
            table: layout.descriptorTable, index: index, address: address, length: length, flags: flags, next: next)
    }

    func writeDescriptor(table: UInt64, index: UInt16, address: UInt64, length: UInt32, flags: UInt16, next: UInt16) {
        let base = GuestAddress(table + 16 * UInt64(index))
        try? memory.store(address, at: base)
        try? memory.store(length, at: GuestAddress(base.rawValue + 8))
        try? memory.store(flags, at: GuestAddress(base.rawValue + 12))
        try? memory.store(next, at: GuestAddress(base.rawValue + 14))
    }

    /// Writes `buffers` as a chain of consecutive descriptors, makes it available, returns its head.
    @discardableResult
    package func addChain(_ buffers: [Buffer], publish: Bool = true) -> UInt16 {
        let head = nextDescriptor
        for (offset, buffer) in buffers.enumerated() {
            let index = (head &+ UInt16(offset)) % layout.size
            let last = offset == buffers.count - 1
            let flags = (last ? 0 : Self.flagNext) | (buffer.writable ? Self.flagWrite : 0)
            writeDescriptor(
                index: index, address: buffer.address, length: buffer.length, flags: flags,
                next: (index &+ 1) % layout.size)
        }
        nextDescriptor = (head &+ UInt16(buffers.count)) % layout.size
        makeAvailable(head: head, publish: publish)
        return head
    }

    /// Writes `buffers` into an indirect table and makes one descriptor pointing at it available.
    @discardableResult
    package func addIndirectChain(_ buffers: [Buffer]) -> UInt16 {
        let table = allocate(UInt32(16 * buffers.count))
        for (offset, buffer) in buffers.enumerated() {
            let last = offset == buffers.count - 1
            let flags = (last ? 0 : Self.flagNext) | (buffer.writable ? Self.flagWrite : 0)
            writeDescriptor(
                table: table, index: UInt16(offset), address: buffer.address, length: buffer.length, flags: flags,
                next: UInt16(offset + 1))
        }
        let head = nextDescriptor
        writeDescriptor(
            index: head, address: table, length: UInt32(16 * buffers.count), flags: Self.flagIndirect, next: 0)
        nextDescriptor = (head &+ 1) % layout.size
        makeAvailable(head: head)
        return head
    }

    /// Puts `head` in the next available-ring slot and (optionally) publishes the new index.
    package func makeAvailable(head: UInt16, publish: Bool = true) {
        let slot = GuestAddress(layout.availableRing + 4 + 2 * UInt64(availableIndex % layout.size))
        try? memory.store(head, at: slot)
        availableIndex &+= 1
        if publish { publishAvailableIndex() }
    }

    /// Writes the driver's available index to the ring.
    package func publishAvailableIndex() {
        try? memory.store(availableIndex, at: GuestAddress(layout.availableRing + 2))
    }

    /// Writes an arbitrary available index (for malformed-driver tests).
    package func setAvailableIndex(_ value: UInt16) {
        availableIndex = value
        publishAvailableIndex()
    }

    /// Sets or clears VIRTQ_AVAIL_F_NO_INTERRUPT.
    package func setNoInterrupt(_ on: Bool) {
        try? memory.store(UInt16(on ? 1 : 0), at: GuestAddress(layout.availableRing))
    }

    /// EVENT_IDX: asks for an interrupt only once the used index passes `value`.
    package func setUsedEvent(_ value: UInt16) {
        try? memory.store(value, at: GuestAddress(layout.availableRing + 4 + 2 * UInt64(layout.size)))
    }

    /// EVENT_IDX: the available index after which the device wants a notification.
    package var availableEvent: UInt16 {
        (try? memory.load(UInt16.self, at: GuestAddress(layout.usedRing + 4 + 8 * UInt64(layout.size)))) ?? 0
    }

    /// The device's used index.
    package var usedIndex: UInt16 { (try? memory.load(UInt16.self, at: GuestAddress(layout.usedRing + 2))) ?? 0 }

    /// Used elements (chain head, bytes written) added since the last call.
    package func takeUsed() -> [(head: UInt32, length: UInt32)] {
        var result: [(head: UInt32, length: UInt32)] = []
        let used = usedIndex
        while lastSeenUsed != used {
            let element = GuestAddress(layout.usedRing + 4 + 8 * UInt64(lastSeenUsed % layout.size))
            let head = (try? memory.load(UInt32.self, at: element)) ?? .max
            let length = (try? memory.load(UInt32.self, at: GuestAddress(element.rawValue + 4))) ?? .max
            result.append((head, length))
            lastSeenUsed &+= 1
        }
        return result
    }
}
