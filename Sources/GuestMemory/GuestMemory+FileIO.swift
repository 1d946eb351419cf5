#if canImport(Glibc)
    import Glibc
#endif

/// A file I/O error, with the errno.
package struct FileIOError: Error, Equatable, Sendable {
    package let errno: Int32
    package init(errno: Int32) { self.errno = errno }
}

/// File I/O straight between a file descriptor and guest buffers (preadv/pwritev on the guest's
/// own pages): no bounce copies, and still no host pointers in device code.
extension GuestMemory {
    /// One guest buffer: an address and a length.
    package typealias Buffer = (address: GuestAddress, length: UInt32)

    /// Reads `buffers` (in order) from `descriptor` at file `offset`, until they are full or the
    /// file ends. Returns the bytes read.
    package func read(from descriptor: Int32, offset: UInt64, into buffers: [Buffer]) throws(GuestMemoryError)
        -> Result<
            Int, FileIOError
        >
    {
        try transfer(descriptor: descriptor, offset: offset, buffers: buffers, writing: false)
    }

    /// Writes `buffers` (in order) to `descriptor` at file `offset`. Returns the bytes written.
    package func write(to descriptor: Int32, offset: UInt64, from buffers: [Buffer]) throws(GuestMemoryError) -> Result<
        Int, FileIOError
    > {
        try transfer(descriptor: descriptor, offset: offset, buffers: buffers, writing: true)
    }

    private func transfer(descriptor: Int32, offset: UInt64, buffers: [Buffer], writing: Bool) throws(GuestMemoryError)
        -> Result<Int, FileIOError>
    {
        try HostIOVectors(memory: self, buffers: buffers).transfer(
            descriptor: descriptor, offset: offset, writing: writing)
    }

    /// The host iovec of one guest buffer, checked to lie inside one guest mapping.
    func hostVector(_ buffer: Buffer) throws(GuestMemoryError) -> iovec {
        guard let pointer = hostPointer(buffer.address, length: UInt64(buffer.length)) else {
            throw .outOfBounds(address: buffer.address, length: UInt64(buffer.length))
        }
        // SAFETY: hostPointer checked the range; it stays mapped while `self` lives, which the
        // caller guarantees for as long as it uses the iovec.
        return iovec(iov_base: pointer, iov_len: Int(buffer.length))
    }

    /// preadv/pwritev over `vectors` (which it advances) until `total` bytes moved, the file
    /// ended or a call failed; at most 1024 iovecs per call (IOV_MAX).
    /// SAFETY: the caller guarantees that every iovec points into memory that stays valid for
    /// the whole call.
    static func transferAll(
        descriptor: Int32, offset: UInt64, vectors: UnsafeMutableBufferPointer<iovec>, total: Int, writing: Bool
    ) -> Result<Int, FileIOError> {
        var done = 0
        var first = 0
        while done < total, first < vectors.count {
            let base = vectors.baseAddress! + first
            let count = Int32(min(vectors.count - first, 1024))
            let position = off_t(offset) + off_t(done)
            let moved = writing ? pwritev(descriptor, base, count, position) : preadv(descriptor, base, count, position)
            if moved < 0 {
                if errno == EINTR { continue }
                return .failure(FileIOError(errno: errno))
            }
            if moved == 0 { break }  // end of file (reads) or a device that takes nothing more
            done += moved
            // Advance past what was transferred (a short transfer can stop mid-buffer).
            var remaining = moved
            while remaining > 0, first < vectors.count {
                if remaining >= vectors[first].iov_len {
                    remaining -= vectors[first].iov_len
                    first += 1
                } else {
                    vectors[first].iov_base = vectors[first].iov_base! + remaining
                    vectors[first].iov_len -= remaining
                    remaining = 0
                }
            }
        }
        return .success(done)
    }
}

/// Packet I/O (a tap): one readv/writev per frame, straight between the descriptor and guest buffers.
extension GuestMemory {
    /// One readv of a frame into `buffers`. Returns the bytes read (EAGAIN: no frame waiting).
    package func receive(from descriptor: Int32, into buffers: [Buffer]) throws(GuestMemoryError) -> Result<
        Int, FileIOError
    > {
        try vectorCall(buffers) { vectors, count in readv(descriptor, vectors, count) }
    }

    /// One writev of a frame from `buffers`. Returns the bytes written.
    package func send(to descriptor: Int32, from buffers: [Buffer]) throws(GuestMemoryError) -> Result<Int, FileIOError>
    {
        try vectorCall(buffers) { vectors, count in writev(descriptor, vectors, count) }
    }

    private func vectorCall(_ buffers: [Buffer], _ call: (UnsafePointer<iovec>, Int32) -> Int) throws(GuestMemoryError)
        -> Result<Int, FileIOError>
    {
        guard buffers.count <= 1024 else { return .failure(FileIOError(errno: EMSGSIZE)) }
        // A frame's iovecs on the stack (at most 16 KiB), not in a heap array per frame.
        return try withUnsafeTemporaryAllocation(of: iovec.self, capacity: max(1, buffers.count)) {
            vectors throws(GuestMemoryError) -> Result<Int, FileIOError> in
            var count = 0
            for buffer in buffers where buffer.length > 0 {
                vectors[count] = try hostVector(buffer)  // valid for this call: `self` lives through it
                count += 1
            }
            guard count > 0 else { return .failure(FileIOError(errno: EINVAL)) }
            while true {
                // SAFETY: the first `count` iovecs point into guest mappings checked above.
                let result = call(vectors.baseAddress!, Int32(count))
                if result < 0 {
                    if errno == EINTR { continue }
                    return .failure(FileIOError(errno: errno))
                }
                return .success(result)
            }
        }
    }
}
