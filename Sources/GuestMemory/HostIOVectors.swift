#if canImport(Glibc)
    import Glibc
#endif

/// Host iovecs for guest buffers, for I/O that runs after the call that made them: an
/// asynchronous block engine hands them to io_uring or to a worker thread and they are read
/// until the operation completes. They keep the guest memory they point into mapped (a strong
/// reference), so a completion that arrives late never touches unmapped memory.
package final class HostIOVectors: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): the iovec array is written once in init; afterwards only the
    // one operation that owns these vectors reads it (the kernel through io_uring, or a single
    // worker through `transfer`, which advances it), never two at once.
    private let memory: GuestMemory
    private let storage: UnsafeMutableBufferPointer<iovec>
    private let vectors: UnsafeMutableBufferPointer<iovec>
    /// Bytes the vectors cover.
    package let totalBytes: UInt64

    /// Translates `buffers` (each checked to lie inside one guest mapping); zero-length
    /// buffers are left out.
    package init(memory: GuestMemory, buffers: [GuestMemory.Buffer]) throws(GuestMemoryError) {
        self.memory = memory
        let storage = UnsafeMutableBufferPointer<iovec>.allocate(capacity: max(1, buffers.count))
        var count = 0
        var total: UInt64 = 0
        for buffer in buffers where buffer.length > 0 {
            do {
                // The mapping lives as long as `memory`, which these vectors retain.
                storage[count] = try memory.hostVector(buffer)
            } catch {
                storage.deallocate()
                throw error
            }
            count += 1
            total += UInt64(buffer.length)
        }
        self.storage = storage
        vectors = UnsafeMutableBufferPointer(rebasing: storage[0..<count])
        totalBytes = total
    }

    deinit {
        // SAFETY: the allocation made in init, released once.
        storage.deallocate()
    }

    /// The iovecs, for io_uring (valid while `self` lives).
    package var baseAddress: UnsafePointer<iovec>? { UnsafePointer(vectors.baseAddress) }
    /// How many iovecs there are.
    package var count: Int { vectors.count }

    /// Moves all the bytes with preadv (`writing` false) or pwritev from/to `descriptor` at
    /// `offset`, retrying short transfers. Consumes the vectors: call once.
    package func transfer(descriptor: Int32, offset: UInt64, writing: Bool) -> Result<Int, FileIOError> {
        // SAFETY: the iovecs point into `memory`'s mappings, retained by `self`.
        GuestMemory.transferAll(
            descriptor: descriptor, offset: offset, vectors: vectors, total: Int(totalBytes), writing: writing)
    }
}
