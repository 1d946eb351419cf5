import GuestMemory

/// Why a descriptor chain or a whole queue cannot be used. Chain errors end one request; queue
/// errors make the queue unusable (the transport then sets DEVICE_NEEDS_RESET).
package enum QueueError: Error, Equatable, Sendable, CustomStringConvertible {
    // Chain errors.
    case descriptorIndexOutOfRange(index: UInt16, queueSize: UInt16)
    case chainTooLong(limit: Int)
    case bufferOutsideMemory(address: UInt64, length: UInt32)
    case chainLengthOverflow
    case nestedIndirectTable
    case indirectNotNegotiated
    case indirectWithNext
    case badIndirectTableLength(UInt32)
    case readableAfterWritable
    case emptyChain
    // Queue errors.
    case ringOutsideMemory(String)
    case availableIndexJump(previous: UInt16, current: UInt16, queueSize: UInt16)
    case invalidQueueSize(UInt16)

    /// Whether the whole queue is unusable (as opposed to one request).
    package var breaksQueue: Bool {
        switch self {
        case .ringOutsideMemory, .availableIndexJump, .invalidQueueSize: return true
        default: return false
        }
    }

    package var description: String {
        switch self {
        case .descriptorIndexOutOfRange(let index, let size): return "descriptor index \(index) ≥ queue size \(size)"
        case .chainTooLong(let limit): return "descriptor chain longer than \(limit) (a loop?)"
        case .bufferOutsideMemory(let address, let length):
            return "buffer of \(length) bytes at 0x\(String(address, radix: 16)) is outside guest memory"
        case .chainLengthOverflow: return "descriptor chain length overflows 32 bits"
        case .nestedIndirectTable: return "indirect descriptor inside an indirect table"
        case .indirectNotNegotiated: return "indirect descriptor without VIRTIO_F_RING_INDIRECT_DESC"
        case .indirectWithNext: return "descriptor has both INDIRECT and NEXT flags"
        case .badIndirectTableLength(let length):
            return "indirect table length \(length) is not a non-zero multiple of 16 of at most 16384 bytes"
        case .readableAfterWritable: return "device-readable descriptor after a device-writable one"
        case .emptyChain: return "empty descriptor chain"
        case .ringOutsideMemory(let what): return "\(what) is outside guest memory or misaligned"
        case .availableIndexJump(let previous, let current, let size):
            return "available index moved from \(previous) to \(current), more than the queue size \(size)"
        case .invalidQueueSize(let size): return "queue size \(size) is not a power of two between 1 and 32768"
        }
    }

    static func from(_ error: GuestMemoryError, _ what: String) -> QueueError {
        .ringOutsideMemory("\(what): \(error)")
    }
}
