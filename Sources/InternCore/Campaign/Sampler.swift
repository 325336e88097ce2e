/// How trials' parameters are chosen.
///
/// Encodes as `{"type":"grid"}`, `{"type":"random","seed":7}`, `{"type":"tpe","seed":7,"startup":10}`
/// (with `"multivariate":false` for the independent TPE) or `{"type":"gp","seed":7,"startup":10}`.
public enum SamplerKind: Sendable, Hashable, Codable {
    /// Every point of the product of the (discrete) parameters, in index order; trial `i` is grid point `i`.
    case grid
    /// Independent draws: trial `i`'s values are a pure function of `(seed, i, parameter name)`.
    case random(seed: UInt64)
    /// Bayesian: the multivariate Tree-structured Parzen Estimator over the trials finished so far
    /// (random for the first `startup` trials); see ``TreeParzenEstimator``.
    case tpe(seed: UInt64, startup: Int)
    /// The TPE one parameter at a time (`multivariate: false`).
    case independentTPE(seed: UInt64, startup: Int)
    /// Bayesian: a Gaussian process with expected improvement, for small numeric spaces (random
    /// for the first `startup` trials); see ``GaussianProcessSampler``.
    case gp(seed: UInt64, startup: Int)

    /// The name used in specs: `grid`, `random`, `tpe` or `gp`.
    public var typeName: String {
        switch self {
        case .grid: "grid"
        case .random: "random"
        case .tpe, .independentTPE: "tpe"
        case .gp: "gp"
        }
    }

    /// Random trials before a Bayesian sampler learns (`nil`: the sampler does not learn).
    public var startup: Int? {
        switch self {
        case .grid, .random: nil
        case .tpe(_, let startup), .independentTPE(_, let startup), .gp(_, let startup): startup
        }
    }

    /// Whether the sampler learns from the objective (and so needs one).
    public var learnsFromObjective: Bool { startup != nil }

    private enum CodingKeys: String, CodingKey {
        case type, seed, startup, multivariate
    }

    /// Decodes `{"type":"grid"}`, `{"type":"random","seed":N}`, `{"type":"tpe",...}` or
    /// `{"type":"gp",...}` (seed defaults to 0, startup to 10, multivariate to true).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let seed = try container.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0
        switch try container.decode(String.self, forKey: .type) {
        case "grid":
            self = .grid
        case "random":
            self = .random(seed: seed)
        case "tpe":
            let startup = try container.decodeIfPresent(Int.self, forKey: .startup) ?? 10
            let multivariate = try container.decodeIfPresent(Bool.self, forKey: .multivariate) ?? true
            self = multivariate ? .tpe(seed: seed, startup: startup) : .independentTPE(seed: seed, startup: startup)
        case "gp":
            self = .gp(seed: seed, startup: try container.decodeIfPresent(Int.self, forKey: .startup) ?? 10)
        case let other:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: container, debugDescription: "unknown sampler '\(other)'; valid: grid, random, tpe, gp")
        }
    }

    /// Encodes `{"type":...}` with the seed, the startup, and for the independent TPE `"multivariate":false`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(typeName, forKey: .type)
        switch self {
        case .grid:
            break
        case .random(let seed):
            try container.encode(seed, forKey: .seed)
        case .tpe(let seed, let startup), .gp(let seed, let startup):
            try container.encode(seed, forKey: .seed)
            try container.encode(startup, forKey: .startup)
        case .independentTPE(let seed, let startup):
            try container.encode(seed, forKey: .seed)
            try container.encode(startup, forKey: .startup)
            try container.encode(false, forKey: .multivariate)
        }
    }
}

/// Gives each trial index its parameters: a pure function of (space, kind, index) for grid and
/// random, of (space, kind, index, history) for the Bayesian samplers (TPE, GP), which learn from
/// the trials finished so far (``SearchHistory``).
///
/// There is no state of its own: any process, asked for trial `n` of the same space and kind, computes
/// the same grid or random values bit for bit (random draws use only integer hashing and IEEE-754
/// `+ - * /`, no libm and no per-process seeding), so a resumed campaign regenerates each trial exactly,
/// never repeating or skipping one. A Bayesian draw also depends on the history it is given; trials
/// already drawn are stored with their parameters, so a resumed campaign never redraws them.
///
/// - Grid: the index is decoded in mixed radix over the parameters in order, the last parameter varying
///   fastest (like nested loops, or Python's `itertools.product`); each choice in list order, each int range
///   `low, low+step, ...`. Index `i` in `0..<gridSize` gives each grid point exactly once.
/// - Random: each (index, parameter) pair gets its own SplitMix64 stream seeded from a hash of
///   (seed, index, parameter name). Trials are independent of one another, and a parameter's values do not
///   change when other parameters are added, removed or reordered.
public struct Sampler: Sendable, Hashable {
    /// The space sampled.
    public let space: ParameterSpace
    /// How it is sampled.
    public let kind: SamplerKind
    /// The number of distinct trials: the grid size for a grid, `nil` (unbounded) for random.
    public let trialLimit: Int?

    private let radices: [Int]
    private let model: Model?

    /// The Bayesian sampler behind a `tpe` or `gp` kind.
    private enum Model: Sendable, Hashable {
        case tpe(TreeParzenEstimator)
        case gp(GaussianProcessSampler)
    }

    /// Creates a sampler after validating the space for this kind of sampling.
    /// - Throws: the first ``CampaignProblem`` of ``ParameterSpace/problems(for:keyPath:)``, e.g. a grid
    ///   over a continuous parameter.
    /// `direction` is the objective's, which a Bayesian sampler optimises.
    public init(space: ParameterSpace, kind: SamplerKind, direction: Objective.Direction = .minimize) throws(CampaignProblem) {
        if let problem = space.problems(for: kind).first {
            throw problem
        }
        self.space = space
        self.kind = kind
        self.radices = kind == .grid ? space.parameters.map { $0.domain.gridCount ?? 0 } : []
        self.trialLimit = kind == .grid ? space.gridSize : nil
        switch kind {
        case .grid, .random:
            self.model = nil
        case .tpe(let seed, let startup), .independentTPE(let seed, let startup):
            let multivariate = if case .tpe = kind { true } else { false }
            self.model = .tpe(TreeParzenEstimator(space: space, seed: seed, direction: direction, startup: startup, multivariate: multivariate))
        case .gp(let seed, let startup):
            self.model = .gp(GaussianProcessSampler(space: space, seed: seed, direction: direction, startup: startup))
        }
    }

    /// Creates the sampler of a spec: its space, its sampler kind and its objective's direction.
    public init(spec: CampaignSpec) throws(CampaignProblem) {
        try self.init(space: spec.space, kind: spec.sampler, direction: spec.objective?.direction ?? .minimize)
    }

    /// Whether suggestions depend on the trials so far (``parameters(forTrial:history:)``).
    public var usesHistory: Bool { model != nil }

    /// The parameters of trial `index` (0-based) given what is known so far: the Bayesian sampler
    /// uses `history`; grid and random ignore it.
    public func parameters(forTrial index: Int, history: SearchHistory) -> Parameters {
        switch model {
        case nil: return parameters(forTrial: index)
        case .tpe(let estimator): return space.active(estimator.suggest(index: index, history: history))
        case .gp(let process): return space.active(process.suggest(index: index, history: history))
        }
    }

    /// The parameters of trial `index` (0-based), without history (a Bayesian sampler's random start).
    /// - Precondition: `index >= 0`, and for a grid `index < trialLimit`.
    public func parameters(forTrial index: Int) -> Parameters {
        precondition(index >= 0, "trial index must be >= 0, got \(index)")
        switch kind {
        case .grid:
            precondition(index < trialLimit!, "trial index \(index) is past the grid's \(trialLimit!) points")
            var values: [String: ParameterValue] = [:]
            var rest = index
            for position in space.parameters.indices.reversed() {
                let radix = radices[position]
                let parameter = space.parameters[position]
                values[parameter.name] = parameter.domain.gridValue(at: rest % radix)
                rest /= radix
            }
            return Parameters(values)
        case .random(let seed), .tpe(let seed, _), .independentTPE(let seed, _), .gp(let seed, _):
            return space.active(Self.randomValues(space, seed: seed, index: index))
        }
    }

    /// The random sampler's values of every parameter of `space` for trial `index`, conditions
    /// not applied (a Bayesian sampler takes those of a group it knows nothing of yet).
    static func randomValues(_ space: ParameterSpace, seed: UInt64, index: Int) -> Parameters {
        let trialKey = CampaignRandom.mix(CampaignRandom.mix(seed ^ 0x6A09_E667_F3BC_C909)
            &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15 &+ 0xBB67_AE85_84CA_A73B)
        var values: [String: ParameterValue] = [:]
        for parameter in space.parameters {
            var random = CampaignRandom(state: CampaignRandom.mix(trialKey ^ CampaignRandom.fnv1a(parameter.name)))
            values[parameter.name] = random.draw(parameter.domain)
        }
        return Parameters(values)
    }
}

/// SplitMix64, and the draws built on it. Internal: determinism is the contract, not the generator.
struct CampaignRandom {
    var state: UInt64

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    mutating func unit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform in `0..<bound`, unbiased (Lemire's method).
    mutating func below(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold {
                product = next().multipliedFullWidth(by: bound)
            }
        }
        return product.high
    }

    /// A double in `[low, high)` (or exactly `low` when the interval holds no other double).
    mutating func uniform(_ low: Double, _ high: Double) -> Double {
        let u = unit()
        let width = high - low
        let value = width.isFinite ? low + u * width : low * (1 - u) + high * u
        return Swift.max(low, Swift.min(value, high.nextDown))
    }

    mutating func draw(_ domain: Parameter.Domain) -> ParameterValue {
        switch domain {
        case .choice(let values):
            return values[Int(below(UInt64(values.count)))]
        case .uniform(let low, let high):
            return .double(uniform(low, high))
        case .logUniform(let low, let high):
            let value = DeterministicMath.exp(uniform(DeterministicMath.log(low), DeterministicMath.log(high)))
            return .double(Swift.max(low, Swift.min(value, high.nextDown)))
        case .integer(let low, let high, let step, let log):
            let count = domain.gridCount!
            guard log else {
                return .int(low + Int(below(UInt64(count))) * step)
            }
            let x = DeterministicMath.exp(uniform(DeterministicMath.log(Double(low) - 0.5),
                                                  DeterministicMath.log(Double(high) + 0.5)))
            let k = ((x - Double(low)) / Double(step)).rounded()
            let index = k <= 0 ? 0 : (k >= Double(count - 1) ? count - 1 : Int(k))
            return .int(low + index * step)
        }
    }
}

/// `log` and `exp` from IEEE-754 `+ - * /` only, so every platform computes the same bits
/// (libm's results may differ in the last place between systems). Accurate to a few ulps.
enum DeterministicMath {
    // fdlibm's split of ln 2: k * ln2Hi is exact for |k| < 2^11.
    static let ln2Hi = 6.93147180369123816490e-01
    static let ln2Lo = 1.90821492927058770002e-10
    static let ln2 = 0.693147180559945309417232121458176568
    static let sqrt2 = 1.41421356237309504880168872420969808

    /// Natural logarithm of a positive finite `x`.
    static func log(_ x: Double) -> Double {
        precondition(x > 0 && x.isFinite, "log needs a positive finite number")
        var exponent = Int(x.exponent)
        var m = x.significand // [1, 2), also for subnormals
        if m > sqrt2 {
            m /= 2
            exponent += 1
        }
        // log(m) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), |s| <= 0.1716.
        let s = (m - 1) / (m + 1)
        let s2 = s * s
        var series = 0.0
        for n in stride(from: 14, through: 1, by: -1) {
            series = (series + 1.0 / Double(2 * n + 1)) * s2
        }
        let logM = 2 * s + 2 * s * series
        let e = Double(exponent)
        return e * ln2Hi + (logM + e * ln2Lo)
    }

    /// `e` raised to `y`.
    static func exp(_ y: Double) -> Double {
        if y.isNaN { return y }
        if y > 709.782712893384 { return .infinity }
        if y < -745.1332191019412 { return 0 }
        let k = (y / ln2).rounded()
        let r = (y - k * ln2Hi) - k * ln2Lo // |r| <= ~0.347
        // Taylor series in Horner form: 1 + r(1 + r/2(1 + r/3(...))).
        var p = 1.0
        for n in stride(from: 17, through: 1, by: -1) {
            p = 1 + r / Double(n) * p
        }
        let exponent = Int(k)
        if exponent > 1023 {
            return p * 2 * Double(sign: .plus, exponent: exponent - 1, significand: 1)
        }
        if exponent >= -1022 {
            return p * Double(sign: .plus, exponent: exponent, significand: 1)
        }
        // Scale in two steps so the intermediate stays normal.
        return p * Double(sign: .plus, exponent: exponent + 60, significand: 1) * 0x1p-60
    }
}
