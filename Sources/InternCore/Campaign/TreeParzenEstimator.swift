/// What a Bayesian sampler knows of the trials so far: finished ones with their objective, and
/// ones drawn but not finished (running or waiting), whose parameters it must not simply repeat.
public struct SearchHistory: Sendable, Equatable {
    /// Trials that completed with an objective value.
    public var finished: [(parameters: Parameters, objective: Double)]
    /// Trials drawn and not yet finished (running or pending).
    public var pending: [Parameters]

    public init(finished: [(parameters: Parameters, objective: Double)] = [], pending: [Parameters] = []) {
        self.finished = finished
        self.pending = pending
    }

    public static func == (lhs: SearchHistory, rhs: SearchHistory) -> Bool {
        lhs.pending == rhs.pending && lhs.finished.count == rhs.finished.count
            && zip(lhs.finished, rhs.finished).allSatisfy { $0.parameters == $1.parameters && $0.objective == $1.objective }
    }
}

/// The Tree-structured Parzen Estimator (Bergstra et al. 2011, as in Hyperopt and Optuna's
/// default sampler), one parameter at a time.
///
/// Finished trials are split by objective: the best `γ(n) = min(⌈0.1 n⌉, 25)` are "good", the rest
/// "bad". Each group's values of a parameter make a Parzen estimator (a Gaussian per value, in log
/// space for log-scaled domains, plus a flat prior over the whole range; for a choice, counts plus
/// a prior); 24 candidates are drawn from the good estimator and the one with the largest
/// `good(x) / bad(x)` wins. Until `startup` trials have finished, draws are random (the random
/// sampler's, so the start of a campaign is the same as with `sampler: random`).
///
/// Parallel-aware: trials drawn but not finished count as bad ("constant liar" with the worst
/// value), so workers asking at once are not all sent to the same spot.
///
/// Pure and deterministic: a suggestion is a function of (seed, trial index, history), computed
/// with IEEE-754 arithmetic only (``DeterministicMath``), so a resumed campaign draws as the
/// original would have given the same history.
public struct TreeParzenEstimator: Sendable, Hashable {
    public let space: ParameterSpace
    public let seed: UInt64
    public let direction: Objective.Direction
    /// Finished trials before the estimator is used (random draws until then).
    public let startup: Int
    /// Candidates drawn from the good estimator per parameter.
    public let candidates = 24
    /// Weight of the flat prior, as if it were one more observation.
    public let priorWeight = 1.0

    public init(space: ParameterSpace, seed: UInt64, direction: Objective.Direction, startup: Int = 10) {
        self.space = space
        self.seed = seed
        self.direction = direction
        self.startup = max(1, startup)
    }

    /// How many of `n` finished trials are "good".
    public static func goodCount(_ n: Int) -> Int {
        min((n + 9) / 10, 25)
    }

    /// The parameters of trial `index` (0-based).
    public func suggest(index: Int, history: SearchHistory) -> Parameters {
        let fallback = try! Sampler(space: space, kind: .random(seed: seed))
        guard history.finished.count >= startup else { return fallback.parameters(forTrial: index) }
        // Best first; ties keep the order trials finished in.
        let ordered = history.finished.enumerated().sorted { a, b in
            let (x, y) = (a.element.objective, b.element.objective)
            if x != y { return direction == .minimize ? x < y : x > y }
            return a.offset < b.offset
        }.map(\.element.parameters)
        let split = Self.goodCount(ordered.count)
        let good = Array(ordered.prefix(split))
        let bad = Array(ordered.dropFirst(split)) + history.pending
        let trialKey = CampaignRandom.mix(CampaignRandom.mix(seed ^ 0x3C6E_F372_FE94_F82B) &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        var values: [String: ParameterValue] = [:]
        for parameter in space.parameters {
            var random = CampaignRandom(state: CampaignRandom.mix(trialKey ^ CampaignRandom.fnv1a(parameter.name)))
            let goodValues = good.compactMap { $0[parameter.name] }
            let badValues = bad.compactMap { $0[parameter.name] }
            values[parameter.name] = choose(parameter.domain, good: goodValues, bad: badValues, random: &random)
        }
        return Parameters(values)
    }

    private func choose(_ domain: Parameter.Domain, good: [ParameterValue], bad: [ParameterValue], random: inout CampaignRandom) -> ParameterValue {
        switch domain {
        case .choice(let options):
            let goodWeights = categoricalWeights(options, good)
            let badWeights = categoricalWeights(options, bad)
            var best = 0, bestScore = -Double.infinity
            for _ in 0..<candidates {
                let index = random.pick(goodWeights)
                let score = DeterministicMath.log(goodWeights[index]) - DeterministicMath.log(badWeights[index])
                if score > bestScore { (best, bestScore) = (index, score) }
            }
            return options[best]
        case .uniform(let low, let high):
            let x = chooseContinuous(low: low, high: high, good: good.compactMap(\.number), bad: bad.compactMap(\.number), random: &random)
            return .double(Swift.max(low, Swift.min(x, high.nextDown)))
        case .logUniform(let low, let high):
            let x = chooseContinuous(
                low: DeterministicMath.log(low), high: DeterministicMath.log(high),
                good: good.compactMap(\.number).filter { $0 > 0 }.map(DeterministicMath.log),
                bad: bad.compactMap(\.number).filter { $0 > 0 }.map(DeterministicMath.log), random: &random)
            return .double(Swift.max(low, Swift.min(DeterministicMath.exp(x), high.nextDown)))
        case .integer(let low, let high, let step, let log):
            let count = domain.gridCount!
            // Continuous over [low - 0.5, high + 0.5] (in log space for log), rounded to a step.
            let transform: (Double) -> Double = log ? { DeterministicMath.log($0) } : { $0 }
            let x = chooseContinuous(
                low: transform(Double(low) - 0.5), high: transform(Double(high) + 0.5),
                good: good.compactMap(\.number).filter { !log || $0 > 0 }.map(transform),
                bad: bad.compactMap(\.number).filter { !log || $0 > 0 }.map(transform), random: &random)
            let value = log ? DeterministicMath.exp(x) : x
            let k = ((value - Double(low)) / Double(step)).rounded()
            let index = k <= 0 ? 0 : (k >= Double(count - 1) ? count - 1 : Int(k))
            return .int(low + index * step)
        }
    }

    /// Each option's probability under a group: its count plus a share of the prior, normalised.
    private func categoricalWeights(_ options: [ParameterValue], _ values: [ParameterValue]) -> [Double] {
        var weights = [Double](repeating: priorWeight / Double(options.count), count: options.count)
        for value in values {
            if let index = options.firstIndex(of: value) { weights[index] += 1 }
        }
        let total = weights.reduce(0, +)
        return weights.map { $0 / total }
    }

    /// Draws candidates from the good group's estimator over `[low, high]` and returns the one
    /// whose good/bad density ratio is largest.
    private func chooseContinuous(low: Double, high: Double, good: [Double], bad: [Double], random: inout CampaignRandom) -> Double {
        let goodEstimator = ParzenEstimator(observations: good, low: low, high: high, priorWeight: priorWeight)
        let badEstimator = ParzenEstimator(observations: bad, low: low, high: high, priorWeight: priorWeight)
        var best = goodEstimator.sample(&random), bestScore = -Double.infinity
        for _ in 0..<candidates {
            let x = goodEstimator.sample(&random)
            let score = goodEstimator.logDensity(x) - badEstimator.logDensity(x)
            if score > bestScore { (best, bestScore) = (x, score) }
        }
        return best
    }
}

/// A mixture of Gaussians truncated to `[low, high]`: one at each observation, and a wide one at
/// the middle standing for the flat prior. Bandwidths as in Hyperopt: each point's is the larger
/// gap to its neighbours, clipped to `[(high - low) / min(100, n + 1), high - low]`.
struct ParzenEstimator {
    var means: [Double] = []
    var sigmas: [Double] = []
    var weights: [Double] = []
    let low: Double
    let high: Double

    init(observations: [Double], low: Double, high: Double, priorWeight: Double) {
        self.low = low
        self.high = high
        let width = Swift.max(high - low, 1e-12)
        let prior = (low + high) / 2
        var points = observations.map { Swift.max(low, Swift.min($0, high)) }
        points.append(prior)
        let order = points.indices.sorted { points[$0] < points[$1] }
        let sorted = order.map { points[$0] }
        let minimum = width / Double(Swift.min(100, observations.count + 1))
        var sortedSigmas = [Double](repeating: width, count: sorted.count)
        for i in sorted.indices {
            let left = i > 0 ? sorted[i] - sorted[i - 1] : sorted[i] - low
            let right = i + 1 < sorted.count ? sorted[i + 1] - sorted[i] : high - sorted[i]
            sortedSigmas[i] = Swift.min(width, Swift.max(minimum, Swift.max(left, right)))
        }
        for (position, original) in order.enumerated() {
            means.append(sorted[position])
            let isPrior = original == points.count - 1
            sigmas.append(isPrior ? width : sortedSigmas[position])
            weights.append(isPrior ? priorWeight : 1)
        }
        let total = weights.reduce(0, +)
        weights = weights.map { $0 / total }
    }

    /// A draw: a component by weight, then a normal draw from it, redrawn until inside the range
    /// (clamped after 16 tries: a component far outside the range is rare by construction).
    func sample(_ random: inout CampaignRandom) -> Double {
        let component = random.pick(weights)
        for _ in 0..<16 {
            let x = means[component] + sigmas[component] * random.normal()
            if x >= low, x <= high { return x }
        }
        return Swift.max(low, Swift.min(means[component], high))
    }

    /// log of the mixture's density at `x` (each component renormalised to the range).
    func logDensity(_ x: Double) -> Double {
        var total = 0.0
        for i in means.indices {
            let z = (x - means[i]) / sigmas[i]
            let mass = GaussianMath.cdf((high - means[i]) / sigmas[i]) - GaussianMath.cdf((low - means[i]) / sigmas[i])
            total += weights[i] * DeterministicMath.exp(-0.5 * z * z) / (sigmas[i] * GaussianMath.sqrt2Pi * Swift.max(mass, 1e-12))
        }
        return DeterministicMath.log(Swift.max(total, 1e-300))
    }
}

/// The standard normal's CDF from `+ - * /` and ``DeterministicMath/exp(_:)`` (Abramowitz and
/// Stegun 7.1.26 for erf, absolute error below 1.5e-7: plenty to compare densities).
enum GaussianMath {
    static let sqrt2Pi = 2.5066282746310002

    static func cdf(_ z: Double) -> Double {
        0.5 * (1 + erf(z / 1.4142135623730951))
    }

    static func erf(_ x: Double) -> Double {
        let sign: Double = x < 0 ? -1 : 1
        let a = Swift.abs(x)
        let t = 1 / (1 + 0.3275911 * a)
        let poly = ((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592
        return sign * (1 - poly * t * DeterministicMath.exp(-a * a))
    }
}

extension CampaignRandom {
    /// An index drawn with the given probabilities (which sum to 1).
    mutating func pick(_ weights: [Double]) -> Int {
        var u = unit()
        for (index, weight) in weights.enumerated() {
            if u < weight { return index }
            u -= weight
        }
        return weights.count - 1
    }

    /// A standard normal draw (Marsaglia's polar method: `log` and `sqrt` only, both exact or
    /// deterministic).
    mutating func normal() -> Double {
        while true {
            let u = 2 * unit() - 1, v = 2 * unit() - 1
            let s = u * u + v * v
            if s > 0, s < 1 { return u * (-2 * DeterministicMath.log(s) / s).squareRoot() }
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
