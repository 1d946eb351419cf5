#if canImport(Glibc)
    import Glibc
#endif

/// CLOCK_MONOTONIC, in nanoseconds (a vDSO call: no system call), for durations and timestamps
/// the VMM and its devices count.
package enum MonotonicClock {
    package static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }
}
