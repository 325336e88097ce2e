/// The campaign's budget (`budget.hours`, `budget.gpu_hours`) as raised by `intern add`, and
/// what it has spent: wall time since the campaign started, GPU-seconds of ended attempts plus
/// those in flight. A value type with no clock: every check carries `now`.
struct BudgetMeter: Sendable {
    /// The spec's budget.
    let base: Budget
    /// What `intern add` changed: trials beyond the spec's, budget raised by.
    var adjustments = CampaignAdjustments()
    /// When the campaign started (its first coordinator).
    var startedAt: Timestamp?
    /// GPU-seconds of attempts that ended.
    private var endedGPUSeconds = 0.0
    /// Why the budget is spent, once it is.
    private(set) var spent: String?

    /// An attempt's GPUs in flight since a time (for its GPU-seconds so far).
    struct Holding {
        var gpus: Int
        var since: Timestamp
    }

    init(base: Budget) {
        self.base = base
    }

    /// The budget in force: the spec's, raised by `intern add`.
    var budget: Budget {
        var budget = base
        if let hours = budget.hours { budget.hours = hours + adjustments.extraHours }
        if let gpuHours = budget.gpuHours { budget.gpuHours = gpuHours + adjustments.extraGPUHours }
        return budget
    }

    /// An attempt ended after `wallMillis` on `gpus` GPUs.
    mutating func attemptEnded(wallMillis: UInt64, gpus: Int) {
        endedGPUSeconds += Double(wallMillis) / 1000 * Double(gpus)
    }

    /// `intern add` raised the budget: it may no longer be spent.
    mutating func raise(hours: Double, gpuHours: Double) {
        adjustments.extraHours += hours
        adjustments.extraGPUHours += gpuHours
        if hours > 0 || gpuHours > 0 { spent = nil }
    }

    /// Checks the budget at `now`: returns why it is spent when it has just become so.
    mutating func check(now: Timestamp, holding: [Holding]) -> String? {
        guard budget.isSet, spent == nil else { return nil }
        if startedAt == nil { startedAt = now }
        guard let reason = budget.exhausted(startedAt: startedAt!, now: now, gpuSeconds: gpuSeconds(now: now, holding: holding)) else { return nil }
        spent = reason
        return reason
    }

    /// When the budget runs out if nothing changes: the end of its hours, or the time the GPUs in
    /// flight use up the GPU-hours left. `nil` when it is not set, or already spent.
    func deadline(now: Timestamp, holding: [Holding]) -> Timestamp? {
        let budget = budget
        guard budget.isSet, spent == nil else { return nil }
        let started = startedAt ?? now
        var deadlines: [Timestamp] = []
        if let hours = budget.hours { deadlines.append(started + Timestamp((hours * 3_600_000).rounded(.up))) }
        let gpus = holding.reduce(0) { $0 + $1.gpus }
        if let gpuHours = budget.gpuHours, gpus > 0 {
            let left = max(0, gpuHours * 3_600 - gpuSeconds(now: now, holding: holding))
            deadlines.append(now + Timestamp((left * 1000 / Double(gpus)).rounded(.up)))
        }
        return deadlines.min()
    }

    private func gpuSeconds(now: Timestamp, holding: [Holding]) -> Double {
        holding.reduce(endedGPUSeconds) { $0 + Double(max(0, now - $1.since)) / 1000 * Double($1.gpus) }
    }
}
