/// What a Bayesian sampler knows of the trials so far, kept ranked and already encoded for the
/// estimators (one number per parameter: in log scale for log domains, the option's index for a
/// choice, NaN where the trial has no value), and the trials drawn but not finished.
///
/// Finished trials rank in three tiers, best first, as Optuna's TPE ranks them:
/// 1. completed, feasible trials, by their objective;
/// 2. pruned trials, by the step they reached (further is better), then by their last value there;
/// 3. completed trials that broke a constraint (infeasible), by their objective: the sampler learns
///    to leave the regions that break constraints (a constrained TPE), and while nothing feasible
///    is known, to move towards the best of them.
///
/// Kept by the coordinator as trials end, so a suggestion at 10,000 finished trials does no
/// per-trial conversion. Ties are ordered by when the trial ended, then by its number: the order
/// does not depend on the order trials were recorded in (a restored campaign records them in another).
public struct SearchHistory: Sendable {
    public let space: ParameterSpace
    public let direction: Objective.Direction

    /// A finished trial: its sort key (smaller is better) and its encoded values.
    struct Entry: Sendable {
        var primary: Double
        var secondary: Double
        var endedAt: Int64
        var trial: Int
        var point: [Double]

        func isBefore(_ other: Entry) -> Bool {
            if primary != other.primary { return primary < other.primary }
            if secondary != other.secondary { return secondary < other.secondary }
            return (endedAt, trial) < (other.endedAt, other.trial)
        }
    }

    /// The three tiers, each best first.
    private(set) var completed: [Entry] = []
    private(set) var pruned: [Entry] = []
    private(set) var infeasible: [Entry] = []
    /// Trials drawn and not finished (running or waiting), encoded.
    private(set) var pending: [[Double]] = []

    public init(space: ParameterSpace, direction: Objective.Direction) {
        self.space = space
        self.direction = direction
    }

    /// How many finished trials the sampler learns from: completed (feasible or not) and pruned.
    public var finishedCount: Int { completed.count + pruned.count + infeasible.count }

    /// How many trials are drawn and not finished.
    public var pendingCount: Int { pending.count }

    /// The finished trials' encoded values, best first across the three tiers.
    var ranked: [[Double]] {
        var points: [[Double]] = []
        points.reserveCapacity(finishedCount)
        for tier in [completed, pruned, infeasible] {
            for entry in tier { points.append(entry.point) }
        }
        return points
    }

    /// Records a trial that completed with `objective` and met its constraints (NaN and
    /// infinities teach nothing and are left out).
    public mutating func record(_ parameters: Parameters, objective: Double, endedAt: Int64, trial: Int) {
        guard objective.isFinite else { return }
        Self.insert(Entry(primary: signed(objective), secondary: 0, endedAt: endedAt, trial: trial, point: encode(parameters)), into: &completed)
    }

    /// Records a trial stopped early at `step` with `value` as the last value of the metric
    /// pruning judged, better in `direction` (the objective's by default; NaN or infinite: the
    /// worst value at that step).
    public mutating func recordPruned(
        _ parameters: Parameters, step: Int64, value: Double, direction: Objective.Direction? = nil, endedAt: Int64, trial: Int
    ) {
        let score = value.isFinite ? ((direction ?? self.direction) == .minimize ? value : -value) : .infinity
        Self.insert(Entry(primary: -Double(step), secondary: score, endedAt: endedAt, trial: trial, point: encode(parameters)), into: &pruned)
    }

    /// Records a trial that completed but broke a constraint: ranked by how far it missed
    /// (``Constraint/shortfall(of:values:)``; unknown: last), then by its objective when it
    /// reported one, as a constrained TPE ranks its infeasible trials by their violation.
    public mutating func recordInfeasible(_ parameters: Parameters, shortfall: Double? = nil, objective: Double?, endedAt: Int64, trial: Int) {
        let score = objective.map { $0.isFinite ? signed($0) : .infinity } ?? .infinity
        let miss = shortfall.map { $0.isFinite ? $0 : .infinity } ?? .infinity
        Self.insert(Entry(primary: miss, secondary: score, endedAt: endedAt, trial: trial, point: encode(parameters)), into: &infeasible)
    }

    /// Replaces the trials drawn but not finished.
    public mutating func setPending(_ trials: [Parameters]) {
        pending = trials.map(encode)
    }

    /// The objective as a number where smaller is better.
    private func signed(_ value: Double) -> Double {
        direction == .minimize ? value : -value
    }

    private static func insert(_ entry: Entry, into tier: inout [Entry]) {
        var low = 0, high = tier.count
        while low < high {
            let middle = (low + high) / 2
            if tier[middle].isBefore(entry) { low = middle + 1 } else { high = middle }
        }
        tier.insert(entry, at: low)
    }

    /// One number per parameter of the space (NaN where the trial has no usable value).
    func encode(_ parameters: Parameters) -> [Double] {
        space.parameters.map { parameter in
            guard let value = parameters[parameter.name] else { return .nan }
            switch parameter.domain {
            case .choice(let options):
                return options.firstIndex(of: value).map(Double.init) ?? .nan
            case .uniform:
                return value.number ?? .nan
            case .logUniform, .integer(_, _, _, true):
                guard let x = value.number, x > 0 else { return .nan }
                return DeterministicMath.log(x)
            case .integer:
                return value.number ?? .nan
            }
        }
    }
}

extension ParameterValue {
    /// The value as a number, for numeric domains.
    var number: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        case .string, .bool: nil
        }
    }
}
