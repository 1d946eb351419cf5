import CEventLoop

#if canImport(Glibc)
    import Glibc
#endif

/// An owned CLOCK_MONOTONIC timerfd (non-blocking, close-on-exec).
package final class TimerFD: Sendable {
    /// The descriptor number, for registering with an event loop.
    package let rawValue: Int32

    package init() throws(EventLoopError) {
        let fd = timerfd_create(CLOCK_MONOTONIC, CEVENTLOOP_TFD_CLOEXEC | CEVENTLOOP_TFD_NONBLOCK)
        guard fd >= 0 else { throw .systemCallFailed(name: "timerfd_create", errno: errno) }
        rawValue = fd
    }

    deinit {
        close(rawValue)
    }

    /// Fires once after `nanoseconds`, then every `intervalNanoseconds` (0: once). 0 disarms.
    package func arm(afterNanoseconds nanoseconds: UInt64, intervalNanoseconds: UInt64 = 0) throws(EventLoopError) {
        guard ceventloop_timer_arm(rawValue, nanoseconds, intervalNanoseconds) == 0 else {
            throw .systemCallFailed(name: "timerfd_settime", errno: errno)
        }
    }

    /// Stops the timer.
    package func disarm() throws(EventLoopError) {
        try arm(afterNanoseconds: 0)
    }

    /// Reads and resets the expiry count; nil when it has not fired since the last read.
    package func acknowledge() -> UInt64? {
        var count: UInt64 = 0
        // SAFETY: reads 8 bytes into a local UInt64, as timerfd requires.
        let result = withUnsafeMutableBytes(of: &count) { read(rawValue, $0.baseAddress, 8) }
        return result == 8 ? count : nil
    }
}
