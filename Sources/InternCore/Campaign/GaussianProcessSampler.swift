/// A Gaussian-process sampler (Bayesian optimisation with expected improvement), for small
/// spaces of mostly numeric parameters and budgets of tens to a few hundred trials, where it
/// usually needs fewer trials than TPE to get close to the optimum.
///
/// - Model: a Matérn-5/2 kernel with one length scale per parameter, over the unit cube (numeric
///   parameters as on ``SearchAxis``, log scale for log domains); a choice adds 1/ℓ² to the squared
///   distance when the options differ. Objectives are standardised. The length scales, the signal
///   and the noise variance maximise the marginal likelihood times log-normal priors (length
///   scales centred on `√d`, growing with the dimension as in Hvarfner et al. 2024; noise centred
///   on 1e-4 of the variance, wide enough for a noisy objective to raise it), by 60 steps of Adam
///   from a fixed start.
/// - What it learns from: completed feasible trials by their objective; pruned and infeasible
///   trials, and trials in flight (the constant liar), as the worst objective seen. At most
///   ``maxObservations`` trials: beyond that, the best half and an even spread of the rest.
/// - Acquisition: log expected improvement, maximised over random points, perturbations of the best
///   trials and a local search from the most promising.
///
/// Until `startup` trials have been started, or while no trial has completed, draws are the random
/// sampler's. Like the TPE, a suggestion is a pure function of (seed, trial index, history) in
/// IEEE-754 arithmetic (``DeterministicMath``). A draw costs O(n³) in the observations kept:
/// milliseconds at 50 trials, about a tenth of a second at the cap.
public struct GaussianProcessSampler: Sendable, Hashable {
    public let space: ParameterSpace
    public let seed: UInt64
    public let direction: Objective.Direction
    /// Trials started before the model is used (random draws until then).
    public let startup: Int
    /// The most trials the model is fitted to.
    public static let maxObservations = 128

    private let axes: [SearchAxis]

    public init(space: ParameterSpace, seed: UInt64, direction: Objective.Direction, startup: Int = 10) {
        self.space = space
        self.seed = seed
        self.direction = direction
        self.startup = max(1, startup)
        self.axes = space.parameters.map { SearchAxis($0.domain) }
    }

    /// The parameters of trial `index` (0-based).
    public func suggest(index: Int, history: SearchHistory) -> Parameters {
        guard index >= startup, !history.completed.isEmpty, !axes.isEmpty else {
            return Sampler.randomValues(space, seed: seed, index: index)
        }
        var random = CampaignRandom(state: CampaignRandom.mix(CampaignRandom.mix(seed ^ 0x510E_527F_ADE6_82D1) &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15))
        let (points, targets) = observations(history)
        let model = GaussianProcess(points: points, targets: targets, categorical: axes.map(\.isCategorical))
        let best = search(model, points: points, targets: targets, random: &random)
        var values: [String: ParameterValue] = [:]
        for (position, parameter) in space.parameters.enumerated() {
            values[parameter.name] = axes[position].value(best[position])
        }
        return Parameters(values)
    }

    /// The points the model learns from (on the axes; a parameter a trial does not have sits at
    /// the middle, or is an option of its own) and their objectives, smaller is better.
    private func observations(_ history: SearchHistory) -> (points: [[Double]], targets: [Double]) {
        let worst = history.completed.last!.primary
        var entries: [(point: [Double], target: Double)] = history.completed.map { ($0.point, $0.primary) }
        for entry in history.pruned + history.infeasible { entries.append((entry.point, worst)) }
        let limit = Self.maxObservations - Swift.min(history.pending.count, Self.maxObservations / 4)
        if entries.count > limit {
            let kept = limit / 2
            let rest = entries.count - kept
            let spread = (0..<(limit - kept)).map { entries[kept + $0 * rest / (limit - kept)] }
            entries = Array(entries.prefix(kept)) + spread
        }
        for point in history.pending.prefix(Self.maxObservations - entries.count) { entries.append((point, worst)) }
        let points = entries.map { entry in
            entry.point.enumerated().map { position, value in
                value.isNaN ? (axes[position].isCategorical ? -1 : 0.5) : axes[position].unit(value)
            }
        }
        return (points, entries.map(\.target))
    }

    /// The point with the largest expected improvement found: random points and perturbations of
    /// the best trials, then a local search from the four best of those.
    private func search(_ model: GaussianProcess, points: [[Double]], targets: [Double], random: inout CampaignRandom) -> [Double] {
        let dims = axes.count
        func randomPoint() -> [Double] {
            axes.map { $0.isCategorical ? Double(random.below(UInt64($0.options))) : random.unit() }
        }
        func perturbed(_ point: [Double], _ scale: Double) -> [Double] {
            var result = point
            for d in 0..<dims {
                if axes[d].isCategorical {
                    if random.unit() < 0.2 || result[d] < 0 { result[d] = Double(random.below(UInt64(axes[d].options))) }
                } else {
                    result[d] = Swift.max(0, Swift.min(1, (result[d] < 0 ? 0.5 : result[d]) + scale * random.normal()))
                }
            }
            return result
        }
        var candidates = (0..<512).map { _ in randomPoint() }
        let order = targets.indices.sorted { (targets[$0], $0) < (targets[$1], $1) }
        for i in order.prefix(8) {
            for k in 0..<32 { candidates.append(perturbed(points[i], k < 16 ? 0.02 : 0.1)) }
        }
        var scored = candidates.map { (point: $0, score: model.logExpectedImprovement($0)) }
        scored.sort { $0.score > $1.score }
        var best = scored[0]
        for start in scored.prefix(4) {
            var current = start
            var scale = 0.05
            for _ in 0..<24 {
                let next = perturbed(current.point, scale)
                let score = model.logExpectedImprovement(next)
                if score > current.score { current = (next, score) } else { scale = Swift.max(scale * 0.7, 1e-4) }
            }
            if current.score > best.score { best = current }
        }
        return best.point
    }
}

/// A Gaussian process regression fitted to points on the sampler's axes (see
/// ``GaussianProcessSampler``): the posterior's mean and variance, and log expected improvement.
struct GaussianProcess {
    let points: [[Double]]
    let categorical: [Bool]
    /// Hyperparameters: log length scale per axis, log signal variance, log noise variance.
    private(set) var logScales: [Double]
    private(set) var logSignal = 0.0
    private(set) var logNoise = -9.0
    /// From the hyperparameters, for the kernel: 1/ℓ² per axis and the signal variance.
    private var inverseSquaredScales: [Double] = []
    private var signal = 1.0
    /// Standardised targets, their best (smallest), K⁻¹y and the Cholesky factor of K.
    private var targets: [Double] = []
    private var best = 0.0
    private var alpha: [Double] = []
    private var factor: [Double] = []

    init(points: [[Double]], targets raw: [Double], categorical: [Bool]) {
        self.points = points
        self.categorical = categorical
        let n = Double(raw.count)
        let mean = raw.reduce(0, +) / n
        let variance = raw.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
        let sd = variance > 1e-300 ? variance.squareRoot() : 1
        targets = raw.map { ($0 - mean) / sd }
        best = targets.min() ?? 0
        let dims = categorical.count
        let priorMean = 0.5 * DeterministicMath.log(Double(Swift.max(dims, 1)))
        logScales = [Double](repeating: priorMean, count: dims)
        fit(priorMean: priorMean)
        while !decompose(), logNoise < 0 { logNoise += 2 }  // a nearly singular K: more noise
    }

    /// Maximises log marginal likelihood + log prior over the hyperparameters with Adam.
    private mutating func fit(priorMean: Double) {
        let dims = categorical.count, n = points.count
        let count = dims + 2
        var moment = [Double](repeating: 0, count: count), second = [Double](repeating: 0, count: count)
        let rate = 0.1, beta1 = 0.9, beta2 = 0.999
        var power1 = 1.0, power2 = 1.0
        // Pairwise per-axis squared differences, fixed through the fit.
        var differences = [Double](repeating: 0, count: n * n * dims)
        for i in 0..<n {
            for j in 0..<n {
                for d in 0..<dims {
                    let delta = categorical[d] ? (points[i][d] == points[j][d] ? 0 : 1) : points[i][d] - points[j][d]
                    differences[(i * n + j) * dims + d] = delta * delta
                }
            }
        }
        for _ in 0..<60 {
            guard decompose(), let inverse = Self.inverse(factor, n) else { break }
            var gradient = [Double](repeating: 0, count: count)
            let noise = DeterministicMath.exp(logNoise)
            for i in 0..<n {
                for j in 0..<n {
                    let w = alpha[i] * alpha[j] - inverse[i * n + j]
                    var r2 = 0.0
                    let base = (i * n + j) * dims
                    for d in 0..<dims { r2 += differences[base + d] * inverseSquaredScales[d] }
                    let r = r2.squareRoot(), e = DeterministicMath.exp(-2.23606797749979 * r)
                    let k = signal * (1 + 2.23606797749979 * r + 5.0 / 3.0 * r2) * e
                    let common = 0.5 * w * signal * (5.0 / 3.0) * (1 + 2.23606797749979 * r) * e
                    for d in 0..<dims { gradient[d] += common * differences[base + d] * inverseSquaredScales[d] }
                    gradient[dims] += 0.5 * w * k
                    if i == j { gradient[dims + 1] += 0.5 * w * noise }
                }
            }
            // Priors: log ℓ ~ N(½ log d, 3), log σ² ~ N(0, 1), log noise ~ N(-9, 4).
            for d in 0..<dims { gradient[d] -= (logScales[d] - priorMean) / 3 }
            gradient[dims] -= logSignal
            gradient[dims + 1] -= (logNoise + 9) / 4
            power1 *= beta1
            power2 *= beta2
            var parameters = logScales + [logSignal, logNoise]
            for p in 0..<count {
                moment[p] = beta1 * moment[p] + (1 - beta1) * gradient[p]
                second[p] = beta2 * second[p] + (1 - beta2) * gradient[p] * gradient[p]
                let step = rate * (moment[p] / (1 - power1)) / ((second[p] / (1 - power2)).squareRoot() + 1e-8)
                parameters[p] += step  // ascent
            }
            logScales = parameters.prefix(dims).map { Swift.max(-6, Swift.min($0, 6)) }
            logSignal = Swift.max(-6, Swift.min(parameters[dims], 6))
            logNoise = Swift.max(-13.8, Swift.min(parameters[dims + 1], 0))
        }
    }

    /// The kernel between two points (without noise).
    private func kernel(_ a: [Double], _ b: [Double]) -> Double {
        var r2 = 0.0
        for d in 0..<categorical.count {
            let delta = categorical[d] ? (a[d] == b[d] ? 0 : 1) : a[d] - b[d]
            r2 += delta * delta * inverseSquaredScales[d]
        }
        let r = r2.squareRoot()
        return signal * (1 + 2.23606797749979 * r + 5.0 / 3.0 * r2) * DeterministicMath.exp(-2.23606797749979 * r)
    }

    /// Factors K (with noise) and solves for K⁻¹y; false when K is not positive definite.
    private mutating func decompose() -> Bool {
        inverseSquaredScales = logScales.map { DeterministicMath.exp(-2 * $0) }
        signal = DeterministicMath.exp(logSignal)
        let n = points.count
        var matrix = [Double](repeating: 0, count: n * n)
        let noise = DeterministicMath.exp(logNoise) + 1e-8
        for i in 0..<n {
            for j in 0...i {
                let k = kernel(points[i], points[j])
                matrix[i * n + j] = k
                matrix[j * n + i] = k
            }
            matrix[i * n + i] += noise
        }
        guard let lower = Self.cholesky(matrix, n) else { return false }
        factor = lower
        alpha = Self.solveUpper(lower, n, Self.solveLower(lower, n, targets))
        return true
    }

    /// log expected improvement below the best target at `point`.
    func logExpectedImprovement(_ point: [Double]) -> Double {
        let n = points.count
        let crossed = points.map { kernel($0, point) }
        var mean = 0.0
        for i in 0..<n { mean += crossed[i] * alpha[i] }
        let v = Self.solveLower(factor, n, crossed)
        var variance = signal - v.reduce(0) { $0 + $1 * $1 }
        variance = Swift.max(variance, 1e-12)
        let sigma = variance.squareRoot()
        return DeterministicMath.log(sigma) + Self.logScaledImprovement((best - mean) / sigma)
    }

    /// log(z Φ(z) + φ(z)): the expected improvement over σ, accurate far in the lower tail.
    static func logScaledImprovement(_ z: Double) -> Double {
        let logDensity = -0.5 * z * z - 0.9189385332046728
        if z > -2 {
            return DeterministicMath.log(Swift.max(z * GaussianMath.cdf(z) + DeterministicMath.exp(logDensity), 1e-300))
        }
        // z Φ(z) + φ(z) = φ(t) (1 − t R(t)) with t = −z and R Mills' ratio (a continued fraction);
        // far out, the asymptotic series of 1 − t R(t).
        let t = -z
        let rest: Double
        if t > 8 {
            let u = 1 / (t * t)
            rest = u * (1 - u * (3 - u * (15 - u * 105)))
        } else {
            var f = t
            for k in stride(from: 60, through: 1, by: -1) { f = t + Double(k) / f }
            rest = 1 - t / f
        }
        return logDensity + DeterministicMath.log(Swift.max(rest, 1e-300))
    }

    // MARK: - Linear algebra (row-major n × n)

    static func cholesky(_ a: [Double], _ n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var sum = a[i * n + j]
                for k in 0..<j { sum -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard sum > 0 else { return nil }
                    l[i * n + i] = sum.squareRoot()
                } else {
                    l[i * n + j] = sum / l[j * n + j]
                }
            }
        }
        return l
    }

    static func solveLower(_ l: [Double], _ n: Int, _ b: [Double]) -> [Double] {
        var x = b
        for i in 0..<n {
            var sum = x[i]
            for k in 0..<i { sum -= l[i * n + k] * x[k] }
            x[i] = sum / l[i * n + i]
        }
        return x
    }

    static func solveUpper(_ l: [Double], _ n: Int, _ b: [Double]) -> [Double] {
        var x = b
        for i in stride(from: n - 1, through: 0, by: -1) {
            var sum = x[i]
            for k in (i + 1)..<n { sum -= l[k * n + i] * x[k] }
            x[i] = sum / l[i * n + i]
        }
        return x
    }

    /// K⁻¹ from its Cholesky factor.
    static func inverse(_ l: [Double], _ n: Int) -> [Double]? {
        var result = [Double](repeating: 0, count: n * n)
        for column in 0..<n {
            var e = [Double](repeating: 0, count: n)
            e[column] = 1
            let x = solveUpper(l, n, solveLower(l, n, e))
            for row in 0..<n { result[row * n + column] = x[row] }
        }
        return result
    }
}

