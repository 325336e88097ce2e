import InternCore
import Testing

/// Guardrail constraints: parsed from text, checked on a trial's last values; the best trial is
/// the best feasible one.
@Suite struct ConstraintTests {
    @Test func parsesAndChecks() throws {
        let floor = try #require(Constraint(parsing: "eval_worst_class_accuracy >= 0.85"))
        #expect(floor == Constraint(metric: "eval_worst_class_accuracy", comparison: .atLeast, bound: 0.85))
        #expect(floor.holds(for: 0.85) && !floor.holds(for: 0.849) && !floor.holds(for: .nan))
        #expect(Constraint(parsing: "toxicity<0.1") == Constraint(metric: "toxicity", comparison: .below, bound: 0.1))
        #expect(Constraint(parsing: "loss > 1e-3")?.comparison == .above)
        for bad in ["", "toxicity", "toxicity <= ", "<= 0.1", "a b <= 1", "x <= nan", "x == 1"] { #expect(Constraint(parsing: bad) == nil, "\(bad)") }
        let both = [floor, Constraint(metric: "toxicity", comparison: .atMost, bound: 0.1)]
        #expect(Constraint.violation(of: both, values: ["eval_worst_class_accuracy": 0.9, "toxicity": 0.05]) == nil)
        #expect(Constraint.violation(of: both, values: ["eval_worst_class_accuracy": 0.9, "toxicity": 0.2]) == "toxicity = 0.2 (needs toxicity <= 0.1)")
        #expect(Constraint.violation(of: both, values: ["toxicity": 0.0])?.contains("eval_worst_class_accuracy not reported") == true)
    }

    @Test func shortfallSaysHowFarAConfigurationMissed() {
        let constraints = [Constraint(metric: "acc", comparison: .atLeast, bound: 0.8), Constraint(metric: "toxicity", comparison: .below, bound: 0.1)]
        #expect(Constraint.shortfall(of: constraints, values: ["acc": 0.9, "toxicity": 0.05]) == 0)
        // Bounds under 1 are measured in the metric's units; a missing value counts 1.
        #expect(abs(Constraint.shortfall(of: constraints, values: ["acc": 0.7, "toxicity": 0.05]) - 0.1) < 1e-12)
        #expect(abs(Constraint.shortfall(of: constraints, values: ["acc": 0.7]) - 1.1) < 1e-12)
        #expect(Constraint.shortfall(of: constraints, values: ["acc": .nan, "toxicity": 0]) == 1)
        // A bound over 1 scales the distance; a strict bound broken exactly still misses.
        #expect(Constraint.shortfall(of: [Constraint(metric: "latency_ms", comparison: .atMost, bound: 200)], values: ["latency_ms": 300]) == 0.5)
        #expect(Constraint.shortfall(of: [Constraint(metric: "toxicity", comparison: .below, bound: 0.1)], values: ["toxicity": 0.1]) > 0)
    }

    @Test func theBestTrialIsTheBestFeasibleOne() throws {
        var spec = CoordinatorMachineTests.spec(trials: 2, objective: Objective(metric: "acc", direction: .maximize))
        spec.constraints = [Constraint(metric: "toxicity", comparison: .atMost, bound: 0.1)]
        var machine = try CoordinatorMachine(spec: spec)
        _ = machine.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 2, gpus: [], now: 0)
        let plans = try (1...2).map { n in
            try #require(CoordinatorMachineTests.plan(
                machine.requestWork(token: RequestToken(UInt64(n)), worker: "w", incarnation: 1, requestID: UInt64(n), now: 0), for: RequestToken(UInt64(n))))
        }
        // Trial 1 scores higher but is toxic; trial 2 meets the guardrail.
        _ = machine.metricStored(attempt: plans[0].attempt, name: "acc", step: 1, value: 0.99, now: 0)
        _ = machine.metricStored(attempt: plans[0].attempt, name: "toxicity", step: 1, value: 0.4, now: 0)
        _ = machine.metricStored(attempt: plans[1].attempt, name: "acc", step: 1, value: 0.80, now: 0)
        _ = machine.metricStored(attempt: plans[1].attempt, name: "toxicity", step: 1, value: 0.02, now: 0)
        var events: [String] = []
        for plan in plans {
            let ended = machine.attemptEnded(AttemptResult(attempt: plan.attempt, outcome: .exited(0), startedAt: 0, endedAt: 1, wallMillis: 1),
                                             worker: "w", incarnation: 1, now: 1)
            events += ended.changes.compactMap { if case .event(let e) = $0 { e.kind } else { nil } }
        }
        #expect(machine.trials[plans[0].trial]?.feasible == false)
        #expect(machine.trials[plans[0].trial]?.note == "infeasible: toxicity = 0.4 (needs toxicity <= 0.1)")
        #expect(machine.trials[plans[1].trial]?.feasible == true)
        #expect(machine.bestTrial?.id == plans[1].trial)
        #expect(events.contains("trial.infeasible"))
    }
}
