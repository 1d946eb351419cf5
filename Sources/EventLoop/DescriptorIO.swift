import CEventLoop

#if canImport(Glibc)
    import Glibc
#endif

/// Plain descriptor I/O for device code that must not touch pointers: waiting until a
/// descriptor is writable or readable, and writing bytes.
package enum DescriptorIO {
    /// What a wait for a descriptor found.
    package enum Readiness: Sendable, Equatable {
        case ready
        case timedOut
        /// The descriptor reports an error or is invalid (POLLERR, POLLNVAL) or poll failed.
        case failed
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) until `descriptor` can take a write.
    package static func waitWritable(_ descriptor: Int32, timeoutMilliseconds: Int32) -> Readiness {
        wait(descriptor, events: Int16(POLLOUT), timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) until either descriptor is readable;
    /// true when one is.
    package static func waitReadable(_ first: Int32, _ second: Int32, timeoutMilliseconds: Int32) -> Bool {
        var descriptors = [
            pollfd(fd: first, events: Int16(POLLIN), revents: 0),
            pollfd(fd: second, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let ready = poll(&descriptors, 2, timeoutMilliseconds)
            if ready < 0, errno == EINTR { continue }
            return ready > 0
        }
    }

    private static func wait(_ descriptor: Int32, events: Int16, timeoutMilliseconds: Int32) -> Readiness {
        var poller = pollfd(fd: descriptor, events: events, revents: 0)
        while true {
            let ready = poll(&poller, 1, timeoutMilliseconds)
            if ready < 0, errno == EINTR { continue }
            if ready == 0 { return .timedOut }
            if ready < 0 || poller.revents & Int16(POLLERR | POLLNVAL) != 0 { return .failed }
            return .ready
        }
    }

    /// One write(2) of (a prefix of) `bytes`: the count written, or the errno (EAGAIN on a full
    /// non-blocking descriptor).
    package static func writeSome(_ descriptor: Int32, _ bytes: ArraySlice<UInt8>) -> Result<Int, DescriptorIOError> {
        // SAFETY: write(2) reads at most `buffer.count` bytes of the slice's storage during the call.
        let written = bytes.withUnsafeBytes { buffer in write(descriptor, buffer.baseAddress, buffer.count) }
        return written >= 0 ? .success(written) : .failure(DescriptorIOError(errno: errno))
    }

    /// Writes all of `bytes` to `descriptor`, at file `offset` when one is given (pwrite), else at
    /// its position (write), retrying short writes and EINTR. Returns the bytes written, or the
    /// errno of the write that failed.
    package static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], offset: UInt64? = nil) -> Result<
        Int, DescriptorIOError
    > {
        var count = 0
        while count < bytes.count {
            var position: off_t = 0
            if let offset {
                guard let at = off_t(exactly: offset &+ UInt64(count)) else {
                    return .failure(DescriptorIOError(errno: EINVAL))
                }
                position = at
            }
            // SAFETY: write(2) and pwrite(2) read at most the remaining bytes of the array's storage during the call.
            let written = bytes.withUnsafeBytes { buffer in
                offset == nil
                    ? write(descriptor, buffer.baseAddress! + count, buffer.count - count)
                    : pwrite(descriptor, buffer.baseAddress! + count, buffer.count - count, position)
            }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return .failure(DescriptorIOError(errno: written < 0 ? errno : EIO)) }
            count += written
        }
        return .success(count)
    }
}

extension DescriptorIO {
    /// One read(2) of at most `maximumCount` bytes (EINTR retried): the bytes (empty at end of
    /// file), or the errno.
    package static func read(_ descriptor: Int32, maximumCount: Int) -> Result<[UInt8], DescriptorIOError> {
        var bytes = [UInt8](repeating: 0, count: max(0, maximumCount))
        while true {
            // SAFETY: read(2) writes at most `bytes.count` bytes into the array's own storage.
            let count = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return .failure(DescriptorIOError(errno: Glibc.errno)) }
            bytes.removeLast(bytes.count - count)
            return .success(bytes)
        }
    }
    /// One pread(2) of at most `maximumCount` bytes at `offset` (EINTR retried): the bytes
    /// (empty at end of file), or the errno.
    package static func read(_ descriptor: Int32, maximumCount: Int, at offset: UInt64) -> Result<
        [UInt8], DescriptorIOError
    > {
        guard let position = off_t(exactly: offset) else { return .failure(DescriptorIOError(errno: EINVAL)) }
        var bytes = [UInt8](repeating: 0, count: max(0, maximumCount))
        while true {
            // SAFETY: pread(2) writes at most `bytes.count` bytes into the array's own storage.
            let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, position) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return .failure(DescriptorIOError(errno: Glibc.errno)) }
            bytes.removeLast(bytes.count - count)
            return .success(bytes)
        }
    }

    /// A pipe with both ends non-blocking and close-on-exec: (read end, write end), or the errno.
    package static func makePipe() -> Result<(read: Int32, write: Int32), DescriptorIOError> {
        var ends: [Int32] = [-1, -1]
        guard ceventloop_nonblocking_pipe(&ends) == 0 else { return .failure(DescriptorIOError(errno: Glibc.errno)) }
        return .success((ends[0], ends[1]))
    }
}

/// A failed descriptor write, with its errno.
package struct DescriptorIOError: Error, Equatable, Sendable {
    package let errno: Int32
    package init(errno: Int32) { self.errno = errno }
}
