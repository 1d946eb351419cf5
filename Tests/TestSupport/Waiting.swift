#if canImport(Glibc)
    import Glibc
#endif

/// Polls `condition` every `pollMilliseconds` until it holds or `seconds` pass; whether it held.
/// The one polling wait of the tests (sleeps on the calling thread).
public func waitUntil(seconds: Double, pollMilliseconds: Int = 10, _ condition: () -> Bool) -> Bool {
    var clock = timespec()
    clock_gettime(CLOCK_MONOTONIC, &clock)
    let deadline = Double(clock.tv_sec) + Double(clock.tv_nsec) / 1e9 + seconds
    while true {
        if condition() { return true }
        clock_gettime(CLOCK_MONOTONIC, &clock)
        if Double(clock.tv_sec) + Double(clock.tv_nsec) / 1e9 >= deadline { return false }
        var pause = timespec(tv_sec: 0, tv_nsec: pollMilliseconds * 1_000_000)
        nanosleep(&pause, nil)
    }
}
