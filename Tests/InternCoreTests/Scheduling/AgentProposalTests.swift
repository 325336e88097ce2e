import InternCore
import Testing

/// An agent's steering in the coordinator's logic: each proposed configuration is reviewed against
/// the space, the trials that ran and the failure memory; what it adds is held to the agent
/// policy; every outcome is an event naming the agent.
@Suite struct AgentProposalTests {
    static let agent = "agent:test-client"

    /// A campaign over lr × layers whose first `trials` trials (chosen configurations, `layers` 1,
    /// 2, …) have run on one worker: the one with `layers: 3` failed with a user error (a missing
    /// module), the rest succeeded; two more trials are still to be drawn.
    static func ran(trials: Int = 4, policy: AgentPolicy = AgentPolicy(), breaker: Int = 3, failing: Set<Int> = [3]) throws -> CoordinatorMachine {
        var spec = AddTests.spec()
        spec.trials = 2
        spec.agentPolicy = policy
        spec.failurePolicy = FailurePolicy(backoffSeconds: 0, circuitBreakerTrials: breaker)
        var machine = try CoordinatorMachine(spec: spec)
        // Chosen configurations, so the test knows which failed.
        let configurations: [Parameters] = (1...trials).map { ["lr": .double($0 % 2 == 0 ? 0.1 : 0.01), "layers": .int($0)] }
        _ = machine.add(configurations: configurations, now: 0)
        _ = machine.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        for n in 1...trials {
            let token = RequestToken(UInt64(n))
            guard let plan = CoordinatorMachineTests.plan(
                machine.requestWork(token: token, worker: "w", incarnation: 1, requestID: UInt64(n), now: Int64(n)), for: token)
            else { break }
            let layers = machine.trials[plan.trial]?.parameters["layers"]
            let fails = layers.map { failing.contains(Int($0.text) ?? 0) } ?? false
            _ = machine.attemptEnded(
                AttemptResult(
                    attempt: plan.attempt, outcome: .exited(fails ? 1 : 0), startedAt: Int64(n), endedAt: Int64(n), wallMillis: 1,
                    logTail: fails ? "Traceback (most recent call last):\nModuleNotFoundError: No module named 'transfomers'\n" : ""),
                worker: "w", incarnation: 1, now: Int64(n))
        }
        return machine
    }

    static func events(_ effects: Effects) -> [CampaignEvent] {
        effects.changes.compactMap { if case .event(let event) = $0 { event } else { nil } }
    }

    @Test func aNewConfigurationIsEnqueued_anIdenticalOneIsAnsweredWithItsTrial_aFailedOneIsRefusedWithItsSignature() throws {
        var machine = try Self.ran()
        #expect(machine.trials[3]?.status == .failed)
        let fresh: Parameters = ["lr": .double(0.1), "layers": .int(8)]
        let effects = machine.add(
            configurations: [fresh, ["lr": .double(0.1), "layers": .int(2)], ["lr": .double(0.01), "layers": .int(3)]],
            trials: 0, hours: 0, gpuHours: 0, actor: Self.agent, policy: AgentPolicy().resolved(specTrials: 2), now: 100)
        let said = try #require(effects.said)
        #expect(effects.declined, "a configuration was refused: the submitter exits non-zero")
        #expect(said.contains("configuration 1 (layers=8 lr=0.1): enqueued as trial 5"))
        #expect(said.contains("configuration 2 (layers=2 lr=0.1): already trial 2 (completed"))
        #expect(said.contains("configuration 3 (layers=3 lr=0.01): refused: trial 3 ran this configuration and failed with a user error, signature"))
        #expect(said.contains("ModuleNotFoundError: No module named 'transfomers'"))
        #expect(machine.trials[5]?.parameters == fresh && machine.totalTrials == 7)
        #expect(machine.adjustments.agentTrials == 1)
        let events = Self.events(effects)
        #expect(events.contains { $0.kind == "campaign.added" && $0.actor == Self.agent && $0.message.hasSuffix("(by \(Self.agent))") })
        #expect(events.contains { $0.kind == "agent.refused" && $0.actor == Self.agent && $0.message.contains("trial 3 ran this configuration") })
    }

    @Test func onlyDuplicatesAreNotARefusal() throws {
        var machine = try Self.ran(failing: [])
        let effects = machine.add(
            configurations: [["lr": .double(0.1), "layers": .int(2)]], trials: 0, hours: 0, gpuHours: 0,
            actor: Self.agent, policy: AgentPolicy().resolved(specTrials: 2), now: 100)
        #expect(!effects.declined)
        #expect(effects.said?.contains("already trial 2 (completed); not run again") == true)
        #expect(machine.totalTrials == 6)
        #expect(Self.events(effects).map(\.kind) == ["agent.answered"])
    }

    @Test func outsideTheSpace_repeatedInOneRequest_andBlockedByTheBreakerAreRefused() throws {
        // The breaker trips at 1 trial: layers=3 is the suspect (never seen in a success).
        var machine = try Self.ran(breaker: 1)
        let effects = machine.add(
            configurations: [
                ["lr": .double(0.5), "layers": .int(2)], ["lr": .double(0.1), "width": .int(2)],
                ["lr": .double(0.1), "layers": .int(3)], ["lr": .double(0.1), "layers": .int(7)], ["lr": .double(0.1), "layers": .int(7)],
            ],
            trials: 0, hours: 0, gpuHours: 0, actor: Self.agent, policy: AgentPolicy().resolved(specTrials: 2), now: 100)
        let said = try #require(effects.said)
        #expect(said.contains("configuration 1 (layers=2 lr=0.5): refused: not in the space: outside its domain: lr (one of 0.1, 0.01)"))
        #expect(said.contains("configuration 2 (lr=0.1 width=2): refused: not in the space: missing layers; unknown width"))
        #expect(said.contains("configuration 3 (layers=3 lr=0.1): refused: the circuit breaker blocks it: signature"))
        #expect(said.contains("configurations with layers=3"))
        #expect(said.contains("configuration 4 (layers=7 lr=0.1): enqueued as trial 5"))
        #expect(said.contains("configuration 5 (layers=7 lr=0.1): refused: the same as configuration 4 of this request"))
        #expect(machine.totalTrials == 7)
    }

    @Test func thePolicyLimitsTrialsAndBudget_namingTheLimit_andAppliesNothingBeyondIt() throws {
        var machine = try Self.ran(policy: AgentPolicy(maxTrials: 2, maxHours: 1))
        let policy = machine.spec.agentPolicy.resolved(specTrials: 2)
        let first = machine.add(configurations: [], trials: 2, hours: 0.5, gpuHours: 0, actor: Self.agent, policy: policy, now: 100)
        #expect(!first.declined && machine.totalTrials == 8 && machine.adjustments.agentTrials == 2)
        let more = machine.add(configurations: [["lr": .double(0.1), "layers": .int(8)]], trials: 0, hours: 0, gpuHours: 0,
                               actor: Self.agent, policy: policy, now: 101)
        #expect(more.declined)
        #expect(more.said == "refused: agents may add at most 2 trials to this campaign (agent.max_trials); 2 added so far, this asks for 1")
        #expect(machine.totalTrials == 8 && more.changes.allSatisfy { if case .event = $0 { true } else { false } })
        let hours = machine.add(configurations: [], trials: 0, hours: 0.75, gpuHours: 0, actor: Self.agent, policy: policy, now: 102)
        #expect(hours.said?.hasPrefix("refused: agents may add at most 1 budget hours (agent.max_hours); 0.5 added so far") == true)
        let gpu = machine.add(configurations: [], trials: 0, hours: 0, gpuHours: 1, actor: Self.agent, policy: policy, now: 103)
        #expect(gpu.said?.contains("agent.max_gpu_hours") == true, "no GPU-hours by default")
        // What agents added survives a restore, so the limit holds across coordinators.
        let restored = try CoordinatorMachine.restore(
            spec: machine.spec, trials: Array(machine.trials.values), attempts: Array(machine.attempts.values),
            adjustments: machine.adjustments, now: 200).0
        #expect(restored.adjustments.agentTrials == 2 && restored.adjustments.agentHours == 0.5)
    }

    @Test func policiesTightenFieldByField_withCautiousDefaults() {
        let spec = AgentPolicy(maxTrials: 10, mayCancel: true)
        let flags = AgentPolicy(maxTrials: 20, maxHours: 2, mayCancel: false)
        #expect(spec.tightened(by: flags) == AgentPolicy(maxTrials: 10, maxHours: 2, mayCancel: false))
        #expect(AgentPolicy().tightened(by: AgentPolicy(mayCancel: true)).mayCancel == true)
        #expect(AgentPolicy(mayCancel: false).tightened(by: AgentPolicy(mayCancel: true)).mayCancel == false)
        #expect(AgentPolicy().resolved(specTrials: 30) == AgentPolicy(maxTrials: 30, maxHours: 0, maxGPUHours: 0, mayCancel: false))
        #expect(AgentPolicy.isAgent("agent:claude") && !AgentPolicy.isAgent("alice") && !AgentPolicy.isAgent(nil))
        #expect(!AgentPolicy.isValidActor("two words") && AgentPolicy.isValidActor("agent:claude-code"))
    }

    @Test func attributionNamesTheActorOnEveryEventOfARequest() throws {
        var machine = try Self.ran(trials: 2, failing: [])
        var spec = AddTests.spec()
        spec.trials = 3
        machine = try CoordinatorMachine(spec: spec)
        let paused = machine.setPaused(true, now: 1).attributed(to: "alice")
        #expect(paused.changes.first == .campaignPaused(true, at: 1, actor: "alice"))
        let cancelled = machine.cancel(trial: 1, now: 2).attributed(to: Self.agent)
        #expect(Self.events(cancelled).allSatisfy { $0.actor == Self.agent && $0.message.hasSuffix("(by \(Self.agent))") })
        #expect(machine.setPaused(false, now: 3).attributed(to: nil).changes.first == .campaignPaused(false, at: 3))
    }
}
