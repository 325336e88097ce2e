/// What a campaign optimizes: one metric, in one direction.
public struct Objective: Sendable, Hashable, Codable {
    /// Whether smaller or larger values are better.
    public enum Direction: String, Sendable, Hashable, Codable, CaseIterable {
        /// Smaller is better (a loss, an error rate).
        case minimize
        /// Larger is better (an accuracy, a reward).
        case maximize
    }

    /// Which value of a metric's time series is the trial's score.
    public enum Summary: String, Sendable, Hashable, Codable, CaseIterable {
        /// The last value reported (the default): the model as it ended.
        case last
        /// The best value reported, by the objective's direction.
        case best
    }

    /// The metric's name, as the trial reports it (e.g. `eval_accuracy`).
    public var metric: String
    /// Whether smaller or larger is better.
    public var direction: Direction
    /// Which value of the series counts.
    public var summary: Summary

    /// Creates an objective.
    public init(metric: String, direction: Direction, summary: Summary = .last) {
        self.metric = metric
        self.direction = direction
        self.summary = summary
    }

    /// Whether score `a` is strictly better than `b`. NaN is never better than anything, and any
    /// number is better than NaN.
    public func isBetter(_ a: Double, than b: Double) -> Bool {
        if a.isNaN { return false }
        if b.isNaN { return true }
        switch direction {
        case .minimize: return a < b
        case .maximize: return a > b
        }
    }

    /// The score of a metric's series of values: the last non-NaN value, or the best by ``direction``;
    /// `nil` if the series has no number.
    public func score(of series: [Double]) -> Double? {
        switch summary {
        case .last:
            return series.last { !$0.isNaN }
        case .best:
            var best: Double?
            for value in series where !value.isNaN {
                if best == nil || isBetter(value, than: best!) { best = value }
            }
            return best
        }
    }
}

extension Objective {
    /// The value that stands for an attempt's series of this metric: its last, or its best
    /// (the minimum or maximum, as the direction says).
    public func summarize(last: Double?, min: Double?, max: Double?) -> Double? {
        switch (summary, direction) {
        case (.last, _): last
        case (.best, .minimize): min
        case (.best, .maximize): max
        }
    }
}

/// The Pareto front of points judged by several objectives: the points no other point dominates
/// (at least as good in every objective and better in one).
public enum ParetoFront {
    /// The indices of the non-dominated `points` (each with one value per objective, in the
    /// order of `objectives`), in the order given. Points with a NaN are never on the front.
    /// O(n² · objectives), which is nothing next to the trials' cost at the sizes campaigns reach.
    public static func indices(of points: [[Double]], objectives: [Objective]) -> [Int] {
        func dominates(_ a: [Double], _ b: [Double]) -> Bool {
            var better = false
            for (k, objective) in objectives.enumerated() {
                if objective.isBetter(b[k], than: a[k]) { return false }
                if objective.isBetter(a[k], than: b[k]) { better = true }
            }
            return better
        }
        let valid = points.indices.filter { i in points[i].count == objectives.count && !points[i].contains(where: \.isNaN) }
        return valid.filter { i in !valid.contains { j in j != i && dominates(points[j], points[i]) } }
    }
}
