/// Early stopping: which running trials to stop on an intermediate metric (spec key `pruning:`).
public struct PruningPolicy: Sendable, Hashable, Codable {
    public enum Rule: String, Sendable, Hashable, Codable, CaseIterable {
        /// Asynchronous successive halving: at steps `minStep × reduction^k` (rungs), a trial goes
        /// on only if its value is among the best `1/reduction` of the values seen at that rung.
        case asha
        /// At every step from `minStep` on, a trial stops when its value is worse than the median
        /// of the other trials' values at that step (once `minTrials` others reported it).
        case median
    }

    public var rule: Rule
    /// The intermediate metric (a series the job prints, e.g. `eval_loss` per epoch).
    public var metric: String
    public var direction: Objective.Direction
    /// The first step at which a trial can be stopped (ASHA's first rung; the median rule's warm-up).
    public var minStep: Int
    /// ASHA: the rungs' spacing and the share kept at each (1/reduction).
    public var reduction: Int
    /// Median: how many other trials must have reported a step before it is used.
    public var minTrials: Int

    public init(rule: Rule, metric: String, direction: Objective.Direction, minStep: Int = 1, reduction: Int = 3, minTrials: Int = 5) {
        self.rule = rule
        self.metric = metric
        self.direction = direction
        self.minStep = minStep
        self.reduction = reduction
        self.minTrials = minTrials
    }
}

/// The pruner's memory: what each trial reported at the steps that matter, and the decision
/// for a new value. Pure: no clock, no IO; rebuilt on restore by replaying stored values.
public struct Pruner: Sendable, Equatable {
    public let policy: PruningPolicy
    /// ASHA: values recorded at each rung (index k: step minStep × reduction^k), by trial.
    private var rungs: [[TrialID: Double]] = []
    /// Median: values at each step, by trial.
    private var steps: [Int64: [TrialID: Double]] = [:]

    public init(policy: PruningPolicy) {
        self.policy = policy
    }

    /// The step of rung `k`.
    public func rungStep(_ k: Int) -> Int64 {
        var step = Int64(max(1, policy.minStep))
        for _ in 0..<k { step = step.multipliedReportingOverflow(by: Int64(max(2, policy.reduction))).partialValue }
        return step
    }

    /// Records `value` of `trial` at `step` and says whether the trial should stop now, and why.
    public mutating func observe(trial: TrialID, step: Int64, value: Double) -> String? {
        guard value.isFinite || value.isNaN else { return nil }
        switch policy.rule {
        case .asha: return observeASHA(trial: trial, step: step, value: value)
        case .median: return observeMedian(trial: trial, step: step, value: value)
        }
    }

    private func better(_ a: Double, _ b: Double) -> Bool {
        policy.direction == .minimize ? a < b : a > b
    }

    private mutating func observeASHA(trial: TrialID, step: Int64, value: Double) -> String? {
        // The highest rung this step reaches that the trial has not been judged at yet.
        var k = 0
        while rungStep(k + 1) <= step, k < 62 { k += 1 }
        guard step >= rungStep(0) else { return nil }
        while rungs.count <= k { rungs.append([:]) }
        guard rungs[k][trial] == nil else { return nil }
        // A NaN is the worst value there is.
        let score = value.isNaN ? (policy.direction == .minimize ? Double.infinity : -Double.infinity) : value
        rungs[k][trial] = score
        let competing = rungs[k].values.sorted { better($0, $1) }
        // Kept: the best ⌊n / reduction⌋ (at least one: the first trial at a rung goes on).
        let kept = max(1, competing.count / max(2, policy.reduction))
        let threshold = competing[kept - 1]
        guard better(threshold, score) else { return nil }
        return "ASHA rung \(k) (step \(rungStep(k))): \(policy.metric) = \(Self.text(value)) is not among the best \(kept) of \(competing.count) (threshold \(Self.text(threshold)))"
    }

    private mutating func observeMedian(trial: TrialID, step: Int64, value: Double) -> String? {
        guard step >= Int64(policy.minStep) else {
            steps[step, default: [:]][trial] = value
            return nil
        }
        let others = (steps[step] ?? [:]).filter { $0.key != trial && !$0.value.isNaN }.map(\.value).sorted()
        steps[step, default: [:]][trial] = value
        guard others.count >= max(1, policy.minTrials) else { return nil }
        let middle = others.count / 2
        let median = others.count % 2 == 1 ? others[middle] : (others[middle - 1] + others[middle]) / 2
        guard value.isNaN || better(median, value) else { return nil }
        return "median rule at step \(step): \(policy.metric) = \(Self.text(value)) is worse than the median \(Self.text(median)) of \(others.count) other trials"
    }

    private static func text(_ value: Double) -> String {
        value.isNaN ? "nan" : "\(value)"
    }
}
