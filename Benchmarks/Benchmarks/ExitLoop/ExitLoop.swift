// package-benchmark suite: allocations (and wall time) of SwiftVMM's exit loop per exit kind,
// guest mode and N. Each iteration builds a fresh Machine outside the measured region, then
// measures only `machine.run()` (thread start, N exits through the loop and bus, stop), and
// checks the run's exit counts afterwards. Allocations per exit are derived from two N's:
// (mallocs(N2) - mallocs(N1)) / (N2 - N1); run-exit-loop.sh does that arithmetic.
import Benchmark
import ExitLoopGuests
import ExitLoopMeasurement

/// The two N's every kind and mode is measured at.
let allocationExitCounts: [UInt32] = [1_000, 10_000]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.mallocCountTotal, .mallocBytesCount, .wallClock],
        // Exact counts: no automatic (K)/(M) scaling that would round a count that grows with N.
        units: [.mallocCountTotal: .count, .mallocBytesCount: .count],
        warmupIterations: 1,
        maxDuration: .seconds(20),
        maxIterations: 5)

    for mode in GuestMode.allCases {
        for kind in ExitKind.allCases {
            for exitCount in allocationExitCounts {
                let guest = ExitLoopGuest(kind: kind, mode: mode, exitCount: exitCount)
                Benchmark("\(kind) \(mode) N=\(exitCount)") { benchmark in
                    for _ in benchmark.scaledIterations {
                        let machine = try SwiftVMMExitLoop.makeMachine(for: guest)
                        benchmark.startMeasurement()
                        let exit = try SwiftVMMExitLoop.run(machine)
                        benchmark.stopMeasurement()
                        _ = try SwiftVMMExitLoop.verify(machine, exit: exit, guest: guest)
                    }
                }
            }
        }
    }
}
