import GuestMemory

/// One guest buffer of a descriptor chain: validated to lie inside guest memory.
package struct DescriptorBuffer: Sendable, Equatable {
    package init(address: GuestAddress, length: UInt32) {
        self.address = address
        self.length = length
    }

    package let address: GuestAddress
    package let length: UInt32
}

/// A descriptor chain read once from guest memory and validated: device-readable buffers
/// followed by device-writable ones. Device code reads and writes it through `ChainReader` and
/// `ChainWriter`, never by address arithmetic.
package struct DescriptorChain: Sendable, Equatable {
    /// The head descriptor's index (what goes into the used ring).
    package let head: UInt16
    package let readable: [DescriptorBuffer]
    package let writable: [DescriptorBuffer]

    /// Total bytes the device may read.
    package var readableLength: UInt64 { readable.reduce(0) { $0 + UInt64($1.length) } }
    /// Total bytes the device may write.
    package var writableLength: UInt64 { writable.reduce(0) { $0 + UInt64($1.length) } }

    static let flagNext: UInt16 = 1
    static let flagWrite: UInt16 = 2
    static let flagIndirect: UInt16 = 4
    static let descriptorSize: UInt64 = 16
    /// Most descriptors one chain may have, indirect ones included (QEMU's VIRTQUEUE_MAX_SIZE).
    /// It bounds the host memory and work one request can cost, however the guest builds it.
    package static let maximumDescriptors = 1024

    /// Reads the chain starting at `head` from the descriptor table at `table` (`queueSize`
    /// entries). Every guest value is read once, checked, and used with checked arithmetic.
    static func read(
        head: UInt16, table: GuestAddress, queueSize: UInt16, memory: GuestMemory, indirectAllowed: Bool
    ) throws(QueueError) -> DescriptorChain {
        var readable: [DescriptorBuffer] = []
        var writable: [DescriptorBuffer] = []
        var total: UInt64 = 0
        // The chain being walked: the queue's table, or an indirect table.
        var currentTable = table
        var currentSize = UInt32(queueSize)
        var index = UInt32(head)
        var inIndirect = false
        // Descriptors walked in the current table (a loop shows as more than the table has), and
        // in the whole chain (at most `maximumDescriptors`).
        var visited = 0
        var limit = Int(queueSize)
        var walked = 0
        guard head < queueSize else { throw .descriptorIndexOutOfRange(index: head, queueSize: queueSize) }
        while true {
            visited += 1
            walked += 1
            if visited > limit { throw .chainTooLong(limit: limit) }
            if walked > maximumDescriptors { throw .chainTooLong(limit: maximumDescriptors) }
            let descriptor = try readDescriptor(table: currentTable, index: index, memory: memory)
            if descriptor.flags & flagIndirect != 0 {
                guard indirectAllowed else { throw .indirectNotNegotiated }
                if inIndirect { throw .nestedIndirectTable }
                if descriptor.flags & flagNext != 0 { throw .indirectWithNext }
                guard descriptor.length > 0, descriptor.length % 16 == 0,
                    descriptor.length / 16 <= UInt32(maximumDescriptors)
                else {
                    throw .badIndirectTableLength(descriptor.length)
                }
                guard memory.contains(GuestAddress(descriptor.address), length: UInt64(descriptor.length)) else {
                    throw .bufferOutsideMemory(address: descriptor.address, length: descriptor.length)
                }
                currentTable = GuestAddress(descriptor.address)
                currentSize = descriptor.length / 16
                index = 0
                inIndirect = true
                visited = 0
                walked -= 1  // the indirect descriptor itself carries no buffer
                limit = Int(currentSize)
                continue
            }
            guard memory.contains(GuestAddress(descriptor.address), length: UInt64(descriptor.length)) else {
                throw .bufferOutsideMemory(address: descriptor.address, length: descriptor.length)
            }
            total += UInt64(descriptor.length)
            guard total <= UInt64(UInt32.max) else { throw .chainLengthOverflow }
            let buffer = DescriptorBuffer(address: GuestAddress(descriptor.address), length: descriptor.length)
            if descriptor.flags & flagWrite != 0 {
                writable.append(buffer)
            } else {
                guard writable.isEmpty else { throw .readableAfterWritable }
                readable.append(buffer)
            }
            guard descriptor.flags & flagNext != 0 else { break }
            guard UInt32(descriptor.next) < currentSize else {
                throw .descriptorIndexOutOfRange(index: descriptor.next, queueSize: UInt16(clamping: currentSize))
            }
            index = UInt32(descriptor.next)
        }
        guard !(readable.isEmpty && writable.isEmpty) else { throw .emptyChain }
        return DescriptorChain(head: head, readable: readable, writable: writable)
    }

    private struct RawDescriptor {
        var address: UInt64
        var length: UInt32
        var flags: UInt16
        var next: UInt16
    }

    /// Reads descriptor `index` of the table at `table` (bounds of the table checked by the caller's size).
    private static func readDescriptor(table: GuestAddress, index: UInt32, memory: GuestMemory) throws(QueueError)
        -> RawDescriptor
    {
        guard let base = table.advanced(by: UInt64(index) * descriptorSize) else {
            throw .bufferOutsideMemory(address: table.rawValue, length: UInt32(descriptorSize))
        }
        do {
            // Four loads, no allocation: this runs for every descriptor of every request.
            return RawDescriptor(
                address: try memory.load(UInt64.self, at: base),
                length: try memory.load(UInt32.self, at: GuestAddress(base.rawValue + 8)),
                flags: try memory.load(UInt16.self, at: GuestAddress(base.rawValue + 12)),
                next: try memory.load(UInt16.self, at: GuestAddress(base.rawValue + 14)))
        } catch {
            throw .bufferOutsideMemory(address: base.rawValue, length: UInt32(descriptorSize))
        }
    }
}

extension Array where Element == DescriptorBuffer {
    /// Total length in bytes.
    package var totalLength: UInt64 { reduce(0) { $0 + UInt64($1.length) } }

    /// The buffers without their first `count` bytes (a header), or nil when they are shorter.
    package func droppingFirst(bytes count: UInt64) -> [DescriptorBuffer]? {
        var remaining = count
        var result: [DescriptorBuffer] = []
        for buffer in self {
            if remaining >= UInt64(buffer.length) {
                remaining -= UInt64(buffer.length)
                continue
            }
            let skip = UInt32(remaining)
            remaining = 0
            // The address plus an offset inside the buffer stays inside it (validated when read).
            result.append(
                DescriptorBuffer(
                    address: GuestAddress(buffer.address.rawValue + UInt64(skip)), length: buffer.length - skip))
        }
        return remaining == 0 ? result : nil
    }

    /// The buffers without their last `count` bytes (a trailer), or nil when they are shorter.
    package func droppingLast(bytes count: UInt64) -> [DescriptorBuffer]? {
        var remaining = count
        var result = self
        while remaining > 0, let last = result.last {
            if remaining >= UInt64(last.length) {
                remaining -= UInt64(last.length)
                result.removeLast()
            } else {
                result[result.count - 1] = DescriptorBuffer(
                    address: last.address, length: last.length - UInt32(remaining))
                remaining = 0
            }
        }
        return remaining == 0 ? result : nil
    }

    /// The address of the byte `count` bytes before the end (e.g. a status byte), if any.
    package func address(ofLastBytes count: UInt64) -> GuestAddress? {
        guard count > 0, let trimmed = droppingLast(bytes: count) else { return nil }
        var position = UInt64(0)
        let start = trimmed.totalLength
        for buffer in self {
            if start < position + UInt64(buffer.length) {
                return GuestAddress(buffer.address.rawValue + (start - position))
            }
            position += UInt64(buffer.length)
        }
        return nil
    }
}
