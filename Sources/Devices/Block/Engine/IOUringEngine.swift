import CIOUring
import EventLoop
import Synchronization

/// The io_uring engine (liburing): operations are queued in the submission ring and started
/// with one io_uring_enter per batch; the kernel signals an eventfd per completion, which the
/// I/O thread watches, and completions are read from the shared ring without a system call.
/// The ring is restricted to READV, WRITEV and FSYNC before it is enabled, so it cannot be used
/// for anything else even by code that gets hold of it.
package final class IOUringEngine: BlockEngine {
    /// The ring, used by one thread at a time (the device serializes its calls).
    private struct Ring: @unchecked Sendable {
        // SAFETY (@unchecked Sendable): the pointer is only dereferenced by the C functions,
        // always under `ring`'s lock.
        let handle: OpaquePointer
    }

    private let ring: Mutex<Ring>
    private let completed: EventFD
    package let capacity: Int
    package var kind: BlockEngineKind { .ioUring }
    package var completionDescriptor: Int32? { completed.rawValue }

    /// Sets up a ring of `entries` submission slots signalling a new eventfd.
    package init(entries: UInt32) throws(BlockEngineError) {
        do {
            completed = try EventFD()
        } catch {
            throw .workersUnavailable(error.description)
        }
        var error: Int32 = 0
        guard let handle = cioring_open(entries, completed.rawValue, &error) else {
            throw .ioUringUnavailable(errno: error)
        }
        capacity = Int(cioring_completion_slots(handle))
        ring = Mutex(Ring(handle: handle))
    }

    deinit {
        // The device drains every operation before it lets go of its engine.
        ring.withLock { cioring_close($0.handle) }
    }

    /// The kernel runs the operations: nothing to start.
    package func start() throws(BlockEngineError) {}

    package func enqueue(_ operation: BlockEngineOperation) -> BlockEngineAdmission {
        let queued = ring.withLock { ring in
            switch operation.kind {
            case .datasync:
                return cioring_queue_datasync(ring.handle, operation.descriptor, operation.tag) == 0
            case .read, .write:
                guard let vectors = operation.vectors else { return false }
                // SAFETY: the vectors stay alive until the completion (the device holds them
                // with the operation's entry), and io_uring copies the iovec array at submit.
                return cioring_queue_transfer(
                    ring.handle, operation.kind == .write ? 1 : 0, operation.descriptor, vectors.baseAddress,
                    UInt32(vectors.count), operation.offset, operation.tag) == 0
            }
        }
        return queued ? .queued : .full
    }

    package func submit() {
        // A failed submit (out of kernel memory) leaves the operations queued in the ring; the
        // next submit, at the latest the device's drain, hands them over.
        _ = ring.withLock { cioring_submit($0.handle) }
    }

    package func withdrawQueued() -> [UInt64] {
        ring.withLock { ring in
            let maximum = capacity
            return [UInt64](unsafeUninitializedCapacity: maximum) { buffer, count in
                // SAFETY: cioring_withdraw writes at most `maximum` tags into the buffer.
                count = Int(cioring_withdraw(ring.handle, buffer.baseAddress, UInt32(maximum)))
            }
        }
    }

    package func reap(maximum: Int) -> [BlockEngineCompletion] {
        let wanted = max(0, min(maximum, capacity))
        return ring.withLock { ring in
            let raw = [cioring_completion](unsafeUninitializedCapacity: wanted) { buffer, count in
                // SAFETY: cioring_reap writes at most `wanted` entries into the buffer.
                count = Int(cioring_reap(ring.handle, buffer.baseAddress, UInt32(wanted)))
            }
            return raw.map { BlockEngineCompletion(tag: $0.tag, result: Int($0.result)) }
        }
    }

    package func acknowledgeWakeUp() { _ = completed.drain() }
    package func wakeAgain() { completed.signal() }
}
