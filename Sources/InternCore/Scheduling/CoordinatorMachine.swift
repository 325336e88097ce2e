/// The coordinator's logic: which trial runs next and where, which worker is alive, what an
/// attempt's end means for its trial. A value type with no IO and no clock: every event carries
/// `now` and returns the `Effects` the shell must carry out (commit changes, then reply).
///
/// Dispatch is credit-based: a worker sends one work request per free slot and the machine
/// parks it until a trial can run, so a worker never holds more than it asked for.
public struct CoordinatorMachine: Sendable {
    /// The campaign being run.
    public let spec: CampaignSpec
    /// Timing and limits.
    public let config: CoordinatorConfig

    /// The campaign's stages (one, without `stages:`), and by stage: its sampler, what its
    /// Bayesian sampler has learned (kept only when it uses it), early stopping's memory (with
    /// `pruning:`).
    let stages: [Stage]
    let samplers: [Sampler]
    var searchHistories: [SearchHistory]
    var pruners: [Pruner?]
    /// By stage: how many trials it has and how many are open; which stages are fed, and when.
    var feeder: StageFeeder
    /// Stages whose best configurations have been given their validation repeats (a stage
    /// with a repeat in the store, on restore).
    var validatedStages: Set<Int> = []
    /// The budget in force and what it has spent.
    var meter: BudgetMeter
    /// Why the budget is spent, once it is: nothing more is dispatched.
    public var budgetSpent: String? { meter.spent }
    /// What `intern add` changed: trials beyond the spec's (drawn or enqueued), budget raised by.
    public var adjustments: CampaignAdjustments { meter.adjustments }
    /// The number of trials the campaign runs: the spec's plus those added.
    public var totalTrials: Int { spec.trials + adjustments.addedTrials }
    /// The budget in force: the spec's, raised by `intern add`.
    public var budget: Budget { meter.budget }
    public internal(set) var trials = RecordTable<TrialID, TrialRecord>()
    /// Every attempt, without its `argv` and `environment` (see ``record(_:)-(AttemptRecord)``): the
    /// assignment's plan and the store hold those.
    public internal(set) var attempts = RecordTable<AttemptID, AttemptRecord>()
    /// The workers, their leases, and the replies remembered for each.
    var registry: WorkerRegistry
    public var workers: [WorkerID: WorkerRecord] { registry.records }

    /// The next trial number the sampler has not produced yet.
    var nextTrial: TrialID = 1
    var nextAttempt: AttemptID = 1
    /// Trials waiting for a slot after a failed or lost attempt, oldest first.
    var requeued: [TrialID] = []
    /// Work requests waiting for a trial, oldest first.
    var parked: ParkedRequests
    /// Cancels not yet confirmed by the worker (the attempt still runs there).
    var cancelling: Set<AttemptID> = []
    /// Lost attempts whose worker was told to stop them (or whose data was refused): never
    /// re-attached, since the worker may already have dropped what it held for them.
    var toldToStop: Set<AttemptID> = []
    /// Trials with an attempt in flight (kept with every trial change, so dispatch is O(1) per trial).
    var running: Set<TrialID> = []
    /// Attempts not yet terminal (assigned or running).
    var active: Set<AttemptID> = []
    /// Attempts assigned or running anywhere, including those of a trial cancelled a moment ago
    /// whose job is still being stopped (it still holds its GPU), and those queued ahead.
    public var attemptsInFlight: Int { active.count }
    /// Attempts queued ahead on a busy slot (see ``assignAhead``): by the attempt each waits
    /// behind, and the other way round. One starts on its worker the moment the attempt it
    /// waits behind ends there; until that end is known here it is in flight, not running.
    var queuedAhead = QueuedAhead()
    /// What counts against `parallel`: the attempts in flight less those queued ahead (each
    /// starts only in its slot's turn, as the attempt before it ends).
    var attemptsRunning: Int { active.count - queuedAhead.count }
    /// The attempt that `attempt` was queued ahead behind, while it waits (nil: it was assigned
    /// to a free slot, or has started).
    public func queuedBehind(_ attempt: AttemptID) -> AttemptID? { queuedAhead.behind(attempt) }
    /// By stage: how long its last attempts ran (whether a slot's next one is worth queuing ahead).
    var recentWalls: [RecentWalls]
    /// The metrics the logic acts on, in any stage: objectives', constraints', pruning rules'
    /// (the stages are fixed, so this is worked out once, not for every report).
    public let watchedMetrics: Set<String>
    /// The earliest deadline events made since the last tick (see ``settled(_:now:)``).
    var dueBy: Timestamp?
    /// Whether `campaignFinished` has been emitted.
    public internal(set) var isFinished = false
    /// Set when the campaign stopped before every trial ended (a circuit breaker tripped for
    /// every configuration): nothing more is dispatched; running the campaign again continues it.
    public internal(set) var stoppedReason: String?
    /// The campaign is over for now: finished, or stopped.
    public var isOver: Bool { isFinished || stoppedReason != nil }
    /// Paused by a person (`intern pause`): nothing new is dispatched, attempts in flight go
    /// on, workers wait; stored, so a restarted coordinator stays paused until `intern resume`.
    public internal(set) var isPaused = false

    /// Whether the metrics the stages count on are reported at all (see ``MetricCoverage``).
    public internal(set) var coverage: MetricCoverage

    let classifier: FailureClassifier
    /// Retries granted so far across the campaign that count against its budget.
    var campaignRetriesUsed = 0
    /// The same `user` error on several trials pauses the configurations that would hit it.
    /// Starts afresh with every coordinator: restarting a campaign is how a person says the
    /// cause is fixed.
    var breaker: CircuitBreaker
    /// Workers whose `infra`/`oom` failures succeed elsewhere (rebuilt from the store on restore).
    var health: WorkerHealth
    /// Parameters that can take more than one value: only those can make a failure
    /// parameter-dependent (a fixed value is shared by every trial).
    let variedParameters: Set<String>

    /// A trial's parameters as the circuit breaker sees them, with the parameters it received
    /// from upstream stages (`train.lr`): an eval failing because of its training's learning
    /// rate is parameter-dependent, not a reason to stop everything.
    func breakerPairs(_ trial: TrialRecord) -> [(name: String, value: String)] {
        let inputs = trial.inputs.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        return (trial.parameters.renderedPairs + inputs).filter { variedParameters.contains($0.name) }
    }

    /// Starts a fresh campaign. Throws when the spec's sampler cannot cover its space (the
    /// spec parser reports that earlier, with the file and line).
    public init(spec: CampaignSpec, config: CoordinatorConfig = CoordinatorConfig()) throws(CampaignProblem) {
        self.spec = spec
        self.config = config
        let stages = spec.stages
        self.stages = stages
        self.watchedMetrics = Self.watchedMetrics(of: stages)
        var samplers: [Sampler] = []
        for stage in stages {
            samplers.append(try Sampler(space: stage.space, kind: stage.sampler, direction: stage.objective?.direction ?? .minimize))
        }
        self.samplers = samplers
        self.searchHistories = stages.map { SearchHistory(space: $0.space, direction: $0.objective?.direction ?? .minimize) }
        self.pruners = stages.map { $0.pruning.map(Pruner.init(policy:)) }
        self.recentWalls = stages.map { _ in RecentWalls() }
        self.feeder = StageFeeder(stages: stages)
        self.meter = BudgetMeter(base: spec.budget)
        self.registry = WorkerRegistry(leaseMillis: config.leaseTimeoutMillis, replyMemory: config.replyMemory)
        self.parked = ParkedRequests(longPollMillis: config.longPollMillis)
        self.coverage = MetricCoverage(stages: stages)
        self.classifier = spec.failureClassifier
        self.breaker = CircuitBreaker(threshold: spec.failurePolicy.circuitBreakerTrials)
        self.health = WorkerHealth(threshold: spec.failurePolicy.quarantineAfter)
        var varied: Set<String> = []
        for stage in stages {
            for parameter in stage.space.parameters {
                let varies = switch parameter.domain {
                case .choice(let values): values.count > 1
                case .integer(let low, let high, _, _): low < high
                case .uniform, .logUniform: true
                }
                // Own name for the stage's trials; `stage.name` as an input of later stages.
                if varies { varied.formUnion([parameter.name, "\(stage.name).\(parameter.name)"]) }
            }
        }
        self.variedParameters = varied
    }

    /// Rebuilds the machine from what the store holds, so a coordinator restarted on the same
    /// campaign directory continues it: finished trials stay finished, no trial number is drawn
    /// twice, and attempts in flight stay in flight. Their workers keep running them while the
    /// coordinator is away; each known worker gets a fresh lease from `now` to come back (any
    /// request from the same incarnation re-attaches it) and is declared lost, its attempts
    /// requeued, only when that lease expires. `objectives` are the objective values the store
    /// holds for attempts in flight (reports stored before the restart are not sent again);
    /// `pruningPoints` the stored points of the pruning metrics, by attempt in order (early
    /// stopping's memory, replayed without acting on it).
    public static func restore(
        spec: CampaignSpec, config: CoordinatorConfig = CoordinatorConfig(),
        trials: [TrialRecord], attempts: [AttemptRecord], workers: [WorkerRecord] = [],
        objectives: [AttemptID: Double] = [:], constraintValues: [AttemptID: [String: Double]] = [:], paused: Bool = false,
        startedAt: Timestamp? = nil, adjustments: CampaignAdjustments = CampaignAdjustments(), fedStages: Set<Int> = [],
        reportedMetrics: [Int: Set<String>] = [:], pruningPoints: [(trial: TrialID, step: Int64, value: Double)] = [],
        now: Timestamp
    ) throws(CampaignProblem) -> (CoordinatorMachine, Effects) {
        var machine = try CoordinatorMachine(spec: spec, config: config)
        machine.meter.adjustments = adjustments
        machine.meter.startedAt = startedAt
        machine.isPaused = paused
        var effects = Effects()
        if let stray = trials.first(where: { $0.stage < 0 || $0.stage >= machine.stages.count }) {
            throw CampaignProblem(keyPath: "stages", message: "trial \(stray.id) belongs to stage \(stray.stage), which this campaign's spec does not have")
        }
        // An infeasible trial's miss, from its succeeded attempt's constrained metrics (the
        // caller loads those for such attempts too).
        let infeasibleStage = Dictionary(
            trials.filter { $0.feasible == false }.map { ($0.id, $0.stage) }, uniquingKeysWith: { first, _ in first })
        var shortfalls: [TrialID: Double] = [:]
        for attempt in attempts where attempt.status == .succeeded {
            guard let stage = infeasibleStage[attempt.trial] else { continue }
            shortfalls[attempt.trial] = Constraint.shortfall(of: machine.stages[stage].constraints, values: constraintValues[attempt.id] ?? [:])
        }
        for trial in trials.sorted(by: { $0.id < $1.id }) { machine.record(trial, shortfall: trial.feasible == false ? shortfalls[trial.id] : nil) }
        for attempt in attempts { machine.record(attempt) }
        machine.nextTrial = (trials.map(\.id).max() ?? 0) + 1
        machine.feeder.restore(fedStages: fedStages)
        var lastPoints: [TrialID: (step: Int64, value: Double)] = [:]
        for point in pruningPoints {
            _ = machine.pruners[machine.trials[point.trial]?.stage ?? 0]?.observe(trial: point.trial, step: point.step, value: point.value)
            lastPoints[point.trial] = (point.step, point.value)
        }
        // A pruned trial's last point is the one that stopped it: the Bayesian sampler ranks it there.
        for (id, point) in lastPoints.sorted(by: { $0.key < $1.key }) {
            if let trial = machine.trials[id], trial.status == .pruned { machine.recordPruned(trial, step: point.step, value: point.value) }
        }
        machine.nextAttempt = (attempts.map(\.id).max() ?? 0) + 1
        // What the stages' attempts reported so far; a metric missing now was announced before.
        var completed: [Int: Int] = [:]
        for trial in trials where trial.status == .completed { completed[trial.stage, default: 0] += 1 }
        machine.coverage = MetricCoverage(stages: machine.stages, completed: completed, reported: reportedMetrics)
        machine.coverage.markAnnounced()
        machine.campaignRetriesUsed = trials.reduce(0) { $0 + $1.retryCounts.budgetUsed }
        for attempt in attempts.sorted(by: { $0.id < $1.id }) where attempt.status.isTerminal {
            if attempt.status == .succeeded {
                machine.health.recordSuccess(worker: attempt.worker, trial: attempt.trial)
            } else if let failure = attempt.failureClass {
                machine.health.recordFailure(worker: attempt.worker, trial: attempt.trial, failure: failure)
            }
        }
        for worker in workers { machine.registry.restore(worker, now: now) }
        var resumed = 0
        for var attempt in attempts.sorted(by: { $0.id < $1.id }) where !attempt.status.isTerminal {
            guard let worker = machine.workers[attempt.worker], worker.state != .lost,
                  worker.incarnation == attempt.incarnation, machine.trials[attempt.trial]?.status == .running
            else {
                effects.append(machine.loseAttempt(
                    attempt.id, reason: "the coordinator restarted and attempt \(attempt.id)'s worker was gone", now: now))
                continue
            }
            resumed += 1
            if let value = objectives[attempt.id] { attempt.objective = value }
            if let values = constraintValues[attempt.id] { attempt.constraintValues = values }
            // The lease to confirm an assignment starts again with the coordinator (in memory
            // only): a worker that was waiting for the coordinator has not had the chance.
            if attempt.status == .assigned { attempt.assignedAt = max(attempt.assignedAt, now) }
            machine.record(attempt)
            // An assignment whose reply may have died with the previous coordinator: the worker
            // asks again with the same request id and gets the same attempt.
            if attempt.status == .assigned, let requestID = attempt.requestID {
                machine.registry.remember(assignment: attempt.id, worker: attempt.worker, requestID: requestID)
            }
        }
        for var trial in machine.trials(where: { !$0.status.isTerminal }) {
            let inFlight = machine.active.contains { machine.attempts[$0]?.trial == trial.id }
            if trial.status == .running, inFlight { continue }
            if trial.status != .pending {
                trial.status = .pending
                machine.record(trial)
                effects.changes.append(.trial(trial))
            }
            if !machine.requeued.contains(trial.id) { machine.requeued.append(trial.id) }
        }
        if !trials.isEmpty {
            let live = machine.registry.live.count
            effects.changes.append(.event(CampaignEvent(
                kind: "coordinator.resumed",
                message: "coordinator resumed: \(resumed) attempts in flight on \(live) workers wait for them to re-attach; \(machine.requeued.count) trials queued",
                at: now)))
        }
        effects.append(machine.finishIfDone(now: now))
        machine.dueBy = machine.nextDeadline(now: now)
        return (machine, machine.settled(effects, now: now))
    }



    /// Stores an attempt's new state (the only way `attempts` changes), without its command line
    /// and environment: the store writes those once, when the attempt is assigned (a later change
    /// of the attempt leaves them as they are), and nothing in the machine reads them again. Kept,
    /// they were most of the coordinator's memory per trial (about 1-2 KB, held to the campaign's end).
    mutating func record(_ attempt: AttemptRecord) {
        if attempt.status.isTerminal, attempts[attempt.id].map({ !$0.status.isTerminal }) ?? true {
            meter.attemptEnded(wallMillis: attempt.wallMillis ?? 0, gpus: attempt.gpus.count)
            if attempt.status.ran, let wall = attempt.wallMillis, let stage = trials[attempt.trial]?.stage {
                recentWalls[stage].add(Int64(clamping: wall))
            }
            // What waited behind it runs now; what was queued and ended never ran.
            queuedAhead.ended(attempt.id)
        }
        var attempt = attempt
        attempt.argv = []
        attempt.environment = [:]
        attempts[attempt.id] = attempt
        if attempt.status.isTerminal { active.remove(attempt.id) } else { active.insert(attempt.id) }
    }

    /// Stores a trial's new state (the only way `trials` changes). `shortfall`: how far a trial
    /// completing infeasible missed its constraints, for the sampler's ranking.
    mutating func record(_ trial: TrialRecord, shortfall: Double? = nil) {
        let previous = trials[trial.id]
        if previous == nil, trial.isRepeat { validatedStages.insert(trial.stage) }
        // A repeat is the same configuration again, not a new point of the search: the sampler
        // learns from first results only, so validation cannot pull the search towards what it repeats.
        if trial.status == .completed, previous?.status != .completed, samplers[trial.stage].usesHistory, !trial.isRepeat {
            if trial.feasible == false {
                searchHistories[trial.stage].recordInfeasible(
                    trial.parameters, shortfall: shortfall, objective: trial.objective, endedAt: trial.endedAt ?? 0, trial: trial.id)
            } else if let objective = trial.objective {
                searchHistories[trial.stage].record(trial.parameters, objective: objective, endedAt: trial.endedAt ?? 0, trial: trial.id)
            }
        }
        feeder.recorded(trial, previous: previous)
        trials[trial.id] = trial
        if trial.status == .running { running.insert(trial.id) } else { running.remove(trial.id) }
    }


    /// A trial pruned at `step` with `value`: its stage's Bayesian sampler ranks it below the
    /// completed trials, by the step it reached and that value.
    mutating func recordPruned(_ trial: TrialRecord, step: Int64, value: Double) {
        guard samplers[trial.stage].usesHistory else { return }
        searchHistories[trial.stage].recordPruned(
            trial.parameters, step: step, value: value, direction: stages[trial.stage].pruning?.direction, endedAt: trial.endedAt ?? 0, trial: trial.id)
    }

    // MARK: - Views

    /// The best completed trial by the objective, if the campaign has one and any trial reported it.
    /// For a pipeline: the best of the last stage with an objective. `nil` with several
    /// objectives: a Pareto front has no single best (`intern best` shows the front).
    public var bestTrial: TrialRecord? {
        guard let index = spec.selectionStage, let objective = stages[index].objective, stages[index].extraObjectives.isEmpty
        else { return nil }
        var best: (id: TrialID, value: Double)?
        trials.forEachSummary { id, trial in
            guard trial.isResult(ofStage: index), let value = trial.objective else { return }
            if let current = best, value == current.value || !objective.isBetter(value, than: current.value) { return }
            best = (id, value)
        }
        return best.flatMap { trials[$0.id] }
    }

    /// The trials whose summaries pass `isIncluded`, in id order: only those are unpacked.
    func trials(where isIncluded: (TrialSummary) -> Bool) -> [TrialRecord] {
        var found: [TrialRecord] = []
        trials.forEachSummary { id, summary in
            if isIncluded(summary), let trial = trials[id] { found.append(trial) }
        }
        return found
    }

    /// Trial counts by status (trials not yet drawn count as pending; a later stage not yet fed
    /// counts the trials it would get if every input it may still get came).
    public var progress: CampaignProgress {
        let expected = feeder.expectedTrials(totalTrials: totalTrials)
        var progress = CampaignProgress(total: expected.reduce(0, +))
        trials.forEachSummary { _, trial in
            switch trial.status {
            case .pending: break
            case .running: progress.running += 1
            case .completed: progress.completed += 1
            case .failed: progress.failed += 1
            case .cancelled: progress.cancelled += 1
            case .pruned: progress.pruned += 1
            }
        }
        return progress
    }

    /// The number of work requests waiting for a trial (free slots across the fleet).
    public var parkedCount: Int { parked.count }

    // MARK: - Time

    /// When the machine must next be ticked, if nothing else happens first: the first lease of a
    /// worker or of an unconfirmed assignment to expire, the first long-poll to end, the first
    /// retry whose backoff passes, the budget's end (as it stands at `now`).
    /// `nil`: nothing is due. After `tick(now:)` it is always later than `now` (else the shell's
    /// clock would spin).
    public func nextDeadline(now: Timestamp) -> Timestamp? {
        var deadlines: [Timestamp] = []
        if let lease = registry.nextExpiry { deadlines.append(lease) }
        if let poll = parked.nextExpiry { deadlines.append(poll) }
        for id in active {
            guard let attempt = attempts[id], attempt.status == .assigned else { continue }
            deadlines.append(attempt.assignedAt + config.leaseTimeoutMillis + 1)
        }
        // A retry's backoff ends (whether or not a request waits yet: one parked later may take
        // it). One that has passed is not a deadline: its trial waits for room (a request that
        // fits, `parallel`, a resumed campaign), and each of those is an event that dispatches.
        if let backoff = requeued.lazy.compactMap({ self.trials[$0]?.notBefore }).filter({ $0 > now }).min() {
            deadlines.append(backoff)
        }
        if !isFinished, let budget = meter.deadline(now: now, holding: gpuHoldings) { deadlines.append(budget) }
        return deadlines.min()
    }

    /// The GPUs each attempt in flight holds, since when (for the GPU budget).
    var gpuHoldings: [BudgetMeter.Holding] {
        active.compactMap { id in
            guard let attempt = attempts[id], !attempt.gpus.isEmpty else { return nil }
            return BudgetMeter.Holding(gpus: attempt.gpus.count, since: attempt.startedAt ?? attempt.assignedAt)
        }
    }

    /// Notes a deadline an event made (a lease, a long-poll, an assignment to confirm, a retry's
    /// backoff, the budget's end): the machine is due by it at the latest.
    mutating func note(deadline: Timestamp) {
        dueBy = min(dueBy ?? deadline, deadline)
    }

    /// An event's effects as the shell gets them: with when the machine is due next. That is the
    /// earliest deadline noted since the last tick, never later than ``nextDeadline(now:)`` (it
    /// may be earlier: a lease renewed since, an attempt confirmed; the tick then finds nothing due
    /// and says the true one). Events pay nothing for it; only `tick` looks at every worker,
    /// attempt and request (``nextDeadline(now:)``, 0.13 ms at 1,000 workers × 4 slots).
    mutating func settled(_ effects: Effects, now: Timestamp) -> Effects {
        var effects = effects
        // Nothing noted (nothing live, or nothing due after the last tick): cheap to work out.
        if dueBy == nil { dueBy = nextDeadline(now: now) }
        effects.nextDeadline = dueBy
        return effects
    }
}

/// Trial counts for a progress line.
public struct CampaignProgress: Sendable, Equatable {
    public var total: Int
    public var running = 0
    public var completed = 0
    public var failed = 0
    public var cancelled = 0
    public var pruned = 0

    /// Creates counts for a campaign of `total` trials.
    public init(total: Int) { self.total = total }

    /// Trials that reached a terminal status.
    public var done: Int { completed + failed + cancelled + pruned }
    /// Trials not yet started or waiting for a retry.
    public var pending: Int { total - done - running }
}

/// What `intern add` changed in a running campaign (stored; a restarted coordinator keeps it).
public struct CampaignAdjustments: Sendable, Hashable, Codable {
    public var addedTrials = 0
    public var extraHours = 0.0
    public var extraGPUHours = 0.0
    /// What agents added of it (held to the ``AgentPolicy``).
    public var agentTrials = 0
    public var agentHours = 0.0
    public var agentGPUHours = 0.0

    public init(
        addedTrials: Int = 0, extraHours: Double = 0, extraGPUHours: Double = 0,
        agentTrials: Int = 0, agentHours: Double = 0, agentGPUHours: Double = 0
    ) {
        self.addedTrials = addedTrials
        self.extraHours = extraHours
        self.extraGPUHours = extraGPUHours
        self.agentTrials = agentTrials
        self.agentHours = agentHours
        self.agentGPUHours = agentGPUHours
    }
}