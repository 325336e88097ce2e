/// How a campaign answers failures: how often each class of failure is retried, the budgets that
/// bound retries per trial and per campaign, the backoff before a retry, extra classification
/// patterns, and the thresholds of the circuit breaker and of worker quarantine.
///
/// Part of ``CampaignSpec`` (spec keys `retry:` and `failures:`; see docs/campaign.md). Decoding
/// tolerates missing keys (each takes its default), so specs encoded before this type existed
/// still decode.
public struct FailurePolicy: Sendable, Hashable, Codable {
    /// Retries per class set explicitly (`retry.oom: 1`): how many extra attempts a trial gets for
    /// failures of that class. A class not listed uses ``defaultRetries``; `unknown` uses the spec's
    /// top-level `retries`. `user` is never retried (a value above 0 is a validation problem).
    public var retries: [FailureClass: Int]
    /// The most budget-consuming retries one trial gets, all classes together (every class but
    /// `preempted`); `nil` for the default, the larger of 5 and the spec's `retries` (so an existing
    /// `retries: 8` keeps its meaning).
    public var maxRetriesPerTrial: Int?
    /// The most budget-consuming retries in the whole campaign, or `nil` for no limit (the default).
    public var campaignRetryBudget: Int?
    /// The wait before a retried trial is dispatched again, in seconds: this for its first retry,
    /// doubled for each budget-consuming retry the trial already had, capped at 300 s (or at this
    /// value if it is larger). `preempted` retries wait nothing. Default 1.
    public var backoffSeconds: Double
    /// Extra case-insensitive substrings that classify a failure as `infra`.
    public var infraPatterns: [String]
    /// Extra case-insensitive substrings that classify a failure as `user`.
    public var userPatterns: [String]
    /// How many distinct trials failing with the same `user`-class signature pause the matching
    /// dispatch (see ``CircuitBreaker``); 0 turns the breaker off. Default 3.
    public var circuitBreakerTrials: Int
    /// How many trials that failed `infra`/`oom` on one worker and then succeeded on another
    /// quarantine that worker (see ``WorkerHealth``); 0 turns quarantine off. Default 3.
    public var quarantineAfter: Int

    /// The retries per class when the spec does not set them (`unknown` is the spec's `retries`).
    public static let defaultRetries: [FailureClass: Int] = [
        .oom: 0, .timeout: 0, .preempted: 10, .lost: 3, .infra: 3, .user: 0, .diverged: 0,
    ]
    /// The per-trial cap when neither `retry.per_trial` nor a larger `retries` is set.
    public static let defaultMaxRetriesPerTrial = 5
    /// The cap of the doubling backoff, in seconds.
    public static let maxBackoffSeconds = 300.0

    /// Creates a policy; every argument defaults to the documented default.
    public init(
        retries: [FailureClass: Int] = [:],
        maxRetriesPerTrial: Int? = nil,
        campaignRetryBudget: Int? = nil,
        backoffSeconds: Double = 1,
        infraPatterns: [String] = [],
        userPatterns: [String] = [],
        circuitBreakerTrials: Int = 3,
        quarantineAfter: Int = 3
    ) {
        self.retries = retries
        self.maxRetriesPerTrial = maxRetriesPerTrial
        self.campaignRetryBudget = campaignRetryBudget
        self.backoffSeconds = backoffSeconds
        self.infraPatterns = infraPatterns
        self.userPatterns = userPatterns
        self.circuitBreakerTrials = circuitBreakerTrials
        self.quarantineAfter = quarantineAfter
    }

    /// How many retries a trial gets for failures of `failureClass`; `unknownRetries` is the
    /// spec's top-level `retries`, the limit for `unknown`. Always 0 for `user`.
    public func retryLimit(for failureClass: FailureClass, unknownRetries: Int) -> Int {
        switch failureClass {
        case .user: 0
        case .unknown: retries[.unknown] ?? unknownRetries
        default: retries[failureClass] ?? Self.defaultRetries[failureClass] ?? 0
        }
    }

    /// The most budget-consuming retries one trial gets: ``maxRetriesPerTrial``, or by default the
    /// larger of 5 and `unknownRetries` (the spec's `retries`).
    public func perTrialCap(unknownRetries: Int) -> Int {
        maxRetriesPerTrial ?? max(Self.defaultMaxRetriesPerTrial, unknownRetries)
    }

    /// The wait before a retry, in milliseconds, for a trial that already had `previousRetries`
    /// budget-consuming retries: ``backoffSeconds`` doubled that many times, capped.
    public func backoffMillis(previousRetries: Int) -> Int64 {
        guard backoffSeconds > 0, backoffSeconds.isFinite else { return 0 }
        let cap = max(Self.maxBackoffSeconds, backoffSeconds)
        var seconds = backoffSeconds
        var doublings = max(0, previousRetries)
        while doublings > 0, seconds < cap {
            seconds *= 2
            doublings -= 1
        }
        return Int64((min(seconds, cap) * 1_000).rounded())
    }

    /// Whether a trial whose attempt just failed with `failureClass` is retried, and after how long.
    ///
    /// A pure function of its arguments (no clock: the caller adds the delay to its `now`):
    /// - `user` is never retried;
    /// - a class is retried while the trial's retries of that class are below its limit
    ///   (``retryLimit(for:unknownRetries:)``);
    /// - `preempted` retries end there: they are free (no budget, no backoff);
    /// - every other class also needs the trial below its per-trial cap
    ///   (``perTrialCap(unknownRetries:)``) and the campaign below ``campaignRetryBudget``, and
    ///   waits ``backoffMillis(previousRetries:)``.
    /// - Parameters:
    ///   - failureClass: the class of the failure just seen.
    ///   - trial: the retries this trial already had, by class (not counting this failure).
    ///   - campaignRetriesUsed: the budget-consuming retries granted so far in the whole campaign.
    ///   - unknownRetries: the spec's top-level `retries`.
    public func decide(
        _ failureClass: FailureClass, trial: RetryCounts, campaignRetriesUsed: Int, unknownRetries: Int
    ) -> RetryDecision {
        if failureClass == .user {
            return .giveUp(reason: "user failures are never retried: the same command would fail the same way")
        }
        let key = failureClass == .unknown ? "retries" : "retry.\(failureClass)"
        let limit = retryLimit(for: failureClass, unknownRetries: unknownRetries)
        let soFar = trial[failureClass]
        if soFar >= limit {
            if limit == 0 { return .giveUp(reason: "\(failureClass) failures are not retried (\(key) is 0)") }
            return .giveUp(reason: "\(failureClass) failures were already retried \(soFar) times (\(key) is \(limit))")
        }
        guard failureClass.consumesRetryBudget else {
            return .retry(afterMillis: 0, consumesBudget: false)
        }
        let cap = perTrialCap(unknownRetries: unknownRetries)
        if trial.budgetUsed >= cap {
            return .giveUp(reason: "the trial has used all \(cap) of its retries (retry.per_trial)")
        }
        if let campaignRetryBudget, campaignRetriesUsed >= campaignRetryBudget {
            return .giveUp(reason: "the campaign has used all \(campaignRetryBudget) of its retries (retry.campaign)")
        }
        return .retry(afterMillis: backoffMillis(previousRetries: trial.budgetUsed), consumesBudget: true)
    }

    /// Everything wrong with the policy, as key paths of the spec (`retry.user`, `retry.backoff`,
    /// `failures.infra_patterns[0]`, ...) and messages. Empty for a valid policy.
    public func problems() -> [CampaignProblem] {
        var problems: [CampaignProblem] = []
        for failureClass in FailureClass.allCases {
            guard let value = retries[failureClass] else { continue }
            let path = "retry.\(failureClass)"
            if failureClass == .unknown {
                problems.append(CampaignProblem(
                    keyPath: path, message: "the retries for unknown failures are the top-level 'retries'; set that instead"))
            } else if value < 0 {
                problems.append(CampaignProblem(keyPath: path, message: "\(path) must be >= 0, got \(value)"))
            } else if failureClass == .user && value > 0 {
                problems.append(CampaignProblem(
                    keyPath: path,
                    message: "user failures (a missing module, a syntax error, a usage error) fail the same way every time, so they are never retried; remove retry.user or set it to 0"))
            }
        }
        if let maxRetriesPerTrial, maxRetriesPerTrial < 0 {
            problems.append(CampaignProblem(keyPath: "retry.per_trial", message: "retry.per_trial must be >= 0, got \(maxRetriesPerTrial)"))
        }
        if let campaignRetryBudget, campaignRetryBudget < 0 {
            problems.append(CampaignProblem(
                keyPath: "retry.campaign", message: "retry.campaign must be >= 0, got \(campaignRetryBudget); leave it out for no limit"))
        }
        if !(backoffSeconds >= 0 && backoffSeconds.isFinite) {
            problems.append(CampaignProblem(
                keyPath: "retry.backoff", message: "retry.backoff must be a duration >= 0, got \(backoffSeconds) seconds"))
        }
        for (name, patterns) in [("infra_patterns", infraPatterns), ("user_patterns", userPatterns)] {
            for (index, pattern) in patterns.enumerated()
            where pattern.isEmpty || pattern.contains(where: \.isNewline) || pattern.utf8.contains(0) {
                problems.append(CampaignProblem(
                    keyPath: "failures.\(name)[\(index)]",
                    message: "a pattern must be non-empty text on one line (it is matched against each log line, ignoring case)"))
            }
        }
        if circuitBreakerTrials < 0 {
            problems.append(CampaignProblem(
                keyPath: "failures.circuit_breaker", message: "circuit_breaker must be >= 0 (0 turns it off), got \(circuitBreakerTrials)"))
        }
        if quarantineAfter < 0 {
            problems.append(CampaignProblem(
                keyPath: "failures.quarantine_after", message: "quarantine_after must be >= 0 (0 turns it off), got \(quarantineAfter)"))
        }
        return problems
    }

    private enum CodingKeys: String, CodingKey {
        case retries, maxRetriesPerTrial, campaignRetryBudget, backoffSeconds, infraPatterns, userPatterns
        case circuitBreakerTrials, quarantineAfter
    }

    /// Decodes a policy; a missing key takes its default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = FailurePolicy()
        retries = try container.decodeIfPresent([FailureClass: Int].self, forKey: .retries) ?? defaults.retries
        maxRetriesPerTrial = try container.decodeIfPresent(Int.self, forKey: .maxRetriesPerTrial)
        campaignRetryBudget = try container.decodeIfPresent(Int.self, forKey: .campaignRetryBudget)
        backoffSeconds = try container.decodeIfPresent(Double.self, forKey: .backoffSeconds) ?? defaults.backoffSeconds
        infraPatterns = try container.decodeIfPresent([String].self, forKey: .infraPatterns) ?? defaults.infraPatterns
        userPatterns = try container.decodeIfPresent([String].self, forKey: .userPatterns) ?? defaults.userPatterns
        circuitBreakerTrials = try container.decodeIfPresent(Int.self, forKey: .circuitBreakerTrials) ?? defaults.circuitBreakerTrials
        quarantineAfter = try container.decodeIfPresent(Int.self, forKey: .quarantineAfter) ?? defaults.quarantineAfter
    }
}

/// The retries one trial has had so far, by failure class.
public struct RetryCounts: Sendable, Hashable, Codable {
    /// Retries granted per class.
    public var byClass: [FailureClass: Int]

    /// Creates counts (none by default).
    public init(_ byClass: [FailureClass: Int] = [:]) {
        self.byClass = byClass
    }

    /// The retries granted for failures of `failureClass`.
    public subscript(failureClass: FailureClass) -> Int {
        byClass[failureClass] ?? 0
    }

    /// The retries that count against the per-trial and campaign budgets (all but `preempted`).
    public var budgetUsed: Int {
        byClass.reduce(0) { $0 + ($1.key.consumesRetryBudget ? $1.value : 0) }
    }

    /// Counts one more retry of `failureClass` (call it when a ``RetryDecision/retry(afterMillis:consumesBudget:)`` is carried out).
    public mutating func record(_ failureClass: FailureClass) {
        byClass[failureClass, default: 0] += 1
    }
}

/// What to do with a trial whose attempt failed.
public enum RetryDecision: Sendable, Hashable {
    /// Run the trial again, not before `afterMillis` milliseconds from now; `consumesBudget` says
    /// whether the retry counts against the per-trial and campaign budgets.
    case retry(afterMillis: Int64, consumesBudget: Bool)
    /// Mark the trial failed; the reason is one sentence for a person.
    case giveUp(reason: String)
}

extension CampaignSpec {
    /// ``FailurePolicy/decide(_:trial:campaignRetriesUsed:unknownRetries:)`` with this spec's
    /// `retries` as the limit for `unknown` failures.
    public func retryDecision(for failureClass: FailureClass, trial: RetryCounts, campaignRetriesUsed: Int) -> RetryDecision {
        failurePolicy.decide(failureClass, trial: trial, campaignRetriesUsed: campaignRetriesUsed, unknownRetries: retries)
    }

    /// A classifier with this spec's configured patterns.
    public var failureClassifier: FailureClassifier { FailureClassifier(policy: failurePolicy) }
}
