import CEventLoop

#if canImport(Glibc)
    import Glibc
#endif

/// An error from an event-loop system call.
package enum EventLoopError: Error, Equatable, Sendable, CustomStringConvertible {
    case systemCallFailed(name: String, errno: Int32)

    package var description: String {
        switch self {
        case .systemCallFailed(let name, let code):
            return "\(name) failed: \(String(cString: strerror(code))) (errno \(code))"
        }
    }
}

/// An owned, non-blocking eventfd: a counter the kernel (ioeventfd, irqfd) or another thread
/// signals. Closed when released.
package final class EventFD: Sendable {
    /// The descriptor number, for registering with KVM or epoll.
    package let rawValue: Int32

    /// Creates an eventfd with counter 0 (non-blocking, close-on-exec).
    package convenience init() throws(EventLoopError) {
        try self.init(semaphore: false)
    }

    /// Creates an eventfd with counter 0 (close-on-exec). A `semaphore` one blocks its readers
    /// (`waitOne`) until the counter is above 0 and takes 1 per read (EFD_SEMAPHORE): a work
    /// queue's wake-ups for its worker threads.
    package init(semaphore: Bool) throws(EventLoopError) {
        let flags = semaphore ? CEVENTLOOP_EFD_SEMAPHORE : CEVENTLOOP_EFD_NONBLOCK
        let fd = eventfd(0, CEVENTLOOP_EFD_CLOEXEC | flags)
        guard fd >= 0 else { throw .systemCallFailed(name: "eventfd", errno: errno) }
        rawValue = fd
    }

    deinit {
        close(rawValue)
    }

    /// Adds `value` to the counter (wakes a reader).
    package func signal(_ value: UInt64 = 1) {
        var value = value
        // SAFETY: writes the 8 bytes of a local UInt64, as eventfd requires.
        _ = withUnsafeBytes(of: &value) { write(rawValue, $0.baseAddress, 8) }
    }

    /// Reads and resets the counter; nil when it was 0.
    package func drain() -> UInt64? {
        var value: UInt64 = 0
        // SAFETY: reads 8 bytes into a local UInt64, as eventfd requires.
        let count = withUnsafeMutableBytes(of: &value) { read(rawValue, $0.baseAddress, 8) }
        return count == 8 ? value : nil
    }

    /// For a semaphore eventfd: blocks until the counter is above 0 and takes 1. False when the
    /// read failed (other than by a signal).
    package func waitOne() -> Bool {
        var value: UInt64 = 0
        while true {
            // SAFETY: reads 8 bytes into a local UInt64, as eventfd requires.
            let count = withUnsafeMutableBytes(of: &value) { read(rawValue, $0.baseAddress, 8) }
            if count == 8 { return true }
            if count < 0, errno == EINTR { continue }
            return false
        }
    }
}
