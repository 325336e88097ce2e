/// The pure computations behind `intern report` and `intern digest`: what settings matter, how
/// the best result moved, which failures share a cause, what it all cost. Inputs are the store's
/// records; nothing here does IO, and every result is deterministic (seeded where it samples).

/// How much one parameter explains the objective.
public struct ParameterImportance: Sendable, Codable, Equatable {
    /// The parameter's name.
    public var parameter: String
    /// Its first-order share of the objective's variance, 0...1 (fANOVA's main effect).
    public var share: Double
    /// The bootstrap standard deviation of `share`: how far to trust it.
    public var spread: Double
    /// The bins it was measured on: label, number of trials, mean objective.
    public var bins: [Bin]

    public struct Bin: Sendable, Codable, Equatable {
        public var label: String
        public var count: Int
        public var mean: Double
        /// For a bin of numbers: the smallest and largest value in it.
        public var low: Double?
        public var high: Double?
    }
}

public enum ImportanceAnalysis {
    /// The most bins a numeric parameter is cut into (quantiles of the trials' values).
    public static let maxBins = 8

    /// The importance of each parameter of `space` for `points` (completed trials' parameters and
    /// objective), most important first: for each parameter, the variance of the objective's mean
    /// across the parameter's bins (weighted by their sizes) over the objective's total variance,
    /// the first-order term of a functional ANOVA decomposition, corrected for the share `k` bins
    /// explain by chance alone among `n` trials (`(R² − (k−1)/(n−1)) / (1 − (k−1)/(n−1))`, at
    /// least 0, as epsilon-squared does). Numeric parameters are cut at quantiles into at most
    /// ``maxBins`` bins (and at most one per 4 trials), choices get one bin per value, and a trial
    /// that lacks a conditional parameter falls in an `absent` bin. The spread is the standard
    /// deviation of the share over `resamples` bootstrap resamples (seeded: the same input gives
    /// the same output). Fewer than 4 points, or a constant objective, give no importances.
    public static func compute(
        points: [(parameters: Parameters, objective: Double)], space: ParameterSpace, resamples: Int = 100, seed: UInt64 = 1
    ) -> [ParameterImportance] {
        let points = points.filter { $0.objective.isFinite }
        guard points.count >= 4 else { return [] }
        let objectives = points.map(\.objective)
        guard variance(objectives, weights: nil) > 0 else { return [] }
        let analysed: [(parameter: Parameter, values: [ParameterValue?], binOf: [Int], labels: [String])] = space.parameters.compactMap { parameter in
            let values = points.map { $0.parameters[parameter.name] }
            let (binOf, labels) = binning(parameter, values: values, most: min(maxBins, max(2, points.count / 4)))
            return labels.count > 1 ? (parameter, values, binOf, labels) : nil
        }
        // The bootstrap, paired: each resample draws every trial's index anew (`random.next() %
        // count`), and every parameter's share is computed on that same resample. (Drawing for each
        // parameter apart made 3 million draws for 8,000 trials and 4 parameters, most of the cost.)
        var shares = [[Double]](repeating: [], count: analysed.count)
        for index in shares.indices { shares[index].reserveCapacity(max(0, resamples)) }
        var random = SplitMix64(seed: seed)
        var weights = [Double](repeating: 0, count: points.count)
        let draw = Remainder(divisor: UInt64(points.count))
        for _ in 0..<(analysed.isEmpty ? 0 : max(0, resamples)) {
            weights.withUnsafeMutableBufferPointer { weights in
                weights.update(repeating: 0)
                for _ in 0..<weights.count { weights[Int(truncatingIfNeeded: draw.of(random.next()))] += 1 }
                let weight = BootstrapWeights(buffer: UnsafeBufferPointer(weights))
                let totals = Totals(objectives, weight)
                for (index, item) in analysed.enumerated() {
                    shares[index].append(explainedShare(bins: item.binOf, objectives: objectives, binCount: item.labels.count, weight: weight, totals: totals))
                }
            }
        }
        var results: [ParameterImportance] = []
        for (item, shares) in zip(analysed, shares) {
            let (parameter, values, binOf, labels) = item
            let share = explainedShare(bins: binOf, objectives: objectives, binCount: labels.count, weights: nil)
            let mean = shares.isEmpty ? share : shares.reduce(0, +) / Double(shares.count)
            let spread = shares.isEmpty ? 0 : (shares.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(shares.count)).squareRoot()
            var bins: [ParameterImportance.Bin] = []
            var membersOf = [[Int]](repeating: [], count: labels.count)
            for index in binOf.indices { membersOf[binOf[index]].append(index) }
            for (index, label) in labels.enumerated() {
                let members = membersOf[index]
                guard !members.isEmpty else { continue }
                let numbers = members.compactMap { values[$0]?.doubleValue }
                bins.append(.init(
                    label: label, count: members.count, mean: members.reduce(0) { $0 + objectives[$1] } / Double(members.count),
                    low: parameter.domain.isNumeric ? numbers.min() : nil, high: parameter.domain.isNumeric ? numbers.max() : nil))
            }
            results.append(ParameterImportance(parameter: parameter.name, share: share, spread: spread, bins: bins))
        }
        return results.sorted { $0.share == $1.share ? $0.parameter < $1.parameter : $0.share > $1.share }
    }

    /// Each point's bin and the bins' labels.
    static func binning(_ parameter: Parameter, values: [ParameterValue?], most: Int = maxBins) -> ([Int], [String]) {
        var labels: [String] = []
        var binOf: [Int] = []
        switch parameter.domain {
        case .choice(let choices):
            labels = choices.map(\.text)
            binOf = values.map { value in value.flatMap { v in choices.firstIndex(of: v) } ?? -1 }
        case .uniform, .logUniform, .integer:
            let numbers = values.compactMap { $0?.doubleValue }.sorted()
            var edges: [Double] = []
            if !numbers.isEmpty {
                let count = min(most, Set(numbers).count)
                for k in 1..<max(1, count) {
                    let edge = numbers[min(numbers.count - 1, numbers.count * k / count)]
                    if edges.last.map({ edge > $0 }) ?? (edge > numbers[0]) { edges.append(edge) }
                }
                let bounds = [numbers[0]] + edges + [numbers[numbers.count - 1]]
                for index in 0..<(bounds.count - 1) {
                    labels.append("\(format(bounds[index]))–\(format(bounds[index + 1]))")
                }
            }
            binOf = values.map { value in
                guard let number = value?.doubleValue else { return -1 }
                return edges.firstIndex { number < $0 } ?? edges.count
            }
        }
        if binOf.contains(-1) {
            labels.append("absent")
            binOf = binOf.map { $0 == -1 ? labels.count - 1 : $0 }
        }
        return (binOf, labels)
    }

    /// The between-bin variance over the total variance (with optional bootstrap weights).
    ///
    /// It runs 100 times per parameter over every trial (the bootstrap); the sums it makes are
    /// the same additions in the same order as ``variance(_:weights:)``, the same result to the bit.
    static func explainedShare(bins: [Int], objectives: [Double], binCount: Int, weights: [Double]?) -> Double {
        precondition(bins.count == objectives.count && weights.map { $0.count == objectives.count } ?? true)
        if let weights {
            return weights.withUnsafeBufferPointer { buffer in
                let weight = BootstrapWeights(buffer: buffer)
                return explainedShare(bins: bins, objectives: objectives, binCount: binCount, weight: weight, totals: Totals(objectives, weight))
            }
        }
        return explainedShare(bins: bins, objectives: objectives, binCount: binCount, weight: UnitWeights(), totals: Totals(objectives, UnitWeights()))
    }

    /// What the share of every parameter divides by on one resample: the weights' sum, the
    /// weighted sum of the objectives and their weighted squared deviations from its mean.
    /// Computed once per resample for all the parameters (two passes over the trials, in the
    /// order ``variance(_:weights:)`` adds).
    struct Totals {
        var weightSum = 0.0
        var grand = 0.0
        var squares = 0.0

        init(_ objectives: [Double], _ weight: some TrialWeights) {
            objectives.withUnsafeBufferPointer { objectives in
                for index in 0..<objectives.count {
                    let w = weight[index]
                    weightSum += w
                    grand += w * objectives[index]
                }
                guard weightSum > 0 else { return }
                let mean = grand / weightSum
                for index in 0..<objectives.count {
                    let w = weight[index]
                    squares += w * (objectives[index] - mean) * (objectives[index] - mean)
                }
            }
        }
    }

    /// The share given the resample's totals: one pass over the trials for the bins' sums.
    static func explainedShare(bins: [Int], objectives: [Double], binCount: Int, weight: some TrialWeights, totals: Totals) -> Double {
        precondition(bins.count == objectives.count)
        guard totals.weightSum > 0 else { return 0 }
        let total = totals.squares / totals.weightSum
        guard total > 0 else { return 0 }
        var sums = [Double](repeating: 0, count: binCount)
        var counts = [Double](repeating: 0, count: binCount)
        // Without bounds checks or an optional per trial (a bin out of range would be a bug in
        // `binning`; the precondition above keeps the buffers the same length).
        objectives.withUnsafeBufferPointer { objectives in
            bins.withUnsafeBufferPointer { bins in
                sums.withUnsafeMutableBufferPointer { sums in
                    counts.withUnsafeMutableBufferPointer { counts in
                        for index in 0..<objectives.count {
                            let w = weight[index]
                            precondition(bins[index] >= 0 && bins[index] < binCount)
                            sums[bins[index]] += w * objectives[index]
                            counts[bins[index]] += w
                        }
                    }
                }
            }
        }
        let weightSum = totals.weightSum
        let mean = totals.grand / weightSum
        var between = 0.0
        var used = 0
        for bin in 0..<binCount where counts[bin] > 0 {
            let binMean = sums[bin] / counts[bin]
            between += counts[bin] * (binMean - mean) * (binMean - mean)
            used += 1
        }
        let raw = between / weightSum / total
        // What `used` bins would explain among this many trials if the parameter did nothing.
        let chance = weightSum > 1 ? Double(used - 1) / (weightSum - 1) : 1
        guard chance < 1 else { return 0 }
        return min(1, max(0, (raw - chance) / (1 - chance)))
    }

    static func variance(_ values: [Double], weights: [Double]?) -> Double {
        var sum = 0.0, weightSum = 0.0
        for (index, value) in values.enumerated() {
            let w = weights?[index] ?? 1
            sum += w * value
            weightSum += w
        }
        guard weightSum > 0 else { return 0 }
        let mean = sum / weightSum
        var squares = 0.0
        for (index, value) in values.enumerated() {
            let w = weights?[index] ?? 1
            squares += w * (value - mean) * (value - mean)
        }
        return squares / weightSum
    }

    /// A number short enough for a label: at most 4 significant digits (integers as they are).
    public static func format(_ value: Double) -> String {
        guard value.isFinite, value != 0 else { return value == 0 ? "0" : String(value) }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        var scale = 1.0
        var magnitude = abs(value)
        while magnitude < 1000 { magnitude *= 10; scale *= 10 }
        while magnitude >= 10_000 { magnitude /= 10; scale /= 10 }
        let rounded = (value * scale).rounded() / scale
        return rounded == rounded.rounded() && abs(rounded) < 1e15 ? String(Int64(rounded)) : String(rounded)
    }
}

extension Parameter.Domain {
    /// Uniform, log-uniform or integer.
    var isNumeric: Bool {
        switch self {
        case .choice: false
        case .uniform, .logUniform, .integer: true
        }
    }
}

/// The best feasible objective as trials ended: how many of them improved it ("problems
/// solved") against how many ran to an end, whatever the end ("tasks completed").
public struct ProgressCurve: Sendable, Codable, Equatable {
    public struct Point: Sendable, Codable, Equatable {
        /// How many trials had ended (completed, failed, pruned, infeasible...) when this one did.
        public var ended: Int
        /// When it completed (Unix ms).
        public var at: Int64
        /// The trial and its objective, and the best so far after it.
        public var trial: Int
        public var objective: Double
        public var best: Double
        /// Whether it improved the best.
        public var improved: Bool
    }

    /// The feasible completed trials with an objective, in the order they ended (validation
    /// repeats apart: they end, but are no new result).
    public var points: [Point]
    /// Every trial that ended.
    public var ended: Int
    public var improvements: Int { points.count { $0.improved } }
    /// The improvements validation confirmed: the trial whose advantage held over its repeats
    /// (see ``ValidationVerdict``), counted apart from ``improvements``; empty without validation.
    public var validated: [Int] = []

    /// The curve over the trials that ended, in the order they ended.
    public init(trials: [TrialRecord], objective: Objective) {
        self.init(outcomes: trials.map(TrialOutcome.init), objective: objective)
    }

    /// The same from the trials' outcomes alone (what the store reads without their parameters).
    public init(outcomes trials: [TrialOutcome], objective: Objective) {
        var best: Double?
        var points: [Point] = []
        let ended = trials.filter { $0.status.isTerminal }.sorted { ($0.endedAt ?? 0, $0.id) < ($1.endedAt ?? 0, $1.id) }
        for (index, trial) in ended.enumerated() {
            guard trial.status == .completed, trial.feasible != false, !trial.isRepeat, let value = trial.objective, value.isFinite else { continue }
            let improved = best.map { objective.isBetter(value, than: $0) } ?? true
            if improved { best = value }
            points.append(Point(ended: index + 1, at: trial.endedAt ?? 0, trial: trial.id, objective: value, best: best!, improved: improved))
        }
        self.points = points
        self.ended = ended.count
    }
}

/// How a trial ended, without what it ran with: what the progress curve and the rankings of a
/// report read, which the store gives for 10,000 trials without decoding their parameters.
public struct TrialOutcome: Sendable, Equatable {
    public var id: TrialID
    public var status: TrialStatus
    public var objective: Double?
    public var feasible: Bool?
    public var endedAt: Timestamp?
    /// Whether it is a validation repeat: it ended like any trial, but its value is no new result.
    public var isRepeat = false

    public init(id: TrialID, status: TrialStatus, objective: Double?, feasible: Bool?, endedAt: Timestamp?) {
        self.id = id
        self.status = status
        self.objective = objective
        self.feasible = feasible
        self.endedAt = endedAt
    }

    /// The outcome of a trial record.
    public init(_ trial: TrialRecord) {
        self.init(id: trial.id, status: trial.status, objective: trial.objective, feasible: trial.feasible, endedAt: trial.endedAt)
        isRepeat = trial.isRepeat
    }
}

/// Attempts that failed the same way: one line of the report or the digest instead of many.
public struct FailureCluster: Sendable, Codable, Equatable {
    public var signature: String
    public var failureClass: String
    /// The normalised error and a short excerpt of it.
    public var text: String
    public var excerpt: String
    public var attempts: Int
    public var trials: Int
    public var firstAt: Int64?
    public var lastAt: Int64?
    /// The parameters of the trials it hit: a range for numbers, the values for the rest.
    public var parameterRanges: [String: String]
    /// What the failed attempts cost before they failed.
    public var gpuHours: Double
    public var cpuHours: Double

    /// The clusters of `attempts` that failed with a signature, largest first.
    public static func clusters(attempts: [AttemptRecord], trials: [TrialID: TrialRecord]) -> [FailureCluster] {
        clusters(failures: attempts.compactMap(FailedAttempt.init), parameters: trials.mapValues(\.parameters))
    }

    /// The clusters of `failures`, largest first; `parameters` are the parameters of the trials
    /// they hit (a trial left out, one the store does not hold, is not counted).
    public static func clusters(failures: [FailedAttempt], parameters: [TrialID: Parameters]) -> [FailureCluster] {
        var order: [String] = []
        var groups: [String: [FailedAttempt]] = [:]
        for attempt in failures.sorted(by: { $0.id < $1.id }) {
            let key = attempt.signature
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(attempt)
        }
        let clusters = order.map { key -> FailureCluster in
            let members = groups[key]!
            let hit = Set(members.map(\.trial)).sorted().compactMap { parameters[$0] }
            var ranges: [String: String] = [:]
            let names = Set(hit.flatMap(\.names)).sorted()
            for name in names {
                let values = hit.compactMap { $0[name] }
                let numbers = values.compactMap(\.doubleValue)
                if numbers.count == values.count, let low = numbers.min(), let high = numbers.max(), Set(values.map(\.text)).count > 3 {
                    ranges[name] = low == high ? ImportanceAnalysis.format(low) : "\(ImportanceAnalysis.format(low))–\(ImportanceAnalysis.format(high))"
                } else {
                    let distinct = Array(Set(values.map(\.text))).sorted()
                    ranges[name] = distinct.prefix(6).joined(separator: ", ") + (distinct.count > 6 ? ", …" : "")
                }
            }
            let first = members[0]
            return FailureCluster(
                signature: key, failureClass: first.failureClass?.rawValue ?? "unknown", text: first.signatureText ?? "",
                excerpt: first.excerpt ?? first.reason ?? "", attempts: members.count, trials: hit.count,
                firstAt: members.compactMap(\.usage.endedAt).min(), lastAt: members.compactMap(\.usage.endedAt).max(), parameterRanges: ranges,
                gpuHours: members.reduce(0) { $0 + CostBreakdown.gpuHours($1.usage, now: $1.usage.endedAt ?? $1.usage.assignedAt) },
                cpuHours: members.reduce(0) { $0 + CostBreakdown.cpuHours($1.usage) })
        }
        return clusters.sorted { $0.attempts == $1.attempts ? $0.signature < $1.signature : $0.attempts > $1.attempts }
    }
}

/// What failure clustering reads of an attempt that failed with a signature (failed, lost or
/// preempted): the store gives it without reading the whole attempt.
public struct FailedAttempt: Sendable, Equatable {
    public var id: AttemptID
    public var trial: TrialID
    public var signature: String
    public var failureClass: FailureClass?
    public var signatureText: String?
    public var excerpt: String?
    public var reason: String?
    /// Its times and what it used (stage 0, no trial status: clustering does not read them).
    public var usage: AttemptUsage

    public init(
        id: AttemptID, trial: TrialID, signature: String, failureClass: FailureClass?, signatureText: String?, excerpt: String?,
        reason: String?, usage: AttemptUsage
    ) {
        self.id = id
        self.trial = trial
        self.signature = signature
        self.failureClass = failureClass
        self.signatureText = signatureText
        self.excerpt = excerpt
        self.reason = reason
        self.usage = usage
    }

    /// `attempt`'s failure; nil when it has no signature.
    public init?(_ attempt: AttemptRecord) {
        guard let signature = attempt.failureSignature else { return nil }
        self.init(
            id: attempt.id, trial: attempt.trial, signature: signature, failureClass: attempt.failureClass,
            signatureText: attempt.signatureText, excerpt: attempt.failureExcerpt, reason: attempt.failureReason,
            usage: AttemptUsage(attempt, stage: 0, trialStatus: nil))
    }
}

/// GPU-hours and CPU-hours: in all, by stage, by what became of the attempt.
public struct CostBreakdown: Sendable, Codable, Equatable {
    public struct Hours: Sendable, Codable, Equatable {
        public var gpu = 0.0
        public var cpu = 0.0
        public var wall = 0.0
        public var attempts = 0

        mutating func add(_ attempt: AttemptUsage, now: Int64) {
            gpu += CostBreakdown.gpuHours(attempt, now: now)
            cpu += CostBreakdown.cpuHours(attempt)
            wall += CostBreakdown.wallHours(attempt, now: now)
            attempts += 1
        }
    }

    public var total = Hours()
    public var byStage: [String: Hours] = [:]
    /// By outcome: `completed` (the attempt that completed its trial), `pruned`, `cancelled`,
    /// `failed` (failed, timed out, could not start, lost or preempted), `running`.
    public var byOutcome: [String: Hours] = [:]

    /// The share of GPU-hours (CPU-hours when no GPU was used) spent on failed and pruned attempts.
    public var wastedShare: Double {
        let useGPU = total.gpu > 0
        let spent = useGPU ? total.gpu : total.cpu
        guard spent > 0 else { return 0 }
        let wasted = ["failed", "pruned"].reduce(0.0) { $0 + ((useGPU ? byOutcome[$1]?.gpu : byOutcome[$1]?.cpu) ?? 0) }
        return wasted / spent
    }

    /// `now` prices attempts still running (and lost ones, which have no measured wall time)
    /// from their start to their end or to now.
    public init(attempts: [AttemptRecord], trials: [TrialID: TrialRecord], stageNames: [String], now: Int64) {
        self.init(usage: attempts.map { attempt in
            let trial = trials[attempt.trial]
            return AttemptUsage(attempt, stage: trial?.stage ?? 0, trialStatus: trial?.status)
        }, stageNames: stageNames, now: now)
    }

    /// The same from what each attempt used, in the order given (the attempts' ids: the sums
    /// are added up in that order).
    public init(usage: [AttemptUsage], stageNames: [String], now: Int64) {
        for attempt in usage {
            total.add(attempt, now: now)
            let stage = stageNames[min(attempt.stage, max(0, stageNames.count - 1))]
            byStage[stage, default: Hours()].add(attempt, now: now)
            byOutcome[Self.outcome(attempt), default: Hours()].add(attempt, now: now)
        }
    }

    static func outcome(_ attempt: AttemptUsage) -> String {
        switch attempt.status {
        case .succeeded: "completed"
        case .assigned, .running: "running"
        case .cancelled: attempt.trialStatus == .pruned ? "pruned" : "cancelled"
        default: "failed"
        }
    }

    /// The attempt's wall time: measured by its worker, else from its start to its end (a lost
    /// attempt) or to `now` (one still running).
    static func wallHours(_ attempt: AttemptUsage, now: Int64) -> Double {
        if let wall = attempt.wallMillis { return Double(wall) / 3_600_000 }
        let start = attempt.startedAt ?? attempt.assignedAt
        return Double(max(0, (attempt.endedAt ?? now) - start)) / 3_600_000
    }

    static func gpuHours(_ attempt: AttemptUsage, now: Int64) -> Double {
        wallHours(attempt, now: now) * Double(attempt.gpuCount)
    }

    static func cpuHours(_ attempt: AttemptUsage) -> Double {
        Double((attempt.userCPUMillis ?? 0) + (attempt.systemCPUMillis ?? 0)) / 3_600_000
    }
}

/// What one attempt used and how it ended, with its trial's stage and status: all that
/// ``CostBreakdown`` reads, which the store gives without reading whole attempts.
public struct AttemptUsage: Sendable, Equatable {
    public var status: AttemptStatus
    public var assignedAt: Timestamp
    public var startedAt: Timestamp?
    public var endedAt: Timestamp?
    public var wallMillis: UInt64?
    public var userCPUMillis: UInt64?
    public var systemCPUMillis: UInt64?
    /// How many GPUs it held.
    public var gpuCount: Int
    /// Its trial's stage (0 when the trial is not known) and status (nil then).
    public var stage: Int
    public var trialStatus: TrialStatus?

    public init(
        status: AttemptStatus, assignedAt: Timestamp, startedAt: Timestamp?, endedAt: Timestamp?, wallMillis: UInt64?,
        userCPUMillis: UInt64?, systemCPUMillis: UInt64?, gpuCount: Int, stage: Int, trialStatus: TrialStatus?
    ) {
        self.status = status
        self.assignedAt = assignedAt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.wallMillis = wallMillis
        self.userCPUMillis = userCPUMillis
        self.systemCPUMillis = systemCPUMillis
        self.gpuCount = gpuCount
        self.stage = stage
        self.trialStatus = trialStatus
    }

    /// The usage of `attempt`, of a trial of `stage` whose status is `trialStatus`.
    public init(_ attempt: AttemptRecord, stage: Int, trialStatus: TrialStatus?) {
        self.init(
            status: attempt.status, assignedAt: attempt.assignedAt, startedAt: attempt.startedAt, endedAt: attempt.endedAt,
            wallMillis: attempt.wallMillis, userCPUMillis: attempt.userCPUMillis, systemCPUMillis: attempt.systemCPUMillis,
            gpuCount: attempt.gpus.count, stage: stage, trialStatus: trialStatus)
    }
}

/// Each trial's weight in ``ImportanceAnalysis/explainedShare(bins:objectives:binCount:weights:)``:
/// a protocol so that its passes are specialised for each kind, without a check per trial.
protocol TrialWeights {
    subscript(index: Int) -> Double { get }
}

/// Every trial counts once.
struct UnitWeights: TrialWeights {
    @inline(__always) subscript(index: Int) -> Double { 1 }
}

/// A bootstrap resample: how many times each trial was drawn.
struct BootstrapWeights: TrialWeights {
    let buffer: UnsafeBufferPointer<Double>
    @inline(__always) subscript(index: Int) -> Double { buffer[index] }
}

/// `value % divisor` for a divisor fixed in advance, by multiplications instead of a 64-bit
/// division: the same remainder for every `value` (Lemire, Kaser and Kurz, "Faster remainder by
/// direct computation", 2019, with a 128-bit reciprocal: exact for all 64-bit values and divisors).
struct Remainder: Sendable {
    let divisor: UInt64
    /// ⌊(2¹²⁸ − 1) / divisor⌋ + 1, modulo 2¹²⁸ (0 for a divisor of 1), in two halves.
    let high: UInt64
    let low: UInt64

    init(divisor: UInt64) {
        precondition(divisor > 0, "a remainder by 0")
        self.divisor = divisor
        let reciprocal = UInt128.max / UInt128(divisor) &+ 1
        high = UInt64(truncatingIfNeeded: reciprocal >> 64)
        low = UInt64(truncatingIfNeeded: reciprocal)
    }

    /// `value % divisor`.
    @inline(__always)
    func of(_ value: UInt64) -> UInt64 {
        // The fraction: reciprocal × value modulo 2¹²⁸ ...
        let product = low.multipliedFullWidth(by: value)
        let fractionHigh = product.high &+ high &* value
        let fractionLow = product.low
        // ... times the divisor, over 2¹²⁸.
        let carry = fractionLow.multipliedFullWidth(by: divisor).high
        let top = fractionHigh.multipliedFullWidth(by: divisor)
        return top.high &+ (top.low.addingReportingOverflow(carry).overflow ? 1 : 0)
    }
}

/// A small seeded generator (SplitMix64): the bootstrap's resamples are the same on every run.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A double in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(UInt64(1) << 53) }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
