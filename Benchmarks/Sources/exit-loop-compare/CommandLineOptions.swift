import ExitLoopGuests
import ExitLoopMeasurement

/// What the command line asked for.
enum Command {
    /// The interleaved A/B comparison table.
    case compare(ComparisonOptions)
    /// One measurement (for callgrind): implementation, guest.
    case single(LoopImplementation, ExitLoopGuest)
    /// Print a guest's code bytes as hex (to check them with objdump).
    case guestBytes(ExitLoopGuest)
}

/// Settings of the interleaved comparison.
struct ComparisonOptions {
    /// Accesses per timed run (N).
    var exitCount: UInt32 = 10_000
    /// Interleaved repetitions (Swift, C, Swift, C, …) per kind and mode.
    var repetitions = 61
    /// N of the untimed warm-up run of each implementation, kind and mode.
    var warmUpExitCount: UInt32 = 2_000
    var kinds = ExitKind.allCases
    var modes = GuestMode.allCases
    /// Where to also write the medians as tab-separated values.
    var tsvPath: String?
}

/// A command-line mistake, printed with the usage.
struct UsageError: Error, CustomStringConvertible {
    let description: String
}

let usage = """
    usage: exit-loop-compare [--exits N] [--reps R] [--warmup N] [--kinds K,…] [--modes M,…] [--tsv FILE]
           exit-loop-compare --single swift|c KIND MODE N
           exit-loop-compare --guest-bytes KIND MODE
      KIND: \(ExitKind.allCases.map(\.rawValue).joined(separator: " "))
      MODE: \(GuestMode.allCases.map(\.rawValue).joined(separator: " "))
    """

extension Command {
    /// Parses `arguments` (without the program name).
    static func parse(_ arguments: [String]) throws(UsageError) -> Command {
        if arguments.first == "--single" {
            guard arguments.count == 5 else {
                throw UsageError(description: "--single takes IMPLEMENTATION KIND MODE N")
            }
            guard let implementation = LoopImplementation(rawValue: arguments[1]) else {
                throw UsageError(description: "unknown implementation '\(arguments[1])' (swift or c)")
            }
            return .single(
                implementation,
                ExitLoopGuest(
                    kind: try parseKind(arguments[2]), mode: try parseMode(arguments[3]),
                    exitCount: try parseCount(arguments[4], option: "N")))
        }
        if arguments.first == "--guest-bytes" {
            guard arguments.count == 3 else { throw UsageError(description: "--guest-bytes takes KIND MODE") }
            return .guestBytes(
                ExitLoopGuest(kind: try parseKind(arguments[1]), mode: try parseMode(arguments[2]), exitCount: 1))
        }
        var options = ComparisonOptions()
        var remaining = arguments[...]
        while let option = remaining.popFirst() {
            guard let value = remaining.popFirst() else { throw UsageError(description: "\(option) needs a value") }
            switch option {
            case "--exits": options.exitCount = try parseCount(value, option: option)
            case "--reps": options.repetitions = Int(try parseCount(value, option: option))
            case "--warmup": options.warmUpExitCount = try parseCount(value, option: option)
            case "--kinds":
                options.kinds = try value.split(separator: ",").map { (name) throws(UsageError) in
                    try parseKind(String(name))
                }
            case "--modes":
                options.modes = try value.split(separator: ",").map { (name) throws(UsageError) in
                    try parseMode(String(name))
                }
            case "--tsv": options.tsvPath = value
            default: throw UsageError(description: "unknown option \(option)")
            }
        }
        return .compare(options)
    }

    private static func parseKind(_ text: String) throws(UsageError) -> ExitKind {
        guard let kind = ExitKind(rawValue: text) else { throw UsageError(description: "unknown exit kind '\(text)'") }
        return kind
    }

    private static func parseMode(_ text: String) throws(UsageError) -> GuestMode {
        guard let mode = GuestMode(rawValue: text) else {
            throw UsageError(description: "unknown guest mode '\(text)'")
        }
        return mode
    }

    private static func parseCount(_ text: String, option: String) throws(UsageError) -> UInt32 {
        guard let count = UInt32(text), count >= 1 else {
            throw UsageError(description: "\(option) takes a whole number from 1 to \(UInt32.max), not '\(text)'")
        }
        return count
    }
}
