import Synchronization

/// One vCPU's live exit counters. Only the vCPU's own thread writes them, with a relaxed load
/// and store (plain moves on x86-64: no locked instruction, no fence — the cost of a counter in
/// memory), and anyone may read them at any time (a scrape); a reader sees each counter whole.
final class VCPUExitCounters: Sendable {
    private let portIn = Atomic<UInt64>(0)
    private let portOut = Atomic<UInt64>(0)
    private let mmioRead = Atomic<UInt64>(0)
    private let mmioWrite = Atomic<UInt64>(0)
    private let interrupted = Atomic<UInt64>(0)
    private let pauses = Atomic<UInt64>(0)
    private let pausedNanoseconds = Atomic<UInt64>(0)
    /// CLOCK_MONOTONIC of the loop's start and end (0: not yet).
    private let startedNanoseconds = Atomic<UInt64>(0)
    private let endedNanoseconds = Atomic<UInt64>(0)

    @inline(__always)
    private static func add(_ counter: borrowing Atomic<UInt64>, _ amount: UInt64) {
        counter.store(counter.load(ordering: .relaxed) &+ amount, ordering: .relaxed)
    }

    @inline(__always) func countPortIn() { Self.add(portIn, 1) }
    @inline(__always) func countPortOut() { Self.add(portOut, 1) }
    @inline(__always) func countMMIORead() { Self.add(mmioRead, 1) }
    @inline(__always) func countMMIOWrite() { Self.add(mmioWrite, 1) }
    @inline(__always) func countInterrupted() { Self.add(interrupted, 1) }

    /// A park for `Machine.pause()` that lasted `nanoseconds`.
    func countPause(nanoseconds: UInt64) {
        Self.add(pauses, 1)
        Self.add(pausedNanoseconds, nanoseconds)
    }

    func markStarted(_ nanoseconds: UInt64) { startedNanoseconds.store(nanoseconds, ordering: .releasing) }
    func markEnded(_ nanoseconds: UInt64) { endedNanoseconds.store(nanoseconds, ordering: .releasing) }

    /// The counts now (`runNanoseconds` up to now while the loop runs).
    func snapshot(now: UInt64) -> VCPUExitCounts {
        var counts = VCPUExitCounts()
        counts.portIn = portIn.load(ordering: .relaxed)
        counts.portOut = portOut.load(ordering: .relaxed)
        counts.mmioRead = mmioRead.load(ordering: .relaxed)
        counts.mmioWrite = mmioWrite.load(ordering: .relaxed)
        counts.interrupted = interrupted.load(ordering: .relaxed)
        counts.pauses = pauses.load(ordering: .relaxed)
        counts.pausedNanoseconds = pausedNanoseconds.load(ordering: .relaxed)
        let started = startedNanoseconds.load(ordering: .acquiring)
        let ended = endedNanoseconds.load(ordering: .acquiring)
        if started != 0 { counts.runNanoseconds = (ended != 0 ? ended : now) &- started }
        return counts
    }
}
