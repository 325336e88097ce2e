/// One parameter as a Bayesian sampler sees it: a numeric parameter as the unit interval (its
/// range in the history's encoding, log scale for log domains, an int range widened by half a step
/// on each side so every step has the same width), a choice as the index of an option.
struct SearchAxis: Sendable, Hashable {
    let domain: Parameter.Domain
    /// The range in the history's encoding (numeric axes).
    let low: Double
    let high: Double
    /// The number of options (a choice), 0 for a numeric axis.
    let options: Int

    init(_ domain: Parameter.Domain) {
        self.domain = domain
        switch domain {
        case .choice(let values):
            (low, high, options) = (0, 0, values.count)
        case .uniform(let low, let high):
            (self.low, self.high, options) = (low, high, 0)
        case .logUniform(let low, let high):
            (self.low, self.high, options) = (DeterministicMath.log(low), DeterministicMath.log(high), 0)
        case .integer(let low, let high, let step, let log):
            if log {
                (self.low, self.high) = (DeterministicMath.log(Double(low) - 0.5), DeterministicMath.log(Double(high) + 0.5))
            } else {
                (self.low, self.high) = (Double(low) - 0.5 * Double(step), Double(high) + 0.5 * Double(step))
            }
            options = 0
        }
    }

    var isCategorical: Bool { options > 0 }

    /// An encoded value on the axis: in `[0, 1]` for a numeric axis, the option's index for a choice.
    func unit(_ encoded: Double) -> Double {
        guard !isCategorical else { return encoded }
        let u = (encoded - low) / Swift.max(high - low, 1e-300)
        return Swift.max(0, Swift.min(u, 1))
    }

    /// The parameter value at `u` on the axis (numeric: clamped into the domain and rounded to a step).
    func value(_ u: Double) -> ParameterValue {
        switch domain {
        case .choice(let values):
            return values[Swift.max(0, Swift.min(Int(u), values.count - 1))]
        case .uniform(let low, let high):
            return .double(Swift.max(low, Swift.min(self.low + u * (self.high - self.low), high.nextDown)))
        case .logUniform(let low, let high):
            return .double(Swift.max(low, Swift.min(DeterministicMath.exp(self.low + u * (self.high - self.low)), high.nextDown)))
        case .integer(let low, _, let step, let log):
            let x = self.low + u * (self.high - self.low)
            let value = log ? DeterministicMath.exp(x) : x
            let count = domain.gridCount!
            let k = ((value - Double(low)) / Double(step)).rounded()
            let index = k <= 0 ? 0 : (k >= Double(count - 1) ? count - 1 : Int(k))
            return .int(low + index * step)
        }
    }
}

/// A Parzen estimator over several axes at once (the multivariate TPE's, as in Optuna and the
/// BOHB paper): a mixture with one component per observation, each a product over the axes of a
/// Gaussian truncated to `[0, 1]` (numeric) or a categorical kernel (choice), plus a prior
/// component: a Gaussian as wide as the range at its middle, and every option alike.
///
/// - Numeric bandwidths as in Hyperopt and Optuna: on each axis, the larger gap to an observation's
///   neighbours (the outermost use their inner gap), clipped to `[1 / min(100, n + 2), 1]` (`n`
///   the observations, or the `floorCount` given).
/// - A choice's kernel (Optuna's): the observed option gets `1 + w/k`, every option `w/k`
///   (`w` the prior weight, `k = n + 1`), normalised; with a few good trials this keeps real
///   mass on the other options, so one lucky option does not lock the search.
/// - Every observation weighs 1, the prior `priorWeight`.
///
/// A density at 10,000 observations is fast: components are sorted along the first numeric axis
/// and only blocks of them within 6 σ of the point on that axis are visited, each with one `exp`.
struct ParzenMixture {
    let categorical: [Int]          // per axis: option count, 0 for numeric
    let dims: Int
    let count: Int                  // observation components
    private var centers: [Double]   // count × dims, components sorted along `lead`
    private var sigmas: [Double]    // count × dims (numeric axes)
    private var logScales: [Double] // per component: log weight − Σ numeric log(σ √(2π) mass)
    private var weights: [Double]   // per component (then the prior's, last), summing to 1
    private var logObserved: [Double] // per categorical axis: log p of the observed option
    private var logOther: [Double]    // per categorical axis: log p of any other
    private var priorLogScale = 0.0
    private var lead: Int?
    /// Per block of ``blockSize`` consecutive components: the span of the lead axis within 6 σ of
    /// one of them, so a density visits only the blocks that reach the point.
    private var blockLow: [Double] = []
    private var blockHigh: [Double] = []
    static let blockSize = 32

    /// `columns[axis][observation]`: unit values (numeric) or option indices (choice).
    /// `floorCount` sets the bandwidths' floor in place of the number of observations.
    init(columns: [[Double]], categorical: [Int], priorWeight: Double, floorCount: Int? = nil) {
        self.categorical = categorical
        dims = categorical.count
        var columns = columns
        let observations = columns.first?.count ?? 0
        lead = categorical.firstIndex(of: 0)
        // Without a numeric axis, equal observations make one component (weighted by their number).
        var multiplicity = [Double](repeating: 1, count: observations)
        if lead == nil, observations > 0 {
            var counts: [[Double]: Double] = [:]
            for i in 0..<observations { counts[columns.map { $0[i] }, default: 0] += 1 }
            let distinct = counts.keys.sorted { $0.lexicographicallyPrecedes($1) }
            columns = (0..<dims).map { d in distinct.map { $0[d] } }
            multiplicity = distinct.map { counts[$0]! }
        }
        count = columns.first?.count ?? 0
        let n = count
        // Component order: along the lead axis.
        var order = Array(0..<n)
        if let lead { order = Self.sortedIndices(columns[lead]) }
        centers = [Double](repeating: 0, count: n * dims)
        sigmas = [Double](repeating: 1, count: n * dims)
        let total = Double(observations) + priorWeight
        weights = order.map { multiplicity[$0] / total } + [priorWeight / total]
        logScales = weights.dropLast().map { DeterministicMath.log($0) }
        logObserved = [Double](repeating: 0, count: dims)
        logOther = [Double](repeating: 0, count: dims)
        priorLogScale = DeterministicMath.log(priorWeight / total)
        let minimum = 1 / Double(Swift.min(100, (floorCount ?? n) + 2))
        for d in 0..<dims {
            let column = columns[d]
            for (slot, i) in order.enumerated() { centers[slot * dims + d] = column[i] }
            if categorical[d] > 0 {
                let options = Double(categorical[d]), share = priorWeight / Double(observations + 1)
                let norm = 1 + options * share
                logObserved[d] = DeterministicMath.log((1 + share) / norm)
                logOther[d] = DeterministicMath.log(share / norm)
                priorLogScale -= DeterministicMath.log(options)
                continue
            }
            // Bandwidths from the neighbours along this axis.
            let byValue = d == lead ? Array(0..<n) : Self.sortedIndices((0..<n).map { centers[$0 * dims + d] })
            let sorted = byValue.map { centers[$0 * dims + d] }
            for (k, slot) in byValue.enumerated() {
                let left = k > 0 ? sorted[k] - sorted[k - 1] : sorted[k]
                let right = k + 1 < n ? sorted[k + 1] - sorted[k] : 1 - sorted[k]
                var sigma = Swift.max(left, right)
                if n >= 2, k == 0 { sigma = right }
                if n >= 2, k == n - 1 { sigma = left }
                sigma = Swift.min(1, Swift.max(minimum, sigma))
                sigmas[slot * dims + d] = sigma
                logScales[slot] -= DeterministicMath.log(sigma * GaussianMath.sqrt2Pi * Self.mass(sorted[k], sigma))
            }
            priorLogScale -= DeterministicMath.log(GaussianMath.sqrt2Pi * Self.mass(0.5, 1))
        }
        if let lead {
            for start in stride(from: 0, to: n, by: Self.blockSize) {
                var low = Double.infinity, high = -Double.infinity
                for i in start..<Swift.min(start + Self.blockSize, n) {
                    let center = centers[i * dims + lead], reach = 6 * sigmas[i * dims + lead]
                    low = Swift.min(low, center - reach)
                    high = Swift.max(high, center + reach)
                }
                blockLow.append(low)
                blockHigh.append(high)
            }
        }
    }

    /// The indices of `values` in ascending order of value (ties by index).
    static func sortedIndices(_ values: [Double]) -> [Int] {
        var pairs = values.enumerated().map { (value: $0.element, index: $0.offset) }
        pairs.sort { $0.value != $1.value ? $0.value < $1.value : $0.index < $1.index }
        return pairs.map(\.index)
    }

    /// The mass of a Gaussian inside `[0, 1]` (1 when it is 9 σ inside both ends).
    static func mass(_ mean: Double, _ sigma: Double) -> Double {
        let above = (1 - mean) / sigma, below = -mean / sigma
        if above > 9 && below < -9 { return 1 }
        return Swift.max(GaussianMath.cdf(above) - GaussianMath.cdf(below), 1e-12)
    }

    /// A draw: a component by weight, then each axis from that component's kernel.
    func sample(_ random: inout CampaignRandom) -> [Double] {
        let component = random.pick(weights)
        var point = [Double](repeating: 0, count: dims)
        for d in 0..<dims {
            let options = categorical[d]
            if component == count {
                point[d] = options > 0 ? Double(random.below(UInt64(options))) : Self.truncatedNormal(0.5, 1, &random)
            } else if options > 0 {
                let observed = Int(centers[component * dims + d])
                if random.unit() < DeterministicMath.exp(logObserved[d]) || options == 1 {
                    point[d] = Double(observed)
                } else {
                    let other = Int(random.below(UInt64(options - 1)))
                    point[d] = Double(other >= observed ? other + 1 : other)
                }
            } else {
                point[d] = Self.truncatedNormal(centers[component * dims + d], sigmas[component * dims + d], &random)
            }
        }
        return point
    }

    /// A normal draw redrawn until inside `[0, 1]` (clamped after 16 tries).
    static func truncatedNormal(_ mean: Double, _ sigma: Double, _ random: inout CampaignRandom) -> Double {
        for _ in 0..<16 {
            let x = mean + sigma * random.normal()
            if x >= 0, x <= 1 { return x }
        }
        return Swift.max(0, Swift.min(mean, 1))
    }

    /// log of the mixture's density at `point`. Blocks of components none of which is within 6 σ
    /// along the lead axis, and components whose squared distance passes 80 (a factor below
    /// 1e-17), are skipped; the prior, as wide as the range, always counts, so the density is never 0.
    func logDensity(_ point: [Double]) -> Double {
        var priorSquares = 0.0
        for d in 0..<dims where categorical[d] == 0 {
            let z = point[d] - 0.5
            priorSquares += z * z
        }
        var total = DeterministicMath.exp(priorLogScale - 0.5 * priorSquares)
        if let lead {
            let x = point[lead]
            for block in blockLow.indices where blockLow[block] <= x && x <= blockHigh[block] {
                let start = block * Self.blockSize
                total += terms(point, start..<Swift.min(start + Self.blockSize, count))
            }
        } else {
            total += terms(point, 0..<count)
        }
        return DeterministicMath.log(Swift.max(total, 1e-300))
    }

    /// The components' share of the density at `point`, over `components`.
    private func terms(_ point: [Double], _ components: Range<Int>) -> Double {
        var total = 0.0
        for i in components {
            var squares = 0.0, logTerm = logScales[i]
            var d = 0
            let base = i * dims
            while d < dims {
                if categorical[d] > 0 {
                    logTerm += point[d] == centers[base + d] ? logObserved[d] : logOther[d]
                } else {
                    let z = (point[d] - centers[base + d]) / sigmas[base + d]
                    squares += z * z
                    if squares > 80 { break }
                }
                d += 1
            }
            if d == dims { total += DeterministicMath.exp(logTerm - 0.5 * squares) }
        }
        return total
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
