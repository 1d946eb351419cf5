import ExitLoopGuests
import ExitLoopMeasurement

/// The medians of one kind and mode after all repetitions.
struct ComparisonRow {
    let kind: ExitKind
    let mode: GuestMode
    let exitCount: UInt32
    /// Per-repetition ns/exit, in run order.
    let swiftNanosecondsPerExit: [Double]
    let cNanosecondsPerExit: [Double]

    var swiftMedian: Double { median(swiftNanosecondsPerExit) }
    var cMedian: Double { median(cNanosecondsPerExit) }
    /// Median SwiftVMM ns/exit over median C ns/exit.
    var ratioOfMedians: Double { swiftMedian / cMedian }
    /// SwiftVMM over C for each repetition (the two runs of a pair ran back to back).
    var pairedRatios: [Double] { zip(swiftNanosecondsPerExit, cNanosecondsPerExit).map { $0 / $1 } }
    /// Median of the paired ratios: the headline SwiftVMM/C figure.
    var pairedRatio: Double { median(pairedRatios) }
    /// A ≥ 90 % confidence interval for the median paired ratio.
    var pairedRatioInterval: MedianInterval { medianInterval(pairedRatios, level: 0.9) }
}

/// Runs SwiftVMM and the C loop interleaved: for each repetition, each kind and mode, one run
/// of each, alternating which goes first, so drift on the host hits both alike.
struct InterleavedComparison {
    let options: ComparisonOptions
    /// Called after each timed run (progress on stderr).
    let progress: (ExitLoopMeasurement, _ repetition: Int) -> Void

    func run() throws(ExitLoopError) -> [ComparisonRow] {
        let pairs = options.modes.flatMap { mode in options.kinds.map { kind in (kind, mode) } }
        for (kind, mode) in pairs {
            let warmUp = ExitLoopGuest(kind: kind, mode: mode, exitCount: options.warmUpExitCount)
            for implementation in LoopImplementation.allCases {
                _ = try ExitLoopMeasurement.measure(implementation, guest: warmUp)
            }
        }
        var swift = Array(repeating: [Double](), count: pairs.count)
        var c = Array(repeating: [Double](), count: pairs.count)
        for repetition in 0..<options.repetitions {
            for (index, (kind, mode)) in pairs.enumerated() {
                let guest = ExitLoopGuest(kind: kind, mode: mode, exitCount: options.exitCount)
                let order: [LoopImplementation] = repetition.isMultiple(of: 2) ? [.swiftVMM, .c] : [.c, .swiftVMM]
                for implementation in order {
                    let measurement = try ExitLoopMeasurement.measure(implementation, guest: guest)
                    progress(measurement, repetition)
                    switch implementation {
                    case .swiftVMM: swift[index].append(measurement.nanosecondsPerExit)
                    case .c: c[index].append(measurement.nanosecondsPerExit)
                    }
                }
            }
        }
        return pairs.enumerated().map { index, pair in
            ComparisonRow(
                kind: pair.0, mode: pair.1, exitCount: options.exitCount, swiftNanosecondsPerExit: swift[index],
                cNanosecondsPerExit: c[index])
        }
    }
}
