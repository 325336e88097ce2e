/// Whether a stage's best configuration is *validated*: after `validate:` ran its top
/// configurations (and its baseline) again with new seeds, the best by the mean of its repeats
/// must beat the runner-up, and the baseline if there is one, beyond the repeats' spread.
///
/// The test: Welch's t-test (unequal variances), one-sided, at ``ValidationPolicy/alpha`` (0.05),
/// on the repeats' values only: the first result of a configuration is left out because it is
/// why the configuration was picked (it is biased towards luck: the winner's curse). Every
/// configuration is repeated with the same seeds, which makes the samples positively
/// correlated; the unpaired test ignores that and is conservative for it. A configuration
/// with a repeat that failed, was cancelled or pruned, broke a constraint or reported no
/// objective cannot be validated (it is listed with why); nor can anything be while repeats
/// still run. Pure: computed from the stage's trials, by the coordinator (to feed
/// `from: {validated: true}`) and by every view (`best`, `trials`, the report, the digest).
public struct ValidationVerdict: Sendable, Equatable {
    /// One configuration's repeats: a top configuration (by its original trial) or the baseline.
    public struct Group: Sendable, Equatable {
        /// The trial whose configuration was repeated; `nil` for the baseline.
        public var original: TrialID?
        /// The original's own first result (not part of the test).
        public var firstResult: Double?
        /// The repeats' trials and the objective values of those that completed feasibly.
        public var repeats: [TrialID] = []
        public var values: [Double] = []
        /// Repeats that ended without a usable value, and how many have not ended.
        public var failed: [TrialID] = []
        public var open = 0

        /// Whether it is the baseline's group.
        public var isBaseline: Bool { original == nil }
        /// Whether all its repeats ended with a value (and there are at least two).
        public var isComplete: Bool { failed.isEmpty && open == 0 && values.count >= 2 }
        /// The mean and the sample standard deviation of its repeats' values.
        public var mean: Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }
        public var standardDeviation: Double? {
            guard let mean, values.count >= 2 else { return nil }
            return (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)).squareRoot()
        }
        /// `0.902 ± 0.008 (n=3)`.
        public var meanText: String {
            guard let mean else { return "no value" }
            return "\(ValidationVerdict.compact(mean)) ± \(ValidationVerdict.compact(standardDeviation ?? 0)) (n=\(values.count))"
        }
        /// The group's name in sentences: `trial 12`, `the baseline`.
        public var name: String { original.map { "trial \($0)" } ?? "the baseline" }
    }

    /// One comparison of the best with another group.
    public struct Comparison: Sendable, Equatable {
        /// The other group's original trial; `nil`: the baseline.
        public var against: TrialID?
        /// Welch's t statistic (positive: the best is ahead), its degrees of freedom, and the
        /// one-sided p-value.
        public var t: Double
        public var degreesOfFreedom: Double
        public var p: Double
        /// Whether the advantage holds: p < ``ValidationPolicy/alpha``.
        public var holds: Bool { p < ValidationPolicy.alpha }
    }

    /// The configurations repeated, best mean first (complete ones before the others), then the
    /// baseline.
    public var groups: [Group]
    /// The best complete configuration by its repeats' mean (its original trial), if any.
    public var best: TrialID?
    /// The comparisons of the best with the runner-up and with the baseline.
    public var comparisons: [Comparison]
    /// Whether every repeat has ended.
    public var isSettled: Bool
    /// Whether the best's advantage holds in every comparison (and there was one to make).
    public var isValidated: Bool
    /// The verdict in one sentence.
    public var summary: String

    /// The group of a configuration's original trial, or of the baseline (`nil`).
    public func group(of original: TrialID?) -> Group? { groups.first { $0.original == original } }

    /// The verdict on the repeats among `trials` (the trials of one stage, with `objective`);
    /// `nil` when none of them is a repeat (nothing was validated).
    public static func judge(_ trials: some Sequence<TrialRecord>, objective: Objective) -> ValidationVerdict? {
        var byOriginal: [TrialID: TrialRecord] = [:]
        var groups: [TrialID?: Group] = [:]
        for trial in trials {
            byOriginal[trial.id] = trial
            guard trial.isRepeat else { continue }
            var group = groups[trial.repeatOf] ?? Group(original: trial.repeatOf)
            group.repeats.append(trial.id)
            if !trial.status.isTerminal {
                group.open += 1
            } else if trial.status == .completed, trial.feasible != false, let value = trial.objective, value.isFinite {
                group.values.append(value)
            } else {
                group.failed.append(trial.id)
            }
            groups[trial.repeatOf] = group
        }
        guard !groups.isEmpty else { return nil }
        for key in groups.keys {
            if let original = key { groups[key]?.firstResult = byOriginal[original]?.objective }
            groups[key]?.repeats.sort()
            groups[key]?.failed.sort()
        }
        let baseline = groups[nil]
        let ranked = groups.values.filter { !$0.isBaseline }.sorted { a, b in
            if a.isComplete != b.isComplete { return a.isComplete }
            guard let x = a.mean, let y = b.mean else { return a.mean != nil || (b.mean == nil && a.original! < b.original!) }
            if x == y { return a.original! < b.original! }
            return objective.isBetter(x, than: y)
        }
        let ordered = ranked + (baseline.map { [$0] } ?? [])
        let open = ordered.reduce(0) { $0 + $1.open }
        let total = ordered.reduce(0) { $0 + $1.repeats.count }
        let complete = ranked.filter(\.isComplete)
        let metric = objective.metric
        var verdict = ValidationVerdict(
            groups: ordered, best: nil, comparisons: [], isSettled: open == 0, isValidated: false, summary: "")
        guard open == 0 else {
            verdict.summary = "validating: \(total - open) of \(total) repeats ended"
            return verdict
        }
        let unusable = ordered.filter { !$0.isComplete }.map { group in
            "\(group.name) cannot be validated: " + (group.failed.isEmpty
                ? "fewer than 2 repeats reported \(metric)"
                : "repeat trial\(group.failed.count == 1 ? "" : "s") \(group.failed.map(String.init).joined(separator: ", ")) ended without a feasible \(metric)")
        }
        guard let best = complete.first else {
            verdict.summary = "nothing validated: " + (unusable.isEmpty ? "no configuration was repeated" : unusable.joined(separator: "; "))
            return verdict
        }
        verdict.best = best.original
        var others = complete.dropFirst().prefix(1).map { $0 }
        if let baseline, baseline.isComplete { others.append(baseline) }
        var clauses: [String] = []
        for other in others {
            let comparison = welch(best, other, direction: objective.direction)
            verdict.comparisons.append(comparison)
            clauses.append("\(other.name)'s \(other.meanText) (Welch one-sided p = \(compact(comparison.p)) \(comparison.holds ? "<" : ">=") \(ValidationPolicy.alpha))")
        }
        // The baseline must be beaten when there is one: a baseline whose repeats failed leaves the best unvalidated.
        let baselineMissing = baseline.map { !$0.isComplete } ?? false
        verdict.isValidated = !verdict.comparisons.isEmpty && verdict.comparisons.allSatisfy(\.holds) && !baselineMissing
        let head = "\(best.name) \(verdict.isValidated ? "validated" : "not validated"): \(metric) \(best.meanText) over its repeats"
        let against = clauses.isEmpty ? " has nothing to be compared with" : (verdict.isValidated ? " beats " : " vs ") + clauses.joined(separator: " and ")
        verdict.summary = head + against + (unusable.isEmpty ? "" : "; " + unusable.joined(separator: "; "))
        return verdict
    }

    /// Welch's t-test of `best` against `other`, one-sided in the objective's direction.
    static func welch(_ best: Group, _ other: Group, direction: Objective.Direction) -> Comparison {
        let (m1, m2) = (best.mean!, other.mean!)
        let (v1, v2) = (best.standardDeviation! * best.standardDeviation!, other.standardDeviation! * other.standardDeviation!)
        let (n1, n2) = (Double(best.values.count), Double(other.values.count))
        let difference = direction == .maximize ? m1 - m2 : m2 - m1
        let (a, b) = (v1 / n1, v2 / n2)
        let squaredError = a + b
        guard squaredError > 0 else {
            // No spread at all: the advantage holds exactly when there is one.
            return Comparison(against: other.original, t: difference > 0 ? .infinity : 0, degreesOfFreedom: n1 + n2 - 2, p: difference > 0 ? 0 : 1)
        }
        let t = difference / squaredError.squareRoot()
        let df = squaredError * squaredError / (a * a / (n1 - 1) + b * b / (n2 - 1))
        return Comparison(against: other.original, t: t, degreesOfFreedom: df, p: StudentT.upperTail(t, degreesOfFreedom: df))
    }

    /// A number to 3 significant digits, for sentences (`0.902`, `0.0100`, `12346`, `1.23e-05`).
    public static func compact(_ value: Double) -> String {
        guard value.isFinite, value != 0 else { return value == 0 ? "0" : "\(value)" }
        let magnitude = Swift.abs(value)
        if magnitude >= 100, magnitude < 1e15 { return String(Int(value.rounded())) }
        var scale = 1.0
        var digits = 0
        // Digits after the point until 3 significant ones show (counted after rounding, so
        // 0.0099999 is 0.0100, not 0.01000).
        while (magnitude * scale).rounded() < 100, digits < 12 {
            scale *= 10
            digits += 1
        }
        if digits >= 12 { return "\(value)" }
        // Printed as an integer count of the last digit: no binary noise.
        let units = Int((value * scale).rounded())
        let sign = units < 0 ? "-" : ""
        var text = String(Swift.abs(units))
        while text.count <= digits { text = "0" + text }
        let split = text.index(text.endIndex, offsetBy: -digits)
        return digits == 0 ? sign + text : sign + String(text[..<split]) + "." + String(text[split...])
    }
}

/// Student's t distribution, from `+ - * /` and ``DeterministicMath`` (the same bits everywhere).
enum StudentT {
    /// P(T > t) for `degreesOfFreedom` > 0.
    static func upperTail(_ t: Double, degreesOfFreedom df: Double) -> Double {
        if t.isNaN { return 1 }
        if t == .infinity { return 0 }
        if t == -.infinity { return 1 }
        let x = df / (df + t * t)
        let tail = 0.5 * regularizedBeta(x, a: df / 2, b: 0.5)
        return t > 0 ? tail : 1 - tail
    }

    /// The regularized incomplete beta function I_x(a, b) (Numerical Recipes' continued fraction,
    /// modified Lentz).
    static func regularizedBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let front = DeterministicMath.exp(
            logGamma(a + b) - logGamma(a) - logGamma(b) + a * DeterministicMath.log(x) + b * DeterministicMath.log(1 - x))
        if x < (a + 1) / (a + b + 2) { return front * continuedFraction(x, a: a, b: b) / a }
        return 1 - front * continuedFraction(1 - x, a: b, b: a) / b
    }

    static func continuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if Swift.abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for iteration in 1...300 {
            let m = Double(iteration)
            let even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + even * d
            if Swift.abs(d) < tiny { d = tiny }
            c = 1 + even / c
            if Swift.abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            let odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + odd * d
            if Swift.abs(d) < tiny { d = tiny }
            c = 1 + odd / c
            if Swift.abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            h *= step
            if Swift.abs(step - 1) < 1e-15 { break }
        }
        return h
    }

    /// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error below 1e-13).
    static func logGamma(_ x: Double) -> Double {
        let coefficients = [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ]
        if x < 0.5 {
            // Γ(x) = Γ(x + 1) / x (the callers' arguments are halves of positive degrees of freedom).
            return logGamma(x + 1) - DeterministicMath.log(x)
        }
        let z = x - 1
        var sum = coefficients[0]
        for index in 1..<9 { sum += coefficients[index] / (z + Double(index)) }
        let t = z + 7.5
        return 0.5 * DeterministicMath.log(2 * Double.pi) + (z + 0.5) * DeterministicMath.log(t) - t + DeterministicMath.log(sum)
    }
}
