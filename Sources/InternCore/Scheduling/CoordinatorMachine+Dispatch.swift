/// Dispatch: parked work requests, which trial runs next, where it fits, what its worker is sent.
extension CoordinatorMachine {
    /// A worker asks for one attempt for one free slot. The request is answered at once when a
    /// trial can run, otherwise parked until one can, or until the long-poll timeout. With
    /// `behind` (an attempt the slot runs now) it asks for the slot's next attempt ahead of time
    /// and is answered at once (``assignAhead(behind:request:now:effects:)``).
    public mutating func requestWork(
        token: RequestToken, worker id: WorkerID, incarnation: Incarnation, requestID: UInt64, behind: AttemptID = 0,
        now: Timestamp
    ) -> Effects {
        let effects = answerOrPark(token: token, worker: id, incarnation: incarnation, requestID: requestID, behind: behind, now: now)
        return settled(effects, now: now)
    }

    /// Answers a work request at once when it is refused, repeated, asks ahead, or can get
    /// nothing, else parks it and dispatches.
    private mutating func answerOrPark(
        token: RequestToken, worker id: WorkerID, incarnation: Incarnation, requestID: UInt64, behind: AttemptID, now: Timestamp
    ) -> Effects {
        var effects = Effects()
        func answer(_ reply: WorkReply, to token: RequestToken = token) {
            effects.replies.append(.init(token: token, reply: reply))
        }
        if let refusal = registry.touch(id, incarnation: incarnation, now: now) {
            answer(.refused(refusal))
        } else if let previous = registry.previousAssignment(worker: id, requestID: requestID), let plan = replayedPlan(of: previous) {
            // A repeated request (the worker's REQ socket resent it after a reconnect) gets the same answer.
            answer(.assignment(plan))
        } else if behind != 0 {
            let request = ParkedRequests.Request(token: token, worker: id, incarnation: incarnation, requestID: requestID, since: now)
            answer(assignAhead(behind: behind, request: request, now: now, effects: &effects))
        } else if let old = parked.replace(worker: id, requestID: requestID, with: token) {
            // The old copy's connection is gone; answer it (the answer is dropped) and park the new one.
            answer(.noWork(.idle), to: old)
        } else if isOver {
            answer(.noWork(.finished))
        } else if registry[id]!.state == .draining {
            answer(.noWork(.draining))
        } else {
            let request = ParkedRequests.Request(token: token, worker: id, incarnation: incarnation, requestID: requestID, since: now)
            if let superseded = parked.park(request, slots: registry[id]!.slots) { answer(.noWork(.idle), to: superseded) }
            note(deadline: now + config.longPollMillis)
            effects.append(dispatch(now: now))
        }
        return effects
    }

    /// Hands trials to parked requests while there are trials, slots and room under `parallel`.
    mutating func dispatch(now: Timestamp) -> Effects {
        var effects = Effects()
        let limit = spec.parallel ?? Int.max
        while !parked.isEmpty, !isOver, !isPaused, budgetSpent == nil, attemptsRunning < limit {
            // The first queued trial that some waiting request has room for, to the oldest such
            // request (any, when its stage needs nothing beyond a slot); a new trial is drawn only
            // when a request has room for the first stage.
            guard let (trialID, index) = takeNextTrial(for: .parked, now: now, effects: &effects) else { break }
            let request = parked.remove(at: index)
            let plan = startAttempt(of: trialID, on: request, now: now, effects: &effects)
            registry.remember(assignment: plan.attempt, worker: request.worker, requestID: request.requestID)
            effects.replies.append(.init(token: request.token, reply: .assignment(plan)))
        }
        return effects
    }

    /// A busy slot asks for its next attempt ahead of time: it starts on the worker the moment
    /// `behind` (the attempt the slot runs) ends there, without a round trip to the coordinator.
    /// Given only where waiting costs nothing else: the campaign dispatches, no free slot waits
    /// anywhere, `behind` is the worker's and has nothing queued behind it, and the next trial
    /// is fixed already (a retry, a fed trial, or a draw that does not learn from results) of
    /// a stage that needs no resources and whose attempts last under `aheadMaxMillis` (median
    /// of its last ones). Otherwise "idle": the slot asks again once it is free. Answered at once.
    mutating func assignAhead(behind: AttemptID, request: ParkedRequests.Request, now: Timestamp, effects: inout Effects) -> WorkReply {
        if isOver { return .noWork(.finished) }
        if registry[request.worker]?.state == .draining { return .noWork(.draining) }
        guard config.aheadMaxMillis > 0, parked.isEmpty, !isPaused, budgetSpent == nil,
              let current = attempts[behind], current.worker == request.worker, current.incarnation == request.incarnation,
              !current.status.isTerminal, !queuedAhead.hasNext(behind: behind),
              let (trialID, _) = takeNextTrial(for: .ahead, now: now, effects: &effects)
        else { return .noWork(.idle) }
        let plan = startAttempt(of: trialID, on: request, now: now, effects: &effects)
        queuedAhead.queue(plan.attempt, behind: behind)
        registry.remember(assignment: plan.attempt, worker: request.worker, requestID: request.requestID)
        return .assignment(plan)
    }

    /// Whether a stage's next attempt may wait behind a busy slot's: it needs nothing beyond the
    /// slot, and its attempts are known to be short.
    func queuesAhead(stage: Int) -> Bool {
        guard !stages[stage].needsResources, let median = recentWalls[stage].median else { return false }
        return median < config.aheadMaxMillis
    }

    /// Whether one more attempt of `stage` fits on `worker`: enough GPUs free on its host, and
    /// CPUs and memory not taken by its attempts in flight (a worker that says nothing of them
    /// has no limit).
    func fits(_ stage: Stage, on worker: WorkerID) -> Bool {
        guard let record = registry[worker] else { return false }
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
    func shortfalls(of record: WorkerRecord) -> [(String, [String])] {
        var found: [(String, [String])] = []
        for stage in stages {
            guard let lack = shortfall(of: record, for: stage) else { continue }
            if let index = found.firstIndex(where: { $0.0 == lack }) { found[index].1.append(stage.name) } else { found.append((lack, [stage.name])) }
        }
        return found
    }

    func shortfall(of record: WorkerRecord, for stage: Stage) -> String? {
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
    func freeGPUs(of worker: WorkerID) -> [String] {
        guard let all = registry[worker]?.gpus, !all.isEmpty else { return [] }
        let held = heldGPUs(onHostOf: worker)
        return all.filter { !held.contains($0) }
    }

    /// GPU ids held by attempts in flight on the host of `worker` (any worker there).
    func heldGPUs(onHostOf worker: WorkerID) -> Set<String> {
        let host = registry[worker]?.hostname
        var held: Set<String> = []
        for id in active {
            guard let attempt = attempts[id], !attempt.gpus.isEmpty else { continue }
            if attempt.worker == worker || registry[attempt.worker]?.hostname == host { held.formUnion(attempt.gpus) }
        }
        return held
    }

    /// Where the next trial goes: to a parked request, or queued ahead on a busy slot.
    enum Placement {
        case parked
        case ahead
    }

    /// The index of the oldest parked request with room for an attempt of `stage`, if any; for
    /// a slot asking ahead, 0 when the stage's attempts may wait behind its attempt.
    func placement(forStage stage: Int, for placement: Placement) -> Int? {
        switch placement {
        case .ahead:
            return queuesAhead(stage: stage) ? 0 : nil
        case .parked:
            guard !parked.isEmpty else { return nil }
            return stages[stage].needsResources ? parked.firstIndex { fits(stages[stage], on: $0.worker) } : 0
        }
    }

    /// The next trial to run and the parked request it goes to: the oldest requeued trial whose
    /// backoff has passed and that a request has room for, else a new trial of the first stage
    /// when a request has room for that (queued ahead: only a draw that does not learn from
    /// results, which is the same whenever it is drawn). A trial whose configuration a circuit
    /// breaker blocks is skipped (cancelled, with why).
    mutating func takeNextTrial(for placement: Placement, now: Timestamp, effects: inout Effects) -> (TrialID, Int)? {
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
            guard let request = self.placement(forStage: trials[id]!.stage, for: placement) else {
                index += 1
                continue
            }
            requeued.remove(at: index)
            return (id, request)
        }
        let drawsNow = placement == .parked || !samplers[0].usesHistory
        while drawsNow, feeder.created[0] < totalTrials, let request = self.placement(forStage: 0, for: placement) {
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
    func draw(stage index: Int, ofInput: Int? = nil) -> Parameters {
        let sampler = samplers[index]
        var number = feeder.created[index]
        if case .grid = stages[index].sampler, let size = stages[index].space.gridSize, size > 0 { number = (ofInput ?? number) % size }
        return sampler.usesHistory ? sampler.parameters(forTrial: number, history: currentSearchHistory(stage: index))
            : sampler.parameters(forTrial: number)
    }

    /// A stage's Bayesian history with its trials in flight set as pending: those drawn and not
    /// ended (running, or waiting in the queue), so its "constant liar" keeps new draws away.
    func currentSearchHistory(stage index: Int) -> SearchHistory {
        var history = searchHistories[index]
        var open: [Parameters] = []
        for id in running.union(requeued).sorted() {
            if let trial = trials[id], trial.stage == index, !trial.status.isTerminal { open.append(trial.parameters) }
        }
        history.setPending(open)
        return history
    }

    /// Cancels a pending trial that a tripped circuit breaker blocks; true when it did.
    mutating func skipIfBlocked(_ id: TrialID, now: Timestamp, effects: inout Effects) -> Bool {
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

    mutating func startAttempt(of trialID: TrialID, on request: ParkedRequests.Request, now: Timestamp, effects: inout Effects) -> AttemptPlan {
        var trial = trials[trialID]!
        trial.status = .running
        trial.attemptCount += 1
        let id = nextAttempt
        nextAttempt += 1
        var plan = makePlan(attempt: id, trial: trial, number: trial.attemptCount)
        let gpus = stages[trial.stage].gpus
        plan.gpus = gpus == 0 ? [] : Array(freeGPUs(of: request.worker).prefix(gpus))
        // The registry's copy of the worker's id: the request's was decoded from its message,
        // and each attempt holding its own copy of the text cost a heap block per trial.
        let worker = registry.records[request.worker]?.id ?? request.worker
        var attempt = AttemptRecord(
            id: id, trial: trialID, number: trial.attemptCount, worker: worker, incarnation: request.incarnation,
            argv: plan.argv, assignedAt: now)
        attempt.requestID = request.requestID
        attempt.gpus = plan.gpus
        attempt.environment = Dictionary(plan.environment, uniquingKeysWith: { $1 })
        record(trial)
        record(attempt)
        effects.changes.append(.trial(trial))
        effects.changes.append(.attempt(attempt))
        note(deadline: now + config.leaseTimeoutMillis + 1)
        // GPUs in flight bring the GPU budget's end nearer.
        if !attempt.gpus.isEmpty, let end = meter.deadline(now: now, holding: gpuHoldings) { note(deadline: end) }
        return plan
    }

    /// The plan an attempt was given, rendered again (the same command, environment and GPUs:
    /// everything in it follows from its trial, its number and the spec).
    func replayedPlan(of id: AttemptID) -> AttemptPlan? {
        guard let attempt = attempts[id], let trial = trials[attempt.trial] else { return nil }
        var plan = makePlan(attempt: id, trial: trial, number: attempt.number)
        plan.gpus = attempt.gpus
        return plan
    }

    func makePlan(attempt: AttemptID, trial: TrialRecord, number: Int) -> AttemptPlan {
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
        if let seed = trial.seed { environment["INTERN_SEED"] = String(seed) }
        if stage.map != nil, let item = ItemMap.item(of: trial.parameters) { environment[ItemMap.environmentName] = item }
        if let input = stage.input, input.reduce {
            environment[ReduceInputs.carrierVariable] = ReduceInputs(stage: input.stage, parents: trial.parents) { trials[$0] }.json
        }
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

}
