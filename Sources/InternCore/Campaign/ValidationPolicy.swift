/// How a stage checks that its best result is real and not a lucky seed (`validate: {top: 3,
/// repeats: 3, seed: seed}`): once the stage ends, its `top` best configurations (and its
/// `baseline:`, if any) are run `repeats` more times each, as ordinary trials with new values of
/// the seed parameter (or `INTERN_SEED` when the stage has none), and ``ValidationVerdict`` judges
/// whether the best one's advantage holds beyond the repeats' spread.
public struct ValidationPolicy: Sendable, Hashable, Codable {
    /// How many of the stage's best configurations (by their first result) are repeated.
    public var top: Int
    /// How many times each is run again (at least 2, for a spread).
    public var repeats: Int
    /// The parameter of the stage's space that seeds the job; `nil`: the repeats get
    /// `INTERN_SEED` instead (every repeat gets `INTERN_SEED` either way).
    public var seedParameter: String?

    /// Creates a policy.
    public init(top: Int, repeats: Int, seedParameter: String? = nil) {
        self.top = top
        self.repeats = repeats
        self.seedParameter = seedParameter
    }

    /// The significance level of the verdict's one-sided Welch test.
    public static let alpha = 0.05

    /// The seed of repeat `number` (1…``repeats``) of every configuration of `stage`: a pure
    /// function of the stage's sampler seed and the number, so every configuration is repeated
    /// with the same seeds (common random numbers: two configurations are compared on the same
    /// seeds, not on seed luck) and a restarted coordinator makes the same ones. Within the seed
    /// parameter's `int` range when it has one, else in 1…2^31-1.
    public static func seed(repeat number: Int, of stage: Stage) -> Int {
        var random = CampaignRandom(state: CampaignRandom.mix(stage.sampler.seedValue ^ CampaignRandom.fnv1a("validate")) &+ UInt64(number))
        let raw = random.next()
        if let name = stage.validation?.seedParameter, case .integer(let low, let high, let step, _)? = stage.space[name]?.domain {
            let span = UInt64((high - low) / max(step, 1)) + 1
            return low + Int(raw % span) * max(step, 1)
        }
        return 1 + Int(raw % UInt64(Int32.max))
    }

    /// What is wrong with `validate:`/`baseline:` on `stage` (key paths under `prefix`, e.g.
    /// `stages[1].`).
    static func problems(of stage: Stage, prefix: String) -> [CampaignProblem] {
        var problems: [CampaignProblem] = []
        if stage.baseline != nil, stage.validation == nil {
            problems.append(CampaignProblem(
                keyPath: prefix + "baseline", message: "a baseline is run and compared when the stage validates its best: add validate: {top: 3, repeats: 3}"))
        }
        guard let policy = stage.validation else { return problems }
        let path = prefix + "validate"
        if stage.objective == nil || !stage.extraObjectives.isEmpty {
            problems.append(CampaignProblem(keyPath: path, message: "validation repeats the best configurations by the objective: give the stage one objective"))
        }
        if policy.top < 1 || policy.top > 1000 {
            problems.append(CampaignProblem(keyPath: path + ".top", message: "top must be 1 to 1000, got \(policy.top)"))
        } else if policy.top == 1, stage.baseline == nil {
            problems.append(CampaignProblem(
                keyPath: path + ".top", message: "with top: 1 the best has nothing to be compared with: use top >= 2 (the runner-up) or give a baseline:"))
        }
        if policy.repeats < 2 || policy.repeats > 1000 {
            problems.append(CampaignProblem(keyPath: path + ".repeats", message: "repeats must be 2 to 1000 (a spread needs two values), got \(policy.repeats)"))
        }
        if let name = policy.seedParameter {
            switch stage.space[name] {
            case nil:
                let known = stage.space.names.joined(separator: ", ")
                let suggestion = NameSuggestion.closest(to: name, among: stage.space.names)
                problems.append(CampaignProblem(
                    keyPath: path + ".seed",
                    message: "'\(name)' is not a parameter of the stage\(suggestion.map { "; did you mean '\($0)'?" } ?? "") (parameters: \(known.isEmpty ? "none" : known)); leave seed out to give the repeats INTERN_SEED instead",
                    suggestion: suggestion))
            case let parameter?:
                if case .integer = parameter.domain, parameter.condition == nil {} else {
                    problems.append(CampaignProblem(
                        keyPath: path + ".seed", message: "the seed parameter '\(name)' must be an unconditional int parameter, e.g. \(name): {type: int, low: 0, high: 1000000}"))
                }
            }
        }
        if let baseline = stage.baseline {
            let normalized = stage.space.normalized(baseline)
            if !stage.space.contains(normalized) {
                problems.append(CampaignProblem(
                    keyPath: prefix + "baseline", message: "the baseline (\(normalized)) is not a configuration of the stage's space: give a value in range for each of its parameters"))
            }
        }
        return problems
    }
}

extension SamplerKind {
    /// The sampler's seed (0 for a grid).
    var seedValue: UInt64 {
        switch self {
        case .grid: 0
        case .random(let seed), .tpe(let seed, _), .independentTPE(let seed, _), .gp(let seed, _): seed
        }
    }
}

extension TrialRecord {
    /// Whether the trial is a validation repeat (of a configuration, or of the baseline): it runs
    /// a configuration again with another seed; it is never the best, never a search point, and
    /// never feeds a later stage itself.
    public var isRepeat: Bool { repeatNumber != nil }
    /// Whether the trial runs the stage's `baseline:` configuration.
    public var isBaseline: Bool { repeatNumber != nil && repeatOf == nil }
}
