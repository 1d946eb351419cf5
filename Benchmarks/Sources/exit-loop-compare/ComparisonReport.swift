/// Text and TSV renderings of the comparison.
enum ComparisonReport {
    static let tsvHeader = "kind\tmode\tswift_ns_per_exit\tc_ns_per_exit\tratio\tpaired_ratio\texits\treps\tguest_mode"

    static func tsv(_ rows: [ComparisonRow]) -> String {
        ([tsvHeader]
            + rows.map { row in
                [
                    row.kind.rawValue, row.mode.rawValue, fixed(row.swiftMedian, 1), fixed(row.cMedian, 1),
                    fixed(row.ratioOfMedians, 3), fixed(row.pairedRatio, 3), "\(row.exitCount)",
                    "\(row.swiftNanosecondsPerExit.count)", row.mode.hostExecution,
                ].joined(separator: "\t")
            }).joined(separator: "\n") + "\n"
    }

    static func table(_ rows: [ComparisonRow]) -> String {
        let header = ["kind", "mode", "Swift ns/exit", "C ns/exit", "ratio", "paired", "guest mode"]
        let body = rows.map { row in
            [
                row.kind.rawValue, row.mode.rawValue, fixed(row.swiftMedian, 1), fixed(row.cMedian, 1),
                fixed(row.ratioOfMedians, 3), fixed(row.pairedRatio, 3), row.mode.hostExecution,
            ]
        }
        let widths = header.indices.map { column in ([header] + body).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                column < 2 || column == cells.count - 1
                    ? cell + String(repeating: " ", count: widths[column] - cell.count)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  ")
        }
        return ([line(header)] + body.map(line)).joined(separator: "\n") + "\n"
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
