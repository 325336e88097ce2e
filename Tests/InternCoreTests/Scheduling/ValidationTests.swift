import InternCore
import InternTestKit
import Testing

/// Validation (`validate:`): the verdict's statistics, and the machine repeating a stage's best
/// configurations once it ends, as ordinary trials with new seeds.
@Suite struct ValidationTests {
    static let maximize = Objective(metric: "score", direction: .maximize)

    /// The trials of one stage: originals with their first result, and completed repeats of them
    /// (`nil` as the original: the baseline).
    static func trials(originals: [(TrialID, Double)], repeats: [(of: TrialID?, values: [Double])]) -> [TrialRecord] {
        var all = originals.map { id, value in
            TrialRecord(id: id, parameters: ["x": .int(Int(id))], status: .completed, objective: value, createdAt: 0)
        }
        var next = (originals.map(\.0).max() ?? 0) + 1
        for group in repeats {
            for (number, value) in group.values.enumerated() {
                var trial = TrialRecord(id: next, parameters: [:], status: .completed, objective: value, createdAt: 0)
                trial.repeatOf = group.of
                trial.repeatNumber = number + 1
                all.append(trial)
                next += 1
            }
        }
        return all
    }

    @Test func welchsOneSidedPValueMatchesTheTDistribution() throws {
        // [1,2,3] vs [0,1,2]: t = 1.2247, df = 4, P(T > t) = 0.14393 (scipy.stats.t.sf).
        let verdict = try #require(ValidationVerdict.judge(
            Self.trials(originals: [(1, 9), (2, 8)], repeats: [(1, [1, 2, 3]), (2, [0, 1, 2])]), objective: Self.maximize))
        let comparison = try #require(verdict.comparisons.first)
        #expect(abs(comparison.t - 1.2247448713915889) < 1e-9)
        #expect(abs(comparison.degreesOfFreedom - 4) < 1e-9)
        #expect(abs(comparison.p - 0.14393206736334527) < 1e-6)
        #expect(!verdict.isValidated)
    }

    @Test func aLuckyFirstResultIsNotValidated() throws {
        // Trial 1's first result was luck (0.95); over its repeats it is no better than trial 2.
        let verdict = try #require(ValidationVerdict.judge(
            Self.trials(originals: [(1, 0.95), (2, 0.80)], repeats: [(1, [0.80, 0.81, 0.79]), (2, [0.80, 0.79, 0.805])]),
            objective: Self.maximize))
        #expect(verdict.isSettled && !verdict.isValidated)
        #expect(verdict.summary.contains("not validated"))
        #expect(verdict.group(of: 1)?.firstResult == 0.95)
    }

    @Test func aTrulyBetterConfigurationIsValidatedEvenBehindALuckyFirstResult() throws {
        let verdict = try #require(ValidationVerdict.judge(
            Self.trials(originals: [(1, 0.95), (2, 0.90), (3, 0.7)], repeats: [(1, [0.80, 0.81, 0.79]), (2, [0.90, 0.91, 0.89])]),
            objective: Self.maximize))
        #expect(verdict.best == 2 && verdict.isValidated)
        #expect(verdict.groups.map(\.original) == [2, 1])
        let group = try #require(verdict.group(of: 2))
        #expect(abs(group.mean! - 0.90) < 1e-12 && abs(group.standardDeviation! - 0.01) < 1e-12)
        #expect(verdict.summary.hasPrefix("trial 2 validated: score 0.900 ± 0.0100 (n=3)"))
        // Minimizing, the same numbers make trial 1 the best, and validated.
        let minimizing = ValidationVerdict.judge(
            Self.trials(originals: [(1, 0.95), (2, 0.90)], repeats: [(1, [0.80, 0.81, 0.79]), (2, [0.90, 0.91, 0.89])]),
            objective: Objective(metric: "loss", direction: .minimize))
        #expect(minimizing?.best == 1 && minimizing?.isValidated == true)
    }

    @Test func theBaselineMustBeBeatenToo() throws {
        let clear = Self.trials(originals: [(1, 0.95), (2, 0.7)], repeats: [(1, [0.90, 0.91, 0.89]), (2, [0.70, 0.71, 0.69])])
        let beatenBaseline = ValidationVerdict.judge(clear + Self.baseline([0.60, 0.61, 0.59]), objective: Self.maximize)
        #expect(beatenBaseline?.isValidated == true && beatenBaseline?.comparisons.count == 2)
        let closeBaseline = ValidationVerdict.judge(clear + Self.baseline([0.90, 0.92, 0.88]), objective: Self.maximize)
        #expect(closeBaseline?.isValidated == false)
        #expect(closeBaseline?.summary.contains("the baseline's") == true)
    }

    static func baseline(_ values: [Double]) -> [TrialRecord] {
        values.enumerated().map { number, value in
            var trial = TrialRecord(id: TrialID(100 + number), parameters: [:], status: .completed, objective: value, createdAt: 0)
            trial.repeatNumber = number + 1
            return trial
        }
    }

    @Test func aConfigurationWithAFailedRepeatCannotBeValidated_andOpenRepeatsMeanNoVerdictYet() throws {
        var trials = Self.trials(originals: [(1, 0.95), (2, 0.90), (3, 0.8)], repeats: [(1, [0.99, 0.99, 0.99]), (2, [0.90, 0.91, 0.89]), (3, [0.5, 0.5, 0.51])])
        let failed = try #require(trials.firstIndex { $0.repeatOf == 1 })
        trials[failed].status = .failed
        trials[failed].objective = nil
        let verdict = try #require(ValidationVerdict.judge(trials, objective: Self.maximize))
        #expect(verdict.best == 2 && verdict.isValidated)
        #expect(verdict.summary.contains("trial 1 cannot be validated: repeat trial \(trials[failed].id) ended without a feasible score"))
        trials[failed].status = .running
        let open = try #require(ValidationVerdict.judge(trials, objective: Self.maximize))
        #expect(!open.isSettled && !open.isValidated && open.best == nil)
        #expect(open.summary == "validating: 8 of 9 repeats ended")
        #expect(ValidationVerdict.judge(Self.trials(originals: [(1, 1)], repeats: []), objective: Self.maximize) == nil)
    }

    // MARK: - The machine

    /// A grid over x (3 configurations) with a seed parameter; the top 2 are repeated 3 times.
    static func spec(seedParameter: Bool = true, baseline: Parameters? = nil) -> CampaignSpec {
        var parameters = [Parameter(name: "x", domain: .choice([.int(1), .int(2), .int(3)]))]
        if seedParameter { parameters.append(Parameter(name: "seed", domain: .choice([.int(0)]))) }
        var spec = CampaignSpec(
            name: "v", command: CommandTemplate(argv: seedParameter ? ["job", "{x}", "{seed}"] : ["job", "{x}"]), workdir: "/tmp",
            space: ParameterSpace(parameters), sampler: .grid, trials: 3, objective: maximize)
        if seedParameter {
            spec.space = ParameterSpace([parameters[0], Parameter(name: "seed", domain: .integer(low: 0, high: 1_000_000, step: 1, log: false))])
            spec.sampler = .random(seed: 4)
        }
        spec.validation = ValidationPolicy(top: 2, repeats: 3, seedParameter: seedParameter ? "seed" : nil)
        spec.baseline = baseline
        return spec
    }

    @Test func anEndedStageRepeatsItsBestConfigurationsWithNewSeeds_asTrialsThatAreNoSearchPoints() throws {
        let run = try PipelineTests.Run(Self.spec(seedParameter: false))
        var scores: [TrialID: Double] = [:]
        for score in [0.5, 0.9, 0.7] {
            let plan = try #require(run.next())
            scores[plan.trial] = score
            run.finish(plan, metrics: ["score": score])
        }
        #expect(!run.machine.isFinished)
        let repeats = run.machine.trials.values.filter(\.isRepeat).sorted { $0.id < $1.id }
        #expect(repeats.map(\.repeatOf) == [2, 2, 2, 3, 3, 3])
        #expect(repeats.map(\.repeatNumber) == [1, 2, 3, 1, 2, 3])
        // The same seeds for every configuration, different from one repeat to the next.
        #expect(repeats[0..<3].map(\.seed) == repeats[3..<6].map(\.seed))
        #expect(Set(repeats.compactMap(\.seed)).count == 3)
        #expect(run.machine.progress.total == 9)
        for repeatTrial in repeats {
            let plan = try #require(run.next())
            #expect(plan.trial == repeatTrial.id)
            #expect(plan.argv == ["job", repeatTrial.parameters["x"]!.text])
            let environment = Dictionary(uniqueKeysWithValues: plan.environment.map { ($0.0, $0.1) })
            #expect(environment["INTERN_SEED"] == String(repeatTrial.seed!))
            // A lucky repeat of trial 3 is never the campaign's best by itself.
            run.finish(plan, metrics: ["score": repeatTrial.repeatOf == 3 ? 0.99 : 0.9])
        }
        #expect(run.machine.isFinished)
        #expect(run.machine.bestTrial?.id == 2)
        #expect(run.machine.progress.completed == 9)
        let verdict = try #require(run.machine.validationVerdict(stage: 0))
        #expect(verdict.best == 3 && verdict.isSettled)
    }

    @Test func theSeedParameterTakesTheRepeatsSeed_andTheBaselineRunsAlongside() throws {
        let run = try PipelineTests.Run(Self.spec(seedParameter: true, baseline: ["x": .int(1), "seed": .int(0)]))
        for score in [0.5, 0.9, 0.7] {
            let plan = try #require(run.next())
            run.finish(plan, metrics: ["score": score])
        }
        let repeats = run.machine.trials.values.filter(\.isRepeat).sorted { $0.id < $1.id }
        #expect(repeats.count == 9)
        #expect(repeats.filter(\.isBaseline).map { $0.parameters["x"] } == [.int(1), .int(1), .int(1)])
        for trial in repeats {
            #expect(trial.parameters["seed"] == .int(trial.seed!))
            #expect((0...1_000_000).contains(trial.seed!))
        }
        #expect(repeats.first { !$0.isBaseline && $0.repeatOf != nil }.map { $0.parameters["x"] } == run.machine.trials[repeats[0].repeatOf!]?.parameters["x"])
    }

    @Test func aRestartedCoordinatorNeitherRepeatsTwiceNorLosesTheRepeats() throws {
        let run = try PipelineTests.Run(Self.spec(seedParameter: false))
        for score in [0.5, 0.9, 0.7] {
            let plan = try #require(run.next())
            run.finish(plan, metrics: ["score": score])
        }
        let stored = run.machine.trials.values.sorted { $0.id < $1.id }
        let (restored, _) = try CoordinatorMachine.restore(spec: Self.spec(seedParameter: false), trials: stored, attempts: Array(run.machine.attempts.values), now: 10)
        #expect(restored.trials.values.count(where: \.isRepeat) == 6)
        #expect(restored.trials.count == 9)
        #expect(!restored.isFinished)
    }

    @Test func aStageFedWithValidatedTrialsOnlyGetsTheValidatedBest_orNothing() throws {
        for (repeatScores, fed) in [([0.9, 0.91, 0.89], true), ([0.705, 0.72, 0.68], false)] {
            var spec = Self.spec(seedParameter: false)
            spec.stageName = "train"
            spec.laterStages = [Stage(name: "export", command: CommandTemplate(argv: ["export", "{train.x}"]), input: StageInput(stage: "train", validated: true))]
            let run = try PipelineTests.Run(spec)
            for score in [0.5, 0.9, 0.7] {
                let plan = try #require(run.next())
                run.finish(plan, metrics: ["score": score])
            }
            while let plan = run.next(), let trial = run.machine.trials[plan.trial], trial.isRepeat {
                // Trial 2 (0.9 first) repeats at repeatScores; trial 3 (0.7 first) at 0.7.
                let index = trial.repeatNumber! - 1
                run.finish(plan, metrics: ["score": trial.repeatOf == 2 ? repeatScores[index] : [0.7, 0.71, 0.69][index]])
                if trial.repeatOf == 3, trial.repeatNumber == 3 { break }
            }
            let exports = run.machine.trials.values.filter { $0.stage == 1 }
            if fed {
                #expect(exports.map(\.parent) == [2])
            } else {
                #expect(exports.isEmpty)
                #expect(run.machine.isFinished)
            }
        }
    }

    @Test func validationOnDemandRepeatsTheBestSoFar_andAgainWithNewSeeds_andReopensAFinishedCampaignOnlyWhenItStarts() throws {
        var spec = Self.spec(seedParameter: false)
        spec.validation = nil
        spec.space = ParameterSpace([Parameter(name: "x", domain: .choice([.int(1), .int(2), .int(3), .int(4)]))])
        spec.trials = 4
        let run = try PipelineTests.Run(spec)
        for score in [0.5, 0.9, 0.7] {
            let plan = try #require(run.next())
            run.finish(plan, metrics: ["score": score])
        }
        let first = run.machine.validate(top: 2, repeats: 2, actor: "ana", now: 5)
        #expect(first.said == "4 repeat trials queued to validate the best 2 of stage main")
        #expect(first.changes.contains { if case .event(let e) = $0 { e.kind == "stage.validating" && e.actor == "ana" } else { false } })
        let again = run.machine.validate(top: 2, repeats: 2, now: 6)
        #expect(again.said != nil)
        let repeats = run.machine.trials.values.filter { $0.repeatOf == 2 }.sorted { $0.id < $1.id }
        #expect(repeats.map(\.repeatNumber) == [1, 2, 3, 4])
        #expect(Set(repeats.compactMap(\.seed)).count == 4)
        #expect(run.machine.validate(top: 1, repeats: 2, now: 7).declined)
        while let plan = run.next() { run.finish(plan, metrics: ["score": 0.6]) }
        #expect(run.machine.isFinished)
        #expect(run.machine.validate(top: 2, repeats: 2, now: 9).declined)
        // The coordinator, starting on the finished campaign with the request waiting, reopens it.
        let reopened = run.machine.validate(top: 2, repeats: 2, reopen: true, now: 10)
        #expect(reopened.said != nil && !run.machine.isFinished)
        #expect(reopened.changes.contains(.campaignReopened))
        while let plan = run.next() { run.finish(plan, metrics: ["score": 0.6]) }
        #expect(run.machine.isFinished)
    }
}
