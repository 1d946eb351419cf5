// exit-loop-compare: SwiftVMM's vCPU loop next to a plain C KVM_RUN loop, per exit kind and
// guest mode, interleaved A/B; or one measurement (`--single`) for callgrind.
import ExitLoopGuests
import ExitLoopMeasurement

#if canImport(Glibc)
    import Glibc
#endif

/// Writes `text` to standard error.
func printError(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { bytes in _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
}

let command: Command
do {
    command = try Command.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    printError("exit-loop-compare: \(error)\n\(usage)")
    exit(2)
}

do {
    switch command {
    case .single(let implementation, let guest):
        let measurement = try ExitLoopMeasurement.measure(implementation, guest: guest)
        print(
            "\(implementation) \(guest.kind) \(guest.mode) N=\(guest.exitCount) "
                + "\(ComparisonReport.fixed(measurement.nanosecondsPerExit, 1)) ns/exit (verified)")
    case .guestBytes(let guest):
        print(guest.code.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " "))
    case .compare(let options):
        printError(
            "exit-loop-compare: N=\(options.exitCount), \(options.repetitions) interleaved repetitions, "
                + "warm-up N=\(options.warmUpExitCount)")
        let comparison = InterleavedComparison(options: options) { measurement, repetition in
            printError(
                "  rep \(repetition) \(measurement.implementation) \(measurement.guest.kind) \(measurement.guest.mode): "
                    + "\(ComparisonReport.fixed(measurement.nanosecondsPerExit, 1)) ns/exit")
        }
        let rows = try comparison.run()
        print(ComparisonReport.table(rows), terminator: "")
        if let path = options.tsvPath {
            guard let file = fopen(path, "w") else {
                printError("exit-loop-compare: cannot write \(path): \(String(cString: strerror(errno)))")
                exit(1)
            }
            fputs(ComparisonReport.tsv(rows), file)
            fclose(file)
        }
    }
} catch {
    printError("exit-loop-compare: FAILED: \(error)")
    exit(1)
}
