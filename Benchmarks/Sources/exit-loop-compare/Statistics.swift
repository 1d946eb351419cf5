/// The median (mean of the two middle values for an even count); NaN for no values.
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let middle = sorted.count / 2
    return sorted.count.isMultiple(of: 2) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[middle]
}

/// A distribution-free confidence interval for a median: order statistics.
struct MedianInterval {
    let low: Double
    let high: Double
    /// Probability that the interval holds the true median (at least the requested level).
    let coverage: Double
}

/// The narrowest order-statistic interval [x(k), x(n+1-k)] whose coverage of the population
/// median is at least `level` (from the binomial(n, 1/2) distribution; no assumption about the
/// shape of the values). With fewer than 5 values even [min, max] covers less than 90 %;
/// it is returned with its true coverage.
func medianInterval(_ values: [Double], level: Double = 0.9) -> MedianInterval {
    let sorted = values.sorted()
    let n = sorted.count
    guard n > 0 else { return MedianInterval(low: .nan, high: .nan, coverage: 0) }
    // tail(k) = P(Binomial(n, 1/2) < k): the chance the median lies below x(k).
    var probabilities = [Double](repeating: 0, count: n + 1)
    var coefficient = 1.0
    for successes in 0...n {
        probabilities[successes] = coefficient
        coefficient = coefficient * Double(n - successes) / Double(successes + 1)
    }
    let total = probabilities.reduce(0, +)
    var k = 1
    var tail = probabilities[0] / total
    while k < n / 2, tail + probabilities[k] / total <= (1 - level) / 2 {
        tail += probabilities[k] / total
        k += 1
    }
    return MedianInterval(low: sorted[k - 1], high: sorted[n - k], coverage: 1 - 2 * tail)
}
