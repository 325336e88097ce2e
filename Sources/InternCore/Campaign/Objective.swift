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
