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
    /// `pruning:`), how many trials it has (`created`), how many of them have not ended (`open`).
    private let stages: [Stage]
    private let samplers: [Sampler]
    private var searchHistories: [SearchHistory]
    private var pruners: [Pruner?]
    private var created: [Int]
    private var open: [Int]
    /// By stage: the later stages it feeds.
    private let consumers: [[Int]]
    /// By stage: the trials of its feeding stage that have fed it.
    private var fedParents: [Set<TrialID>]
    /// Waiting stages (`top:` or `barrier:`) that were fed (or found nothing to be fed with).
    private var fedStages: Set<Int> = []
    /// Completed, feasible trials whose streaming consumers may not have been fed yet.
    private var unfed: [TrialID] = []
    /// When the campaign started (its first coordinator), for `budget.hours`.
    private var campaignStartedAt: Timestamp?
    /// GPU-seconds of attempts that ended (those in flight are added when asked).
    private var endedGPUSeconds = 0.0
    /// Why the budget is spent, once it is: nothing more is dispatched.
    private(set) public var budgetSpent: String?
    /// What `intern add` changed: trials beyond the spec's (drawn or enqueued), budget raised by.
    private(set) public var adjustments = CampaignAdjustments()
    /// The number of trials the campaign runs: the spec's plus those added.
    public var totalTrials: Int { spec.trials + adjustments.addedTrials }
    /// The budget in force: the spec's, raised by `intern add`.
    public var budget: Budget {
        var budget = spec.budget
        if let hours = budget.hours { budget.hours = hours + adjustments.extraHours }
        if let gpuHours = budget.gpuHours { budget.gpuHours = gpuHours + adjustments.extraGPUHours }
        return budget
    }
    private(set) public var trials: [TrialID: TrialRecord] = [:]
    private(set) public var attempts: [AttemptID: AttemptRecord] = [:]
    private(set) public var workers: [WorkerID: WorkerRecord] = [:]

    /// The next trial number the sampler has not produced yet.
    private var nextTrial: TrialID = 1
    private var nextAttempt: AttemptID = 1
    /// Trials waiting for a slot after a failed or lost attempt, oldest first.
    private var requeued: [TrialID] = []
    /// Work requests waiting for a trial, oldest first.
    private var parked: [ParkedRequest] = []
    /// Recently answered work requests per worker, to answer a repeated request id identically.
    private var answered: [WorkerID: [(requestID: UInt64, reply: WorkReply)]] = [:]
    /// Cancels not yet confirmed by the worker (the attempt still runs there).
    private var cancelling: Set<AttemptID> = []
    /// Lost attempts whose worker was told to stop them (or whose data was refused): never
    /// re-attached, since the worker may already have dropped what it held for them.
    private var toldToStop: Set<AttemptID> = []
    /// Whether `campaignFinished` has been emitted.
    private(set) public var isFinished = false
    /// Set when the campaign stopped before every trial ended (a circuit breaker tripped for
    /// every configuration): nothing more is dispatched; running the campaign again continues it.
    private(set) public var stoppedReason: String?
    /// The campaign is over for now: finished, or stopped.
    public var isOver: Bool { isFinished || stoppedReason != nil }
    /// Paused by a person (`intern pause`): nothing new is dispatched, attempts in flight go
    /// on, workers wait; stored, so a restarted coordinator stays paused until `intern resume`.
    private(set) public var isPaused = false

    /// Whether the metrics the stages count on are reported at all (see ``MetricCoverage``).
    private(set) public var coverage: MetricCoverage

    private let classifier: FailureClassifier
    /// Retries granted so far across the campaign that count against its budget.
    private var campaignRetriesUsed = 0
    /// The same `user` error on several trials pauses the configurations that would hit it.
    /// Starts afresh with every coordinator: restarting a campaign is how a person says the
    /// cause is fixed.
    private var breaker: CircuitBreaker
    /// Workers whose `infra`/`oom` failures succeed elsewhere (rebuilt from the store on restore).
    private var health: WorkerHealth
    /// Parameters that can take more than one value: only those can make a failure
    /// parameter-dependent (a fixed value is shared by every trial).
    private let variedParameters: Set<String>

    /// A trial's parameters as the circuit breaker sees them, with the parameters it received
    /// from upstream stages (`train.lr`): an eval failing because of its training's learning
    /// rate is parameter-dependent, not a reason to stop everything.
    private func breakerPairs(_ trial: TrialRecord) -> [(name: String, value: String)] {
        let inputs = trial.inputs.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        return (trial.parameters.renderedPairs + inputs).filter { variedParameters.contains($0.name) }
    }

    private struct ParkedRequest: Sendable {
        var token: RequestToken
        var worker: WorkerID
        var incarnation: Incarnation
        var requestID: UInt64
        var since: Timestamp
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
        self.created = stages.map { _ in 0 }
        self.open = stages.map { _ in 0 }
        self.fedParents = stages.map { _ in [] }
        self.consumers = stages.map { feeder in
            stages.indices.filter { stages[$0].input?.stage == feeder.name }
        }
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
    /// holds for attempts in flight (reports stored before the restart are not sent again).
    public static func restore(
        spec: CampaignSpec, config: CoordinatorConfig = CoordinatorConfig(),
        trials: [TrialRecord], attempts: [AttemptRecord], workers: [WorkerRecord] = [],
        objectives: [AttemptID: Double] = [:], constraintValues: [AttemptID: [String: Double]] = [:], paused: Bool = false,
        startedAt: Timestamp? = nil, adjustments: CampaignAdjustments = CampaignAdjustments(), fedStages: Set<Int> = [],
        reportedMetrics: [Int: Set<String>] = [:], now: Timestamp
    ) throws(CampaignProblem) -> (CoordinatorMachine, Effects) {
        var machine = try CoordinatorMachine(spec: spec, config: config)
        machine.adjustments = adjustments
        machine.isPaused = paused
        machine.campaignStartedAt = startedAt
        var effects = Effects()
        if let stray = trials.first(where: { $0.stage < 0 || $0.stage >= machine.stages.count }) {
            throw CampaignProblem(keyPath: "stages", message: "trial \(stray.id) belongs to stage \(stray.stage), which this campaign's spec does not have")
        }
        for trial in trials.sorted(by: { $0.id < $1.id }) { machine.record(trial) }
        for attempt in attempts { machine.record(attempt) }
        machine.nextTrial = (trials.map(\.id).max() ?? 0) + 1
        // A waiting stage with trials was fed, whatever the store says (its trials and the
        // flag are stored together; a store from before the flag has only the trials).
        machine.fedStages = fedStages.filter { machine.stages.indices.contains($0) }.union(machine.stages.indices.filter { machine.created[$0] > 0 && machine.stages[$0].input?.waits == true })
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
        for var worker in workers where worker.state != .lost {
            worker.lastSeen = now
            machine.workers[worker.id] = worker
            machine.answered[worker.id] = []
        }
        for worker in workers where worker.state == .lost { machine.workers[worker.id] = worker }
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
            if attempt.status == .assigned, let requestID = attempt.requestID, let trial = machine.trials[attempt.trial] {
                var plan = machine.makePlan(attempt: attempt.id, trial: trial, number: attempt.number)
                plan.gpus = attempt.gpus
                machine.answered[attempt.worker, default: []].append((requestID, .assignment(plan)))
            }
        }
        for var trial in machine.trials.values.sorted(by: { $0.id < $1.id }) where !trial.status.isTerminal {
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
            let live = machine.workers.values.filter { $0.state != .lost }.count
            effects.changes.append(.event(CampaignEvent(
                kind: "coordinator.resumed",
                message: "coordinator resumed: \(resumed) attempts in flight on \(live) workers wait for them to re-attach; \(machine.requeued.count) trials queued",
                at: now)))
        }
        effects.append(machine.finishIfDone(now: now))
        return (machine, effects)
    }

    // MARK: - Workers

    /// A worker introduced itself. A known worker with the same incarnation re-attaches (its
    /// attempts keep running); a new incarnation replaces the old one, whose attempts are lost.
    /// `held` are the attempts the worker still holds (running, or ended and not yet reported):
    /// those declared lost while it was cut off are taken back here, before any work request of
    /// its can hand their trials out again.
    public mutating func hello(
        worker id: WorkerID, incarnation: Incarnation, hostname: String, pid: Int, slots: Int, gpus: [String],
        cpus: Int = 0, memoryBytes: Int = 0, held: [AttemptID] = [], now: Timestamp
    ) -> Effects {
        var effects = Effects()
        if let known = workers[id], known.incarnation != incarnation, known.state != .lost {
            effects.append(loseWorker(id, reason: "worker \(id) restarted (new incarnation)", now: now))
        }
        let rejoining = workers[id]?.incarnation == incarnation
        var record = WorkerRecord(
            id: id, incarnation: incarnation, hostname: hostname, pid: pid, slots: max(1, slots), gpus: gpus,
            cpus: cpus, memoryBytes: memoryBytes, joinedAt: rejoining ? workers[id]!.joinedAt : now, lastSeen: now)
        if rejoining, workers[id]!.state == .draining { record.state = .draining }
        // Quarantined (its infra/oom failures succeeded elsewhere): it gets no work, whatever
        // incarnation it comes back as.
        if health.isQuarantined(id) { record.state = .draining }
        workers[id] = record
        if !rejoining { answered[id] = [] }
        effects.changes.append(.worker(record))
        for (shortfall, stageNames) in shortfalls(of: record) {
            let what = stageNames.count == stages.count ? "it gets none" : "it gets no trials of stage \(stageNames.joined(separator: ", "))"
            effects.changes.append(.event(CampaignEvent(
                kind: "worker.too_small", message: "worker \(id) offers \(shortfall): \(what)", worker: id, at: now)))
        }
        effects.changes.append(.event(CampaignEvent(
            kind: rejoining ? "worker.reattached" : "worker.joined",
            message: "worker \(id) on \(hostname) (pid \(pid), \(record.slots) slots) \(rejoining ? "re-attached" : "joined")",
            worker: id, at: now)))
        if rejoining { effects.append(reattach(attempts: held, worker: id, incarnation: incarnation, now: now)) }
        return effects
    }

    /// Whether requests from this worker incarnation are accepted; any accepted request renews its lease.
    public mutating func touch(worker id: WorkerID, incarnation: Incarnation, now: Timestamp) -> Refusal? {
        guard let record = workers[id], record.state != .lost else { return .unknownWorker }
        guard record.incarnation == incarnation else { return .fenced }
        workers[id]!.lastSeen = now
        return nil
    }

    /// Stops giving work to a worker; it finishes what it runs.
    public mutating func drain(worker id: WorkerID, now: Timestamp) -> Effects {
        guard var record = workers[id], record.state == .active else { return Effects() }
        record.state = .draining
        workers[id] = record
        var effects = Effects()
        effects.changes.append(.worker(record))
        effects.changes.append(.event(CampaignEvent(kind: "worker.draining", message: "worker \(id) is draining", worker: id, at: now)))
        for request in parked where request.worker == id {
            effects.replies.append(.init(token: request.token, reply: .noWork(.draining)))
        }
        parked.removeAll { $0.worker == id }
        return effects
    }

    // MARK: - Work requests

    /// A worker asks for one attempt for one free slot. The request is answered at once when a
    /// trial can run, otherwise parked until one can, or until the long-poll timeout.
    public mutating func requestWork(
        token: RequestToken, worker id: WorkerID, incarnation: Incarnation, requestID: UInt64, now: Timestamp
    ) -> Effects {
        var effects = Effects()
        if let refusal = touch(worker: id, incarnation: incarnation, now: now) {
            effects.replies.append(.init(token: token, reply: .refused(refusal)))
            return effects
        }
        // A repeated request (the worker's REQ socket resent it after a reconnect) gets the same answer.
        if let previous = answered[id]?.last(where: { $0.requestID == requestID }) {
            effects.replies.append(.init(token: token, reply: previous.reply))
            return effects
        }
        if let index = parked.firstIndex(where: { $0.worker == id && $0.requestID == requestID }) {
            // The old copy's connection is gone; answer it (the answer is dropped) and park the new one.
            effects.replies.append(.init(token: parked[index].token, reply: .noWork(.idle)))
            parked[index].token = token
            return effects
        }
        if isOver {
            effects.replies.append(.init(token: token, reply: .noWork(.finished)))
            return effects
        }
        if workers[id]!.state == .draining {
            effects.replies.append(.init(token: token, reply: .noWork(.draining)))
            return effects
        }
        // A worker holds at most one parked request per slot: a further one supersedes its oldest
        // (a confused or hostile client cannot collect more attempts than it has slots).
        let slots = workers[id]!.slots
        let mine = parked.indices.filter { parked[$0].worker == id }
        if mine.count >= slots, let oldest = mine.first {
            effects.replies.append(.init(token: parked[oldest].token, reply: .noWork(.idle)))
            parked.remove(at: oldest)
        }
        parked.append(ParkedRequest(token: token, worker: id, incarnation: incarnation, requestID: requestID, since: now))
        effects.append(dispatch(now: now))
        return effects
    }

    /// Hands trials to parked requests while there are trials, slots and room under `parallel`.
    private mutating func dispatch(now: Timestamp) -> Effects {
        var effects = Effects()
        let limit = spec.parallel ?? Int.max
        while !parked.isEmpty, !isOver, !isPaused, budgetSpent == nil, attemptsInFlight < limit {
            // The first queued trial that some waiting request has room for, to the oldest such
            // request (any, when its stage needs nothing beyond a slot); a new trial is drawn only
            // when a request has room for the first stage.
            guard let (trialID, index) = takeNextTrial(now: now, effects: &effects) else { break }
            let request = parked.remove(at: index)
            let plan = startAttempt(of: trialID, on: request, now: now, effects: &effects)
            remember(.assignment(plan), for: request)
            effects.replies.append(.init(token: request.token, reply: .assignment(plan)))
        }
        return effects
    }

    /// Whether one more attempt of `stage` fits on `worker`: enough GPUs free on its host, and
    /// CPUs and memory not taken by its attempts in flight (a worker that says nothing of them
    /// has no limit).
    private func fits(_ stage: Stage, on worker: WorkerID) -> Bool {
        guard let record = workers[worker] else { return false }
        if stage.gpus > 0, freeGPUs(of: worker).count < stage.gpus { return false }
        guard stage.cpus > 0 && record.cpus > 0 || stage.memoryBytes > 0 && record.memoryBytes > 0 else { return true }
        var cpus = stage.cpus
        var memory = stage.memoryBytes
        for id in active {
            guard let attempt = attempts[id], attempt.worker == worker, let trial = trials[attempt.trial] else { continue }
            cpus += stages[trial.stage].cpus
            memory += stages[trial.stage].memoryBytes
        }
        if stage.cpus > 0, record.cpus > 0, cpus > record.cpus { return false }
        if stage.memoryBytes > 0, record.memoryBytes > 0, memory > record.memoryBytes { return false }
        return true
    }

    /// What a worker lacks to run even one attempt, said for people, with the stages it cannot
    /// run for that reason (one entry per distinct shortfall; empty: it can run every stage).
    private func shortfalls(of record: WorkerRecord) -> [(String, [String])] {
        var found: [(String, [String])] = []
        for stage in stages {
            guard let lack = shortfall(of: record, for: stage) else { continue }
            if let index = found.firstIndex(where: { $0.0 == lack }) { found[index].1.append(stage.name) } else { found.append((lack, [stage.name])) }
        }
        return found
    }

    private func shortfall(of record: WorkerRecord, for stage: Stage) -> String? {
        let gpus = stage.gpus
        let cpus = stage.cpus
        let memory = stage.memoryBytes
        var lacks: [String] = []
        if gpus > record.gpus.count {
            lacks.append("\(record.gpus.count) GPU\(record.gpus.count == 1 ? "" : "s"); each attempt needs \(gpus)")
        }
        if cpus > 0, record.cpus > 0, cpus > record.cpus {
            lacks.append("\(record.cpus) CPU\(record.cpus == 1 ? "" : "s"); each attempt needs \(cpus)")
        }
        if memory > 0, record.memoryBytes > 0, memory > record.memoryBytes {
            lacks.append("\(ByteSize.describe(record.memoryBytes)) of memory; each attempt needs \(ByteSize.describe(memory))")
        }
        return lacks.isEmpty ? nil : lacks.joined(separator: ", ")
    }

    /// The GPUs of a worker that no attempt in flight holds, in the worker's order. GPU ids
    /// name physical GPUs of a host: attempts of every worker on the same host count (two
    /// workers started on one machine both offer its GPUs).
    private func freeGPUs(of worker: WorkerID) -> [String] {
        guard let all = workers[worker]?.gpus, !all.isEmpty else { return [] }
        let held = heldGPUs(onHostOf: worker)
        return all.filter { !held.contains($0) }
    }

    /// GPU ids held by attempts in flight on the host of `worker` (any worker there).
    private func heldGPUs(onHostOf worker: WorkerID) -> Set<String> {
        let host = workers[worker]?.hostname
        var held: Set<String> = []
        for id in active {
            guard let attempt = attempts[id], !attempt.gpus.isEmpty else { continue }
            if attempt.worker == worker || workers[attempt.worker]?.hostname == host { held.formUnion(attempt.gpus) }
        }
        return held
    }

    /// Trials with an attempt in flight (kept with every trial change, so dispatch is O(1) per trial).
    private var running: Set<TrialID> = []

    /// Attempts assigned or running anywhere: what counts against `parallel`, including those
    /// of a trial cancelled a moment ago whose job is still being stopped (it still holds its GPU).
    public var attemptsInFlight: Int { active.count }

    /// Attempts not yet terminal (assigned or running).
    private var active: Set<AttemptID> = []

    /// Stores an attempt's new state (the only way `attempts` changes).
    private mutating func record(_ attempt: AttemptRecord) {
        if attempt.status.isTerminal, attempts[attempt.id].map({ !$0.status.isTerminal }) ?? true {
            endedGPUSeconds += Double(attempt.wallMillis ?? 0) / 1000 * Double(attempt.gpus.count)
        }
        attempts[attempt.id] = attempt
        if attempt.status.isTerminal { active.remove(attempt.id) } else { active.insert(attempt.id) }
    }

    /// Stores a trial's new state (the only way `trials` changes).
    private mutating func record(_ trial: TrialRecord) {
        let previous = trials[trial.id]
        let completes = trial.status == .completed && trial.feasible != false && previous?.status != .completed
        if completes, samplers[trial.stage].usesHistory, let objective = trial.objective {
            searchHistories[trial.stage].record(trial.parameters, objective: objective, endedAt: trial.endedAt ?? 0, trial: trial.id)
        }
        if completes, !consumers[trial.stage].isEmpty { unfed.append(trial.id) }
        if previous == nil {
            created[trial.stage] += 1
            if let parent = trial.parent { fedParents[trial.stage].insert(parent) }
        }
        open[trial.stage] += (trial.status.isTerminal ? 0 : 1) - (previous.map { $0.status.isTerminal ? 0 : 1 } ?? 0)
        trials[trial.id] = trial
        if trial.status == .running { running.insert(trial.id) } else { running.remove(trial.id) }
    }

    /// The index of the oldest parked request with room for an attempt of `stage`, if any.
    private func placement(forStage stage: Int) -> Int? {
        guard !parked.isEmpty else { return nil }
        return stages[stage].needsResources ? parked.firstIndex { fits(stages[stage], on: $0.worker) } : 0
    }

    /// The next trial to run and the parked request it goes to: the oldest requeued trial whose
    /// backoff has passed and that a request has room for, else a new trial of the first stage
    /// when a request has room for that. A trial whose configuration a circuit breaker blocks is
    /// skipped (cancelled, with why).
    private mutating func takeNextTrial(now: Timestamp, effects: inout Effects) -> (TrialID, Int)? {
        requeued.removeAll { trials[$0]?.status != .pending }
        var index = 0
        while index < requeued.count {
            let id = requeued[index]
            if let notBefore = trials[id]?.notBefore, notBefore > now {
                index += 1
                continue
            }
            if skipIfBlocked(id, now: now, effects: &effects) {
                requeued.remove(at: index)
                continue
            }
            guard let request = placement(forStage: trials[id]!.stage) else {
                index += 1
                continue
            }
            requeued.remove(at: index)
            return (id, request)
        }
        while created[0] < totalTrials, let request = placement(forStage: 0) {
            let id = nextTrial
            nextTrial += 1
            let trial = TrialRecord(id: id, parameters: draw(stage: 0), createdAt: now)
            record(trial)
            effects.changes.append(.trial(trial))
            if skipIfBlocked(id, now: now, effects: &effects) { continue }
            return (id, request)
        }
        return nil
    }

    /// The parameters of the next trial of a stage: its sampler's draw number `created[stage]`,
    /// or for a grid the number `ofInput` within the current input (a fed stage's grid starts
    /// again for every input).
    private func draw(stage index: Int, ofInput: Int? = nil) -> Parameters {
        let sampler = samplers[index]
        var number = created[index]
        if case .grid = stages[index].sampler, let size = stages[index].space.gridSize, size > 0 { number = (ofInput ?? number) % size }
        return sampler.usesHistory ? sampler.parameters(forTrial: number, history: currentSearchHistory(stage: index))
            : sampler.parameters(forTrial: number)
    }

    /// A stage's Bayesian history with its trials in flight set as pending: those drawn and not
    /// ended (running, or waiting in the queue), so its "constant liar" keeps new draws away.
    private func currentSearchHistory(stage index: Int) -> SearchHistory {
        var history = searchHistories[index]
        var open: [Parameters] = []
        for id in running.union(requeued).sorted() {
            if let trial = trials[id], trial.stage == index, !trial.status.isTerminal { open.append(trial.parameters) }
        }
        history.setPending(open)
        return history
    }

    /// Cancels a pending trial that a tripped circuit breaker blocks; true when it did.
    private mutating func skipIfBlocked(_ id: TrialID, now: Timestamp, effects: inout Effects) -> Bool {
        guard var trial = trials[id], let trip = breaker.blocks(parameters: breakerPairs(trial)) else { return false }
        trial.status = .cancelled
        trial.endedAt = now
        trial.note = "skipped: \(trip.reason)"
        record(trial)
        effects.changes.append(.trial(trial))
        effects.changes.append(.event(CampaignEvent(
            kind: "trial.skipped", message: "trial \(id) not run: \(trip.reason)", trial: id, at: now)))
        return true
    }

    private mutating func startAttempt(of trialID: TrialID, on request: ParkedRequest, now: Timestamp, effects: inout Effects) -> AttemptPlan {
        var trial = trials[trialID]!
        trial.status = .running
        trial.attemptCount += 1
        let id = nextAttempt
        nextAttempt += 1
        var plan = makePlan(attempt: id, trial: trial, number: trial.attemptCount)
        let gpus = stages[trial.stage].gpus
        plan.gpus = gpus == 0 ? [] : Array(freeGPUs(of: request.worker).prefix(gpus))
        var attempt = AttemptRecord(
            id: id, trial: trialID, number: trial.attemptCount, worker: request.worker, incarnation: request.incarnation,
            argv: plan.argv, assignedAt: now)
        attempt.requestID = request.requestID
        attempt.gpus = plan.gpus
        attempt.environment = Dictionary(plan.environment, uniquingKeysWith: { $1 })
        record(trial)
        record(attempt)
        effects.changes.append(.trial(trial))
        effects.changes.append(.attempt(attempt))
        return plan
    }

    private func makePlan(attempt: AttemptID, trial: TrialRecord, number: Int) -> AttemptPlan {
        let stage = stages[trial.stage]
        // Inputs (`{train.checkpoint}`) render like parameters; a parameter of the same name wins.
        var values = trial.parameters
        for (name, text) in trial.inputs where values[name] == nil { values[name] = .string(text) }
        let argv = stage.command.render(parameters: values, trial: trial.id, attempt: number, campaign: spec.name)
        var environment = spec.environment
        environment["INTERN_CAMPAIGN"] = spec.name
        environment["INTERN_TRIAL"] = String(trial.id)
        environment["INTERN_ATTEMPT"] = String(number)
        environment["INTERN_ATTEMPT_ID"] = String(attempt)
        if stage.cpus > 0 { environment["INTERN_CPUS"] = String(stage.cpus) }
        if stage.memoryBytes > 0 { environment["INTERN_MEMORY_BYTES"] = String(stage.memoryBytes) }
        if spec.isPipeline { environment["INTERN_STAGE"] = stage.name }
        if let parent = trial.parent { environment["INTERN_PARENT_TRIAL"] = String(parent) }
        for (name, text) in trial.inputs {
            environment[CampaignSpec.environmentName(forInput: name)] = text
        }
        let rendered = trial.parameters.sortedPairs.map { ($0.0, $0.1.text) }
        for (name, value) in rendered {
            environment[CampaignSpec.environmentName(forParameter: name)] = value
        }
        let timeout = stage.timeoutSeconds.map { UInt64(($0 * 1000).rounded()) } ?? 0
        let resultFiles = stage.resultFiles.sorted { $0.key < $1.key }.map { name, path in
            (name, CommandTemplate(argv: [path]).render(parameters: values, trial: trial.id, attempt: number, campaign: spec.name)[0])
        }
        var plan = AttemptPlan(
            attempt: attempt, trial: trial.id, number: number, argv: argv, shell: stage.command.shell,
            environment: environment.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
            workdir: spec.workdir, timeoutMillis: timeout, parameters: rendered)
        plan.resultFiles = resultFiles
        return plan
    }

    private mutating func remember(_ reply: WorkReply, for request: ParkedRequest) {
        var memory = answered[request.worker, default: []]
        memory.append((request.requestID, reply))
        if memory.count > config.replyMemory { memory.removeFirst(memory.count - config.replyMemory) }
        answered[request.worker] = memory
    }

    // MARK: - Heartbeats and reports

    /// What a heartbeat reply tells a worker.
    public struct HeartbeatAnswer: Sendable, Equatable {
        /// Attempts to terminate: cancelled by request, or unknown to the coordinator (fenced).
        public var cancel: [AttemptID] = []
        /// Finish what runs, take nothing new.
        public var drain = false
        /// The campaign is over and nothing of this worker's runs: exit.
        public var shutdown = false
        /// Set when the worker must say hello again (or stop, when fenced).
        public var refusal: Refusal?
    }

    /// A worker's heartbeat: renews its lease, confirms the attempts it runs, and collects the
    /// cancels meant for it.
    public mutating func heartbeat(
        worker id: WorkerID, incarnation: Incarnation, running: [AttemptID], leaving: Bool = false, now: Timestamp
    ) -> (HeartbeatAnswer, Effects) {
        var answer = HeartbeatAnswer()
        var effects = Effects()
        if let refusal = touch(worker: id, incarnation: incarnation, now: now) {
            answer.refusal = refusal
            return (answer, effects)
        }
        if leaving {
            // It takes no more work: its parked requests are answered, and what was assigned to
            // it but is not running there never will (the reply reached a closed request).
            effects.append(drain(worker: id, now: now))
            for attemptID in active.sorted() {
                guard var attempt = attempts[attemptID], attempt.worker == id, attempt.incarnation == incarnation,
                      attempt.status == .assigned, !running.contains(attemptID) else { continue }
                attempt.status = .preempted
                attempt.detail = "worker \(id) left before starting it"
                attempt.endedAt = now
                settleFailure(attempt, evidence: FailureEvidence(kind: .preempted, killedByIntern: true), now: now, effects: &effects)
            }
        }
        effects.append(reattach(attempts: running, worker: id, incarnation: incarnation, now: now))
        for attemptID in running {
            guard var attempt = attempts[attemptID], attempt.worker == id, attempt.incarnation == incarnation,
                  !attempt.status.isTerminal
            else {
                // Not ours to run (lost and requeued, or from another life): stop it.
                answer.cancel.append(attemptID)
                toldToStop.insert(attemptID)
                continue
            }
            if attempt.status == .assigned {
                attempt.status = .running
                record(attempt)
                effects.changes.append(.attempt(attempt))
            }
            if cancelling.contains(attemptID) { answer.cancel.append(attemptID) }
        }
        answer.drain = workers[id]!.state == .draining
        answer.shutdown = isOver && running.isEmpty
        return (answer, effects)
    }

    /// A worker incarnation speaks of attempts it still runs (in a heartbeat or a report). An
    /// attempt of that incarnation that was declared lost while the worker was cut off, and
    /// whose trial has not run again since, is taken back: it continues where it is instead of
    /// running twice. Any other lost attempt stays lost (the worker is told to stop it).
    public mutating func reattach(attempts ids: [AttemptID], worker id: WorkerID, incarnation: Incarnation, now: Timestamp) -> Effects {
        var effects = Effects()
        for attemptID in ids {
            guard !toldToStop.contains(attemptID), var attempt = attempts[attemptID], attempt.status == .lost, attempt.worker == id,
                  attempt.incarnation == incarnation, workers[id]?.incarnation == incarnation, workers[id]?.state != .lost,
                  var trial = trials[attempt.trial], trial.status == .pending,
                  !active.contains(where: { attempts[$0]?.trial == trial.id })
            else { continue }
            // Its GPUs went to another attempt meanwhile: it cannot continue (the worker is told to stop it).
            guard heldGPUs(onHostOf: id).isDisjoint(with: attempt.gpus) else {
                toldToStop.insert(attemptID)
                continue
            }
            attempt.status = .running
            attempt.detail = nil
            attempt.endedAt = nil
            attempt.failureClass = nil
            attempt.failureSignature = nil
            attempt.failureReason = nil
            attempt.signatureText = nil
            attempt.failureExcerpt = nil
            record(attempt)
            // The loss did not happen after all: its retry is given back.
            trial.status = .running
            trial.notBefore = nil
            trial.lostCount = max(0, trial.lostCount - 1)
            if trial.retryCounts[.lost] > 0 {
                trial.retryCounts.byClass[.lost]! -= 1
                trial.retriesUsed = max(0, trial.retriesUsed - 1)
                campaignRetriesUsed = max(0, campaignRetriesUsed - 1)
            }
            record(trial)
            requeued.removeAll { $0 == trial.id }
            effects.changes.append(.attempt(attempt))
            effects.changes.append(.trial(trial))
            effects.changes.append(.event(CampaignEvent(
                kind: "attempt.reattached",
                message: "attempt \(attempt.id) of trial \(trial.id) re-attached: worker \(id) still runs it after being cut off",
                trial: trial.id, attempt: attempt.id, worker: id, at: now)))
        }
        return effects
    }

    /// The shell refused data about these attempts (the worker drops what it holds for them):
    /// they can no longer be re-attached.
    public mutating func refusedData(of ids: [AttemptID]) {
        toldToStop.formUnion(ids)
    }

    /// What a report may store, decided before anything is stored (``admitReport``).
    public struct ReportAdmission: Sendable, Equatable {
        /// Set when the worker must say hello again (or stop, when fenced): nothing is stored.
        public var refusal: Refusal?
        /// Attempts whose data (log frames, metric samples, provenance) is stored.
        public var accepted: Set<AttemptID> = []
        /// Attempts whose data is refused: the worker drops what it holds for them, and they
        /// can never be re-attached.
        public var unknown: [AttemptID] = []
        public var effects = Effects()
    }

    /// A report arrives, carrying data (log frames, metric samples, provenance) about the
    /// attempts `dataAbout` and the ends of `endsOf`. First, data about an attempt lost while
    /// its worker was cut off takes it back when its trial has not run again (its output and end
    /// then count, once); then each attempt's data is accepted or refused, all kinds alike.
    /// The shell stores what is accepted, then calls ``reportStored``.
    public mutating func admitReport(
        worker id: WorkerID, incarnation: Incarnation, dataAbout: Set<AttemptID>, endsOf: [AttemptID], now: Timestamp
    ) -> ReportAdmission {
        var admission = ReportAdmission()
        if let refusal = touch(worker: id, incarnation: incarnation, now: now) {
            admission.refusal = refusal
            return admission
        }
        admission.effects = reattach(attempts: dataAbout.union(endsOf).sorted(), worker: id, incarnation: incarnation, now: now)
        admission.accepted = dataAbout.filter { accepts(attempt: $0, from: id, incarnation: incarnation) }
        admission.unknown = dataAbout.subtracting(admission.accepted).sorted()
        refusedData(of: admission.unknown)
        return admission
    }

    /// A metric sample a report stored for the first time.
    public struct StoredSample: Sendable, Equatable {
        public var attempt: AttemptID
        public var name: String
        public var step: Int64
        public var value: Double

        public init(attempt: AttemptID, name: String, step: Int64, value: Double) {
            self.attempt = attempt
            self.name = name
            self.step = step
            self.value = value
        }
    }

    /// What a report stored (after ``admitReport``): the samples stored for the first time, in
    /// order (those of ``watchedMetrics`` count for objectives, constraints and early stopping;
    /// a resent sample is not seen again), then the attempts' ends, in order.
    public mutating func reportStored(
        samples: [StoredSample], ends: [AttemptEnd], worker id: WorkerID, incarnation: Incarnation, now: Timestamp
    ) -> Effects {
        var effects = Effects()
        for sample in samples where watchedMetrics.contains(sample.name) {
            effects.append(metricStored(attempt: sample.attempt, name: sample.name, step: sample.step, value: sample.value, now: now))
        }
        for end in ends {
            effects.append(attemptEnded(end, worker: id, incarnation: incarnation, now: now))
        }
        return effects
    }


    /// Whether the coordinator stores data (log frames, metrics) about this attempt from this
    /// worker incarnation. Data about an attempt that belongs to someone else is fenced off.
    public func accepts(attempt id: AttemptID, from worker: WorkerID, incarnation: Incarnation) -> Bool {
        guard let attempt = attempts[id] else { return false }
        return attempt.worker == worker && attempt.incarnation == incarnation && attempt.status != .lost
    }

    /// A metric sample newly stored for an attempt (worker-parsed, in order, each sample once):
    /// it counts for the objective, for a constraint, and for early stopping, as the spec says.
    /// The shell passes every such sample of a metric in ``watchedMetrics``.
    public mutating func metricStored(attempt id: AttemptID, name: String, step: Int64, value: Double, now: Timestamp) -> Effects {
        guard let attempt = attempts[id], let trial = trials[attempt.trial] else { return Effects() }
        let stage = stages[trial.stage]
        if name == stage.objective?.metric { objectiveObserved(attempt: id, value: value) }
        if stage.constraints.contains(where: { $0.metric == name }) || stage.extraObjectives.contains(where: { $0.metric == name }) {
            constraintMetricObserved(attempt: id, name: name, value: value)
        }
        return name == stage.pruning?.metric ? intermediateObserved(attempt: id, step: step, value: value, now: now) : Effects()
    }

    /// The metrics the logic acts on, in any stage: objectives', constraints', pruning rules'
    /// (the stages are fixed, so this is worked out once, not for every report).
    public let watchedMetrics: Set<String>

    static func watchedMetrics(of stages: [Stage]) -> Set<String> {
        var names: Set<String> = []
        for stage in stages {
            names.formUnion(stage.constraints.map(\.metric))
            names.formUnion(stage.objectives.map(\.metric))
            if let pruning = stage.pruning { names.insert(pruning.metric) }
        }
        return names
    }

    /// The objective metric of its stage was reported for an attempt (worker-parsed, in order).
    public mutating func objectiveObserved(attempt id: AttemptID, value: Double) {
        guard var attempt = attempts[id], let trial = trials[attempt.trial], let objective = stages[trial.stage].objective,
              !value.isNaN else { return }
        if objective.summary == .best {
            // An infinite value is a blow-up, never a best (a run that ends infinite is diverged).
            guard value.isFinite else { return }
            if let current = attempt.objective, !objective.isBetter(value, than: current) { return }
        }
        attempt.objective = value
        record(attempt)
    }

    /// The pruning metric was reported for an attempt at `step` (worker-parsed, in order, each
    /// point once). A trial the rule stops is marked `pruned` and its attempt is stopped on its
    /// worker (delivered in the worker's next heartbeat reply, like a cancel).
    public mutating func intermediateObserved(attempt id: AttemptID, step: Int64, value: Double, now: Timestamp) -> Effects {
        var effects = Effects()
        guard let attempt = attempts[id], !attempt.status.isTerminal, let trial = trials[attempt.trial], trial.status == .running,
              pruners[trial.stage] != nil, let reason = pruners[trial.stage]!.observe(trial: attempt.trial, step: step, value: value)
        else { return effects }
        endEarly(trial: attempt.trial, as: .pruned, note: "pruned: " + reason, now: now, effects: &effects)
        effects.changes.append(.event(CampaignEvent(
            kind: "trial.pruned", message: "trial \(attempt.trial) pruned: \(reason)", trial: attempt.trial, attempt: id, at: now)))
        effects.append(dispatch(now: now))
        effects.append(finishIfDone(now: now))
        return effects
    }

    /// Replays a stored value into the pruner without acting on it (restore).
    public mutating func replayIntermediate(trial: TrialID, step: Int64, value: Double) {
        _ = pruners[trials[trial]?.stage ?? 0]?.observe(trial: trial, step: step, value: value)
    }

    /// A constrained metric, or an objective after the first, was reported for an attempt: a
    /// constraint judges its last value; an objective keeps its last or best, as it says.
    public mutating func constraintMetricObserved(attempt id: AttemptID, name: String, value: Double) {
        guard var attempt = attempts[id], !attempt.status.isTerminal, let trial = trials[attempt.trial] else { return }
        let stage = stages[trial.stage]
        if let objective = stage.extraObjectives.first(where: { $0.metric == name }) {
            guard !value.isNaN, value.isFinite || objective.summary == .last else { return }
            if objective.summary == .best, let current = attempt.constraintValues[name], !objective.isBetter(value, than: current) { return }
        } else if !stage.constraints.contains(where: { $0.metric == name }) {
            return
        }
        attempt.constraintValues[name] = value
        record(attempt)
    }

    /// An attempt's process ended. Its trial completes, is retried within the budget, or fails.
    /// An end for an attempt that is unknown, fenced, or already terminal is recorded as an
    /// event and changes nothing (so a repeated report is harmless).
    public mutating func attemptEnded(_ end: AttemptEnd, worker id: WorkerID, incarnation: Incarnation, now: Timestamp) -> Effects {
        var effects = Effects()
        guard var attempt = attempts[end.attempt], attempt.worker == id, attempt.incarnation == incarnation else {
            effects.changes.append(.event(CampaignEvent(
                kind: "attempt.end_fenced", message: "ignored the end of attempt \(end.attempt) from \(id): not its attempt",
                attempt: end.attempt, worker: id, at: now)))
            return effects
        }
        guard !attempt.status.isTerminal else {
            if attempt.status == .lost {
                effects.changes.append(.event(CampaignEvent(
                    kind: "attempt.late_end", message: "attempt \(attempt.id) ended after it was declared lost; not counted",
                    trial: attempt.trial, attempt: attempt.id, worker: id, at: now)))
            }
            return effects
        }
        cancelling.remove(attempt.id)
        attempt.status = end.outcome.attemptStatus
        attempt.startedAt = end.startedAt
        attempt.endedAt = end.endedAt
        attempt.wallMillis = end.wallMillis
        attempt.userCPUMillis = end.userCPUMillis
        attempt.systemCPUMillis = end.systemCPUMillis
        attempt.peakRSSBytes = end.peakRSSBytes
        switch end.outcome {
        case .exited(let code): attempt.exitCode = code
        case .signaled(let signal): attempt.signal = signal
        case .failedToStart(let reason): attempt.detail = reason
        case .timedOut:
            let timeout = trials[attempt.trial].flatMap { stages[$0.stage].timeoutSeconds }
            attempt.detail = "timed out after \(timeout.map { "\($0) s" } ?? "its timeout")"
        case .cancelled: attempt.detail = "cancelled"
        case .preempted: attempt.detail = "preempted: worker \(id) was leaving"
        }
        attempt.outputs = end.outputs
        let stageIndex = trials[attempt.trial]?.stage
        let stage = stageIndex.map { stages[$0] }
        if let stageIndex { coverage.reported(end.metrics.keys, stage: stageIndex) }
        let declared = (stage?.outputs ?? []) + (stage?.resultFiles.keys.sorted() ?? [])
        let missing = attempt.status == .succeeded ? declared.filter { end.outputs[$0] == nil } : []
        let nonFinite = attempt.status == .succeeded ? stage.map { Self.nonFiniteEnds(end.metrics, of: $0) } ?? [] : []
        if !missing.isEmpty {
            // It exited 0 but did not produce what later stages need: a failure of the job.
            attempt.status = .failed
            settleFailure(attempt, evidence: FailureEvidence(kind: .missingOutputs(missing), logTail: end.logTail), now: now, effects: &effects)
        } else if !nonFinite.isEmpty {
            // It exited 0 but its objective or its loss ended NaN or infinite: it diverged.
            attempt.status = .failed
            settleFailure(attempt, evidence: FailureEvidence(kind: .nonFiniteMetrics(nonFinite), logTail: end.logTail), now: now, effects: &effects)
        } else if attempt.status == .succeeded, let stage, let stageIndex {
            record(attempt)
            effects.changes.append(.attempt(attempt))
            var trial = trials[attempt.trial]!
            breaker.recordSuccess(trial: trial.id, parameters: breakerPairs(trial))
            effects.append(quarantine(health.recordSuccess(worker: attempt.worker, trial: trial.id), now: now))
            if trial.status == .running {
                trial.status = .completed
                trial.objective = attempt.objective
                trial.outputs = attempt.outputs
                trial.endedAt = now
                if !stage.constraints.isEmpty {
                    let violation = Constraint.violation(of: stage.constraints, values: attempt.constraintValues)
                    trial.feasible = violation == nil
                    if let violation {
                        trial.note = "infeasible: " + violation
                        effects.changes.append(.event(CampaignEvent(
                            kind: "trial.infeasible", message: "trial \(trial.id) is infeasible: \(violation)", trial: trial.id, at: now)))
                    }
                }
                record(trial)
                effects.changes.append(.trial(trial))
                for metric in coverage.trialCompleted(stage: stageIndex) {
                    effects.changes.append(.event(CampaignEvent(kind: "metric.missing", message: metric.message, trial: trial.id, at: now)))
                }
            }
        } else if let kind = FailureEvidence.Kind(end.outcome) {
            let killedByIntern: Bool = switch end.outcome {
            case .timedOut, .preempted, .cancelled: true
            default: false
            }
            settleFailure(
                attempt, evidence: FailureEvidence(kind: kind, killedByIntern: killedByIntern, logTail: end.logTail, peakRSSBytes: end.peakRSSBytes),
                now: now, effects: &effects)
        } else {
            // Cancelled: its trial was cancelled (or the attempt fenced) already.
            record(attempt)
            effects.changes.append(.attempt(attempt))
            var trial = trials[attempt.trial]!
            if trial.status == .running {
                trial.status = .pending
                requeued.append(trial.id)
                record(trial)
                effects.changes.append(.trial(trial))
            }
        }
        effects.append(dispatch(now: now))
        effects.append(finishIfDone(now: now))
        return effects
    }

    /// The metrics of `stage` that ended NaN or infinite although the job exited 0: its
    /// objectives', and any whose name says it is a loss (`loss`, `eval_loss`, `val_loss`), as
    /// `name = value` in name order. Other metrics may be non-finite on purpose (`grad_norm` when
    /// mixed precision skips a step).
    static func nonFiniteEnds(_ last: [String: Double], of stage: Stage) -> [String] {
        let objectives = Set(stage.objectives.map(\.metric))
        return last.filter { name, value in
            !value.isFinite && (objectives.contains(name) || name.lowercased().contains("loss"))
        }
        .sorted { $0.key < $1.key }
        .map { "\($0.key) = \($0.value.isNaN ? "nan" : ($0.value > 0 ? "inf" : "-inf"))" }
    }

    // MARK: - Cancel

    /// Cancels a trial: a pending one ends at once; a running one is terminated on its worker
    /// (delivered in the worker's next heartbeat reply).
    public mutating func cancel(trial id: TrialID, now: Timestamp) -> Effects {
        var effects = Effects()
        guard trials[id].map({ !$0.status.isTerminal }) == true else { return effects }
        endEarly(trial: id, as: .cancelled, note: nil, now: now, effects: &effects)
        effects.changes.append(.event(CampaignEvent(kind: "trial.cancelled", message: "trial \(id) cancelled", trial: id, at: now)))
        effects.append(dispatch(now: now))
        effects.append(finishIfDone(now: now))
        return effects
    }

    // MARK: - Steering

    /// `intern add`: enqueues `configurations` (each a full assignment of the space, run next, in
    /// order), adds `trials` more for the sampler to draw, and raises the budget. Returns what it
    /// did in words, or why nothing was done (a configuration outside the space, a finished campaign).
    public mutating func add(
        configurations: [Parameters], trials: Int = 0, hours: Double = 0, gpuHours: Double = 0, now: Timestamp
    ) -> (Effects, String) {
        var effects = Effects()
        guard !isFinished else { return (effects, "the campaign is finished; nothing added") }
        // A request comes from a person or a peer: every amount is checked before any arithmetic.
        guard trials >= 0, trials <= CampaignLimits.maxTrials, configurations.count <= CampaignLimits.maxTrials,
              CampaignLimits.isAmount(hours, atMost: CampaignLimits.maxHours),
              CampaignLimits.isAmount(gpuHours, atMost: CampaignLimits.maxGPUHours)
        else {
            return (effects, "nothing added: --trials must be 0 to \(CampaignLimits.maxTrials), --hours 0 to \(Int(CampaignLimits.maxHours)), --gpu-hours 0 to \(Int(CampaignLimits.maxGPUHours))")
        }
        guard totalTrials + configurations.count + trials <= CampaignLimits.maxTrials else {
            return (effects, "nothing added: a campaign has at most \(CampaignLimits.maxTrials) trials (it has \(totalTrials))")
        }
        guard adjustments.extraHours + hours <= CampaignLimits.maxHours, adjustments.extraGPUHours + gpuHours <= CampaignLimits.maxGPUHours else {
            return (effects, "nothing added: the budget would exceed \(Int(CampaignLimits.maxHours)) hours or \(Int(CampaignLimits.maxGPUHours)) GPU-hours")
        }
        if trials > 0 || !configurations.isEmpty, let fed = fedStages.min(), let input = stages[fed].input {
            return (effects, "nothing added: stage \(stages[fed].name) has already chosen from the trials of \(input.stage), so trials added now would never reach it")
        }
        let normalized = configurations.map(spec.space.normalized)
        if let index = normalized.firstIndex(where: { !spec.space.contains($0) }) {
            return (effects, "nothing added: configuration \(index + 1) (\(normalized[index])) is not in the space")
        }
        // Enqueued configurations take the next trial numbers; the sampler continues after them.
        for parameters in normalized {
            let trial = TrialRecord(id: nextTrial, parameters: parameters, createdAt: now)
            nextTrial += 1
            record(trial)
            requeued.append(trial.id)
            effects.changes.append(.trial(trial))
        }
        adjustments.addedTrials += normalized.count + trials
        adjustments.extraHours += hours
        adjustments.extraGPUHours += gpuHours
        var said: [String] = []
        if !normalized.isEmpty { said.append("\(normalized.count) configuration\(normalized.count == 1 ? "" : "s") enqueued") }
        if trials > 0 { said.append("\(trials) more trial\(trials == 1 ? "" : "s") to draw") }
        if hours > 0 { said.append("budget +\(hours) hours") }
        if gpuHours > 0 { said.append("budget +\(gpuHours) GPU-hours") }
        let outcome = said.isEmpty ? "nothing to add" : said.joined(separator: ", ") + " (\(totalTrials) trials in all)"
        guard !said.isEmpty else { return (effects, outcome) }
        effects.changes.append(.campaignAdjusted(adjustments))
        effects.changes.append(.event(CampaignEvent(kind: "campaign.added", message: outcome, at: now)))
        // A raised budget may no longer be spent.
        if budgetSpent != nil, hours > 0 || gpuHours > 0 { budgetSpent = nil }
        effects.append(checkBudget(now: now))
        effects.append(dispatch(now: now))
        return (effects, outcome)
    }

    /// Pauses (`true`) or resumes (`false`) dispatch. Attempts in flight go on either way; a
    /// paused campaign's retries and new trials wait. No change when already so.
    public mutating func setPaused(_ paused: Bool, now: Timestamp) -> Effects {
        var effects = Effects()
        guard paused != isPaused, !isFinished else { return effects }
        isPaused = paused
        effects.changes.append(.campaignPaused(paused, at: now))
        if !paused { effects.append(dispatch(now: now)) }
        return effects
    }

    /// Ends a trial that has not ended (cancelled, pruned, stopped by the budget): its attempts in
    /// flight are stopped on their workers (in their next heartbeat reply), and nothing reruns it.
    private mutating func endEarly(trial id: TrialID, as status: TrialStatus, note: String?, now: Timestamp, effects: inout Effects) {
        guard var trial = trials[id] else { return }
        for attemptID in active where attempts[attemptID]?.trial == id { cancelling.insert(attemptID) }
        trial.status = status
        trial.endedAt = now
        if let note { trial.note = note }
        record(trial)
        effects.changes.append(.trial(trial))
    }

    // MARK: - Time

    /// Advances time: expires leases and unconfirmed assignments, answers long-polls that
    /// waited long enough, checks the budget, and dispatches what became possible.
    public mutating func tick(now: Timestamp) -> Effects {
        var effects = Effects()
        effects.append(checkBudget(now: now))
        for worker in workers.values.sorted(by: { $0.id < $1.id })
        where worker.state != .lost && now - worker.lastSeen > config.leaseTimeoutMillis {
            effects.append(loseWorker(worker.id, reason: "worker \(worker.id) missed its heartbeats for \(now - worker.lastSeen) ms", now: now))
        }
        for id in active.sorted() {
            guard let attempt = attempts[id], attempt.status == .assigned,
                  now - attempt.assignedAt > config.leaseTimeoutMillis else { continue }
            effects.append(loseAttempt(id, reason: "worker \(attempt.worker) never confirmed the assignment", now: now))
        }
        let expired = parked.filter { now - $0.since >= config.longPollMillis }
        parked.removeAll { now - $0.since >= config.longPollMillis }
        for request in expired {
            effects.replies.append(.init(token: request.token, reply: .noWork(.idle)))
        }
        effects.append(dispatch(now: now))
        effects.append(finishIfDone(now: now))
        return effects
    }

    private mutating func loseWorker(_ id: WorkerID, reason: String, now: Timestamp) -> Effects {
        var effects = Effects()
        guard var worker = workers[id] else { return effects }
        worker.state = .lost
        workers[id] = worker
        effects.changes.append(.worker(worker))
        effects.changes.append(.event(CampaignEvent(kind: "worker.lost", message: reason, worker: id, at: now)))
        for attemptID in active.sorted() {
            guard let attempt = attempts[attemptID], attempt.worker == id, attempt.incarnation == worker.incarnation else { continue }
            effects.append(loseAttempt(attemptID, reason: reason, now: now))
        }
        for request in parked where request.worker == id {
            effects.replies.append(.init(token: request.token, reply: .refused(.unknownWorker)))
        }
        parked.removeAll { $0.worker == id }
        answered[id] = nil
        return effects
    }

    private mutating func loseAttempt(_ id: AttemptID, reason: String, now: Timestamp) -> Effects {
        var effects = Effects()
        guard var attempt = attempts[id], !attempt.status.isTerminal else { return effects }
        attempt.status = .lost
        attempt.detail = reason
        attempt.endedAt = now
        cancelling.remove(id)
        effects.changes.append(.event(CampaignEvent(
            kind: "attempt.lost", message: reason, trial: attempt.trial, attempt: id, worker: attempt.worker, at: now)))
        settleFailure(attempt, evidence: FailureEvidence(kind: .lost), now: now, effects: &effects)
        return effects
    }

    // MARK: - Failures

    /// Records a failed, lost or preempted attempt with its class and signature, feeds the
    /// circuit breaker and worker health, and decides its trial: retried (after its backoff,
    /// within the budgets of its class, the trial and the campaign) or failed, with why.
    private mutating func settleFailure(_ attempt: AttemptRecord, evidence: FailureEvidence, now: Timestamp, effects: inout Effects) {
        var attempt = attempt
        let diagnosis = classifier.classify(evidence)
        let failure = diagnosis.failureClass
        let signature = diagnosis.signature ?? FailureSignature.make(fallback: "\(failure): \(Self.describe(attempt))")
        attempt.failureClass = failure
        attempt.failureSignature = signature.digest
        attempt.failureReason = diagnosis.reason
        attempt.signatureText = signature.text
        attempt.failureExcerpt = signature.excerpt
        record(attempt)
        effects.changes.append(.attempt(attempt))

        guard var trial = trials[attempt.trial] else { return }
        health.recordFailure(worker: attempt.worker, trial: trial.id, failure: failure)
        if let trip = breaker.record(
            failure: failure, signature: signature.digest, trial: trial.id, parameters: breakerPairs(trial),
            summary: signature.excerpt) {
            effects.changes.append(.event(CampaignEvent(kind: "circuit.tripped", message: trip.reason, trial: trial.id, at: now)))
            if trip.blocksAll, stoppedReason == nil {
                // Nothing more is dispatched; workers learn it now, running attempts finish.
                stoppedReason = trip.reason
                effects.changes.append(.campaignStopped(reason: trip.reason, at: now))
                for request in parked {
                    effects.replies.append(.init(token: request.token, reply: .noWork(.finished)))
                }
                parked.removeAll()
            }
        }
        guard trial.status == .running else { return }
        if failure == .lost { trial.lostCount += 1 }
        switch spec.retryDecision(for: failure, trial: trial.retryCounts, campaignRetriesUsed: campaignRetriesUsed) {
        case .retry(let after, let consumesBudget):
            trial.retryCounts.record(failure)
            if consumesBudget {
                trial.retriesUsed += 1
                campaignRetriesUsed += 1
            }
            trial.status = .pending
            trial.notBefore = after > 0 ? now + after : nil
            requeued.append(trial.id)
            effects.changes.append(.event(CampaignEvent(
                kind: "trial.retried",
                message: "trial \(trial.id) runs again\(after > 0 ? " in \(Double(after) / 1000) s" : ""): attempt \(attempt.id) \(failure) (\(diagnosis.reason))",
                trial: trial.id, attempt: attempt.id, at: now)))
        case .giveUp(let why):
            trial.status = .failed
            trial.endedAt = now
            trial.note = "\(failure): \(diagnosis.reason); \(why)"
        }
        record(trial)
        effects.changes.append(.trial(trial))
    }

    /// How an attempt ended, in words, for a signature when its log says nothing.
    private static func describe(_ attempt: AttemptRecord) -> String {
        if let code = attempt.exitCode { return "exit code \(code)" }
        if let signal = attempt.signal { return "signal \(signal)" }
        return attempt.status.rawValue
    }

    /// Workers newly found unhealthy stop getting work (they drain), with why.
    private mutating func quarantine(_ ids: [WorkerID], now: Timestamp) -> Effects {
        var effects = Effects()
        for id in ids {
            let reason = health.quarantined[id] ?? "too many infra/oom failures that succeeded elsewhere"
            effects.changes.append(.event(CampaignEvent(kind: "worker.quarantined", message: "worker \(id) quarantined: \(reason)", worker: id, at: now)))
            effects.append(drain(worker: id, now: now))
        }
        return effects
    }

    /// Stops dispatch once the budget is spent; with `on_exhausted: stop`, stops what runs too.
    private mutating func checkBudget(now: Timestamp) -> Effects {
        var effects = Effects()
        guard budget.isSet, budgetSpent == nil, !isFinished else { return effects }
        if campaignStartedAt == nil { campaignStartedAt = now }
        var gpuSeconds = endedGPUSeconds
        for id in active {
            guard let attempt = attempts[id], !attempt.gpus.isEmpty else { continue }
            gpuSeconds += Double(max(0, now - (attempt.startedAt ?? attempt.assignedAt))) / 1000 * Double(attempt.gpus.count)
        }
        guard let reason = budget.exhausted(startedAt: campaignStartedAt!, now: now, gpuSeconds: gpuSeconds) else { return effects }
        budgetSpent = reason
        let stopping = budget.onExhausted == .stop
        effects.changes.append(.event(CampaignEvent(
            kind: "campaign.budget",
            message: reason + (stopping ? ": stopping the \(attemptsInFlight) attempts in flight" : ": the \(attemptsInFlight) attempts in flight finish, nothing new starts"),
            at: now)))
        if stopping {
            for id in running.sorted() {
                endEarly(trial: id, as: .cancelled, note: "stopped: " + reason, now: now, effects: &effects)
            }
        }
        for request in parked {
            effects.replies.append(.init(token: request.token, reply: .noWork(.idle)))
        }
        parked.removeAll()
        effects.append(finishIfDone(now: now))
        return effects
    }

    private mutating func finishIfDone(now: Timestamp) -> Effects {
        var effects = Effects()
        let queued = requeued.count
        feedStages(now: now, effects: &effects)
        if requeued.count > queued { effects.append(dispatch(now: now)) }
        // Stopped (circuit breaker) with trials that would feed later stages: not finished;
        // running the campaign again feeds them.
        if stoppedReason != nil, hasPendingFeeds { return effects }
        // Done when the first stage has drawn all its trials and no trial of any stage is open
        // (every waiting stage whose feeder ended has been fed first). A spent budget ends the
        // campaign once nothing is in flight, with the trials not run left as they are.
        let spent = budgetSpent != nil && running.isEmpty && active.isEmpty
        guard !isFinished, spent || (created[0] >= totalTrials && open.allSatisfy { $0 == 0 } && active.isEmpty)
        else { return effects }
        isFinished = true
        effects.changes.append(.campaignFinished(at: now))
        for request in parked {
            effects.replies.append(.init(token: request.token, reply: .noWork(.finished)))
        }
        parked.removeAll()
        return effects
    }

    // MARK: - Stages

    /// Feeds later stages: a streaming stage gets trials for each newly completed, feasible trial
    /// of its feeder; a waiting stage (`top:`, `barrier:`) gets its trials once its feeder has
    /// ended (its `top` best, or all). Runs after every change that may end a trial; feeding
    /// twice is impossible (each stage remembers the trials that fed it).
    private mutating func feedStages(now: Timestamp, effects: inout Effects) {
        guard stages.count > 1, budgetSpent == nil, stoppedReason == nil else { return }
        while !unfed.isEmpty {
            let parent = unfed.removeFirst()
            guard let trial = trials[parent] else { continue }
            for consumer in consumers[trial.stage] where stages[consumer].input?.waits == false && !fedParents[consumer].contains(parent) {
                feed(stage: consumer, from: parent, now: now, effects: &effects)
            }
        }
        for index in stages.indices.dropFirst() where !fedStages.contains(index) {
            guard let input = stages[index].input, input.waits, let feeder = stages.firstIndex(where: { $0.name == input.stage }),
                  hasEnded(stage: feeder) else { continue }
            fedStages.insert(index)
            effects.changes.append(.stagesFed(fedStages.sorted()))
            var candidates = trials.values.filter { $0.stage == feeder && $0.status == .completed && $0.feasible != false }
            var how = "every completed trial"
            if let top = input.top, let objective = stages[feeder].objective {
                candidates = candidates.filter { $0.objective != nil }.sorted { a, b in
                    a.objective! == b.objective! ? a.id < b.id : objective.isBetter(a.objective!, than: b.objective!)
                }
                candidates = Array(candidates.prefix(top))
                how = "the best \(top) by \(objective.metric)"
            } else {
                candidates.sort { $0.id < $1.id }
            }
            let chosen = candidates.map { "\($0.id)" }.joined(separator: ", ")
            effects.changes.append(.event(CampaignEvent(
                kind: "stage.fed",
                message: candidates.isEmpty
                    ? "stage \(stages[index].name) runs nothing: \(stages[feeder].name) ended with no completed, feasible trial"
                    : "stage \(stages[index].name) starts from \(how) of \(stages[feeder].name): trial\(candidates.count == 1 ? "" : "s") \(chosen)",
                at: now)))
            for parent in candidates { feed(stage: index, from: parent.id, now: now, effects: &effects) }
        }
    }

    /// Creates a stage's trials for one input: the feeding trial's parameters and outputs, and
    /// the inputs it had itself, all named `stage.key`.
    private mutating func feed(stage index: Int, from parent: TrialID, now: Timestamp, effects: inout Effects) {
        guard let source = trials[parent] else { return }
        fedParents[index].insert(parent)
        let feeder = stages[source.stage].name
        var inputs = source.inputs
        for (name, value) in source.parameters.values { inputs["\(feeder).\(name)"] = value.text }
        for (key, value) in source.outputs { inputs["\(feeder).\(key)"] = value }
        for number in 0..<stages[index].trials {
            var trial = TrialRecord(id: nextTrial, parameters: draw(stage: index, ofInput: number), createdAt: now)
            nextTrial += 1
            trial.stage = index
            trial.parent = parent
            trial.inputs = inputs
            record(trial)
            requeued.append(trial.id)
            effects.changes.append(.trial(trial))
        }
    }

    /// Whether trials wait to feed a later stage: completed ones not yet handed to a streaming
    /// stage, or a waiting stage whose feeder has ended.
    private var hasPendingFeeds: Bool {
        if unfed.contains(where: { trials[$0].map { id in consumers[id.stage].contains { stages[$0].input?.waits == false } } ?? false }) {
            return true
        }
        return stages.indices.dropFirst().contains { index in
            guard let input = stages[index].input, input.waits, !fedStages.contains(index),
                  let feeder = stages.firstIndex(where: { $0.name == input.stage }) else { return false }
            return hasEnded(stage: feeder)
        }
    }

    /// Whether a stage can get no more trials and all it has have ended.
    private func hasEnded(stage index: Int) -> Bool {
        guard open[index] == 0 else { return false }
        guard let input = stages[index].input else { return created[0] >= totalTrials }
        guard let feeder = stages.firstIndex(where: { $0.name == input.stage }), hasEnded(stage: feeder) else { return false }
        return input.waits ? fedStages.contains(index) : !unfed.contains { trials[$0]?.stage == feeder }
    }

    // MARK: - Views

    /// The best completed trial by the objective, if the campaign has one and any trial reported it.
    /// For a pipeline: the best of the last stage with an objective. `nil` with several
    /// objectives: a Pareto front has no single best (`intern best` shows the front).
    public var bestTrial: TrialRecord? {
        guard let index = spec.selectionStage, let objective = stages[index].objective, stages[index].extraObjectives.isEmpty
        else { return nil }
        return trials.values
            .filter { $0.stage == index && $0.status == .completed && $0.objective != nil && $0.feasible != false }
            .min { a, b in
                if a.objective! == b.objective! { return a.id < b.id }
                return objective.isBetter(a.objective!, than: b.objective!)
            }
    }

    /// Trial counts by status (trials not yet drawn count as pending; a later stage not yet fed
    /// counts the trials it would get if every input it may still get came).
    public var progress: CampaignProgress {
        var expected: [Int] = []
        for (index, stage) in stages.enumerated() {
            guard let input = stage.input, let feeder = stages.firstIndex(where: { $0.name == input.stage }) else {
                expected.append(max(totalTrials, created[index]))
                continue
            }
            let inputs = min(input.top ?? Int.max, expected[feeder])
            expected.append(hasEnded(stage: feeder) && (!input.waits || fedStages.contains(index)) ? created[index] : max(created[index], inputs * stage.trials))
        }
        var progress = CampaignProgress(total: expected.reduce(0, +))
        for trial in trials.values {
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

    public init(addedTrials: Int = 0, extraHours: Double = 0, extraGPUHours: Double = 0) {
        self.addedTrials = addedTrials
        self.extraHours = extraHours
        self.extraGPUHours = extraGPUHours
    }
}
