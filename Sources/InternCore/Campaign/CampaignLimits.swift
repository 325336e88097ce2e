/// The largest values intern accepts wherever a person or a peer gives one (the spec, `intern
/// add`, the admin protocol): beyond them a number is a mistake, and arithmetic on it (a total of
/// trials, a deadline in milliseconds) could overflow and stop a campaign for good.
public enum CampaignLimits {
    /// Trials in a campaign, the spec's and those added together (and per input of a fed stage).
    public static let maxTrials = 10_000_000
    /// `budget.hours` and what `intern add --hours` adds to it (a little over 114 years).
    public static let maxHours = 1_000_000.0
    /// `budget.gpu_hours` and what `intern add --gpu-hours` adds to it.
    public static let maxGPUHours = 1_000_000_000.0

    /// Concurrent attempts (`parallel`).
    public static let maxParallel = 100_000
    /// An attempt's `timeout` (366 days).
    public static let maxTimeoutSeconds = 366.0 * 86_400
    /// `retry.backoff` (a day).
    public static let maxBackoffSeconds = 86_400.0
    /// Retries of any kind: `retries`, `retry.CLASS`, `retry.per_trial`, `retry.campaign`.
    public static let maxRetries = 1_000_000
    /// GPUs, CPUs and bytes of memory one attempt may ask for.
    public static let maxGPUs = 1_024
    public static let maxCPUs = 65_536
    public static let maxMemoryBytes = 1 << 50
    /// `pruning.min_step`, `pruning.reduction`.
    public static let maxStep = 1_000_000_000
    public static let maxReduction = 1_000

    /// Whether `value` is a usable amount: finite, at least 0, at most `limit`.
    public static func isAmount(_ value: Double, atMost limit: Double) -> Bool {
        value.isFinite && value >= 0 && value <= limit
    }

    /// What is too large in one stage's counts, durations and sizes; key paths start with `path`
    /// (empty for the top level). The lower bounds are the spec's own checks.
    static func problems(of stage: Stage, path: String) -> [CampaignProblem] {
        var problems: [CampaignProblem] = []
        func atMost<T: Comparable>(_ value: T, _ limit: T, _ key: String, _ limitText: String) {
            if value > limit { problems.append(CampaignProblem(keyPath: path + key, message: "\(key) must be at most \(limitText), got \(value)")) }
        }
        atMost(stage.trials, maxTrials, "trials", "\(maxTrials)")
        if let timeout = stage.timeoutSeconds, timeout.isFinite { atMost(timeout, maxTimeoutSeconds, "timeout", "366 days (\(Int(maxTimeoutSeconds)) s)") }
        atMost(stage.gpus, maxGPUs, "gpus", "\(maxGPUs)")
        atMost(stage.cpus, maxCPUs, "cpus", "\(maxCPUs)")
        atMost(stage.memoryBytes, maxMemoryBytes, "memory", "1PiB (\(maxMemoryBytes) bytes)")
        if let pruning = stage.pruning {
            atMost(pruning.minStep, maxStep, "pruning.min_step", "\(maxStep)")
            atMost(pruning.reduction, maxReduction, "pruning.reduction", "\(maxReduction)")
            atMost(pruning.minTrials, maxTrials, "pruning.min_trials", "\(maxTrials)")
        }
        if let top = stage.input?.top { atMost(top, maxTrials, "from.top", "\(maxTrials)") }
        return problems
    }

    /// What is too large in the campaign-wide counts, durations and amounts.
    static func problems(of spec: CampaignSpec) -> [CampaignProblem] {
        var problems: [CampaignProblem] = []
        func atMost<T: Comparable>(_ value: T, _ limit: T, _ key: String, _ limitText: String) {
            if value > limit { problems.append(CampaignProblem(keyPath: key, message: "\(key) must be at most \(limitText), got \(value)")) }
        }
        if let parallel = spec.parallel { atMost(parallel, maxParallel, "parallel", "\(maxParallel)") }
        atMost(spec.retries, maxRetries, "retries", "\(maxRetries)")
        let policy = spec.failurePolicy
        for (failureClass, count) in policy.retries.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            atMost(count, maxRetries, "retry.\(failureClass)", "\(maxRetries)")
        }
        if let perTrial = policy.maxRetriesPerTrial { atMost(perTrial, maxRetries, "retry.per_trial", "\(maxRetries)") }
        if let budget = policy.campaignRetryBudget { atMost(budget, maxRetries, "retry.campaign", "\(maxRetries)") }
        if policy.backoffSeconds.isFinite { atMost(policy.backoffSeconds, maxBackoffSeconds, "retry.backoff", "a day (\(Int(maxBackoffSeconds)) s)") }
        atMost(policy.circuitBreakerTrials, maxTrials, "failures.circuit_breaker", "\(maxTrials)")
        atMost(policy.quarantineAfter, maxTrials, "failures.quarantine_after", "\(maxTrials)")
        if let hours = spec.budget.hours {
            if !hours.isFinite { problems.append(CampaignProblem(keyPath: "budget.hours", message: "budget.hours must be a finite number of hours, got \(hours)")) }
            atMost(hours, maxHours, "budget.hours", "\(Int(maxHours))")
        }
        if let gpuHours = spec.budget.gpuHours {
            if !gpuHours.isFinite { problems.append(CampaignProblem(keyPath: "budget.gpu_hours", message: "budget.gpu_hours must be a finite number, got \(gpuHours)")) }
            atMost(gpuHours, maxGPUHours, "budget.gpu_hours", "\(Int(maxGPUHours))")
        }
        for (index, stage) in spec.stages.enumerated() {
            problems += self.problems(of: stage, path: index == 0 ? "" : "stages[\(index)].")
        }
        return problems
    }
}
