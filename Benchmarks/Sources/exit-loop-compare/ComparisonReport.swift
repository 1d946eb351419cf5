/// Text and TSV renderings of the comparison.
enum ComparisonReport {
    static let tsvHeader =
        "kind\tmode\tswift_ns_per_exit\tc_ns_per_exit\tratio\tratio_low\tratio_high\tratio_coverage"
        + "\tratio_of_medians\texits\treps\tguest_mode"

    /// One line per row: medians, the paired ratio and its interval, run sizes, guest mode.
    static func tsv(_ rows: [ComparisonRow]) -> String {
        ([tsvHeader]
            + rows.map { row in
                let interval = row.pairedRatioInterval
                return [
                    row.kind.rawValue, row.mode.rawValue, fixed(row.swiftMedian, 1), fixed(row.cMedian, 1),
                    fixed(row.pairedRatio, 3), fixed(interval.low, 3), fixed(interval.high, 3),
                    fixed(interval.coverage, 3),
                    fixed(row.ratioOfMedians, 3), "\(row.exitCount)", "\(row.swiftNanosecondsPerExit.count)",
                    row.mode.hostExecution,
                ].joined(separator: "\t")
            }).joined(separator: "\n") + "\n"
    }

    /// An aligned text table of the same figures.
    static func table(_ rows: [ComparisonRow]) -> String {
        let header = ["kind", "mode", "Swift ns/exit", "C ns/exit", "Swift/C", "interval", "guest mode"]
        let body = rows.map { row in
            let interval = row.pairedRatioInterval
            return [
                row.kind.rawValue, row.mode.rawValue, fixed(row.swiftMedian, 1), fixed(row.cMedian, 1),
                fixed(row.pairedRatio, 3), "\(fixed(interval.low, 3))-\(fixed(interval.high, 3))",
                row.mode.hostExecution,
            ]
        }
        let widths = header.indices.map { column in ([header] + body).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column < 2 || column == cells.count - 1 ? cell + padding : padding + cell
            }.joined(separator: "  ")
        }
        let coverage = rows.first.map { fixed($0.pairedRatioInterval.coverage * 100, 1) } ?? "-"
        return ([line(header)] + body.map(line)).joined(separator: "\n")
            + "\nSwift/C: median of the per-repetition ratios; interval: \(coverage) % confidence interval of that median.\n"
    }

    /// `value` with `digits` decimals.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "nan" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        var text = String(Int64(rounded.rounded(.towardZero)))
        if rounded < 0, Int64(rounded.rounded(.towardZero)) == 0 { text = "-0" }
        guard digits > 0 else { return text }
        let fraction = Int64((abs(rounded) * scale).rounded()) % Int64(scale)
        let digitsText = String(fraction)
        return text + "." + String(repeating: "0", count: digits - digitsText.count) + digitsText
    }
}
