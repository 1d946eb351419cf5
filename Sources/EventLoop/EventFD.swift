import CEventLoop

#if canImport(Glibc)
    import Glibc
#endif

/// An error from an event-loop system call.
public enum EventLoopError: Error, Equatable, Sendable, CustomStringConvertible {
    case systemCallFailed(name: String, errno: Int32)

    public var description: String {
        switch self {
        case .systemCallFailed(let name, let code):
            return "\(name) failed: \(String(cString: strerror(code))) (errno \(code))"
        }
    }
}

/// An owned, non-blocking eventfd: a counter the kernel (ioeventfd, irqfd) or another thread
/// signals. Closed when released.
public final class EventFD: Sendable {
    /// The descriptor number, for registering with KVM or epoll.
    public let rawValue: Int32

    /// Creates an eventfd with counter 0 (non-blocking, close-on-exec).
    public init() throws(EventLoopError) {
        let fd = eventfd(0, CEVENTLOOP_EFD_CLOEXEC | CEVENTLOOP_EFD_NONBLOCK)
        guard fd >= 0 else { throw .systemCallFailed(name: "eventfd", errno: errno) }
        rawValue = fd
    }

    deinit {
        close(rawValue)
    }

    /// Adds `value` to the counter (wakes a reader).
    public func signal(_ value: UInt64 = 1) {
        var value = value
        // SAFETY: writes the 8 bytes of a local UInt64, as eventfd requires.
        _ = withUnsafeBytes(of: &value) { write(rawValue, $0.baseAddress, 8) }
    }

    /// Reads and resets the counter; nil when it was 0.
    public func drain() -> UInt64? {
        var value: UInt64 = 0
        // SAFETY: reads 8 bytes into a local UInt64, as eventfd requires.
        let count = withUnsafeMutableBytes(of: &value) { read(rawValue, $0.baseAddress, 8) }
        return count == 8 ? value : nil
    }
}
