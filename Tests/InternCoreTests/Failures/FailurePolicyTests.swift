import Foundation
import InternCore
import Testing

@Suite struct FailurePolicyTests {
    let policy = FailurePolicy()

    func decide(_ policy: FailurePolicy, _ failure: FailureClass, _ counts: [FailureClass: Int] = [:],
                campaign: Int = 0, unknownRetries: Int = 0) -> RetryDecision {
        policy.decide(failure, trial: RetryCounts(counts), campaignRetriesUsed: campaign, unknownRetries: unknownRetries)
    }

    func decide(_ failure: FailureClass, _ counts: [FailureClass: Int] = [:], campaign: Int = 0, unknownRetries: Int = 0) -> RetryDecision {
        decide(policy, failure, counts, campaign: campaign, unknownRetries: unknownRetries)
    }

    @Test func defaults() {
        let limits = FailureClass.allCases.map { policy.retryLimit(for: $0, unknownRetries: 2) }
        // oom, timeout, preempted, lost, infra, user, diverged, unknown
        #expect(limits == [0, 0, 10, 3, 3, 0, 0, 2])
        #expect(policy.perTrialCap(unknownRetries: 0) == 5)
        #expect(policy.perTrialCap(unknownRetries: 8) == 8) // an existing `retries: 8` keeps its meaning
        #expect(policy.campaignRetryBudget == nil && policy.backoffSeconds == 1)
        #expect(policy.circuitBreakerTrials == 3 && policy.quarantineAfter == 3)
        #expect(policy.problems().isEmpty)
    }

    @Test func retriesWithinTheClassLimit() {
        #expect(decide(.infra) == .retry(afterMillis: 1_000, consumesBudget: true))
        #expect(decide(.infra, [.infra: 2]) == .retry(afterMillis: 4_000, consumesBudget: true))
        #expect(decide(.infra, [.infra: 3]) == .giveUp(reason: "infra failures were already retried 3 times (retry.infra is 3)"))
        #expect(decide(.oom) == .giveUp(reason: "oom failures are not retried (retry.oom is 0)"))
        #expect(decide(.unknown) == .giveUp(reason: "unknown failures are not retried (retries is 0)"))
        #expect(decide(.unknown, unknownRetries: 1) == .retry(afterMillis: 1_000, consumesBudget: true))
        let oomOnce = FailurePolicy(retries: [.oom: 1])
        #expect(decide(oomOnce, .oom) == .retry(afterMillis: 1_000, consumesBudget: true))
        #expect(decide(oomOnce, .oom, [.oom: 1]).isGiveUp)
    }

    @Test func userIsNeverRetried() {
        #expect(decide(.user).isGiveUp)
        // Even if a policy built in code says otherwise (which validation rejects).
        let wrong = FailurePolicy(retries: [.user: 5])
        #expect(decide(wrong, .user).isGiveUp)
        #expect(wrong.problems().map(\.keyPath) == ["retry.user"])
        #expect(wrong.problems().first?.message.contains("never retried") == true)
    }

    @Test func preemptedIsFreeAndImmediate() {
        // A trial at its per-trial cap, in a campaign out of budget, is still moved off a drained worker.
        let tight = FailurePolicy(maxRetriesPerTrial: 1, campaignRetryBudget: 1)
        #expect(decide(tight, .preempted, [.infra: 1, .preempted: 9], campaign: 1) == .retry(afterMillis: 0, consumesBudget: false))
        #expect(decide(tight, .preempted, [.preempted: 10]).isGiveUp)
        #expect(RetryCounts([.preempted: 9, .infra: 1, .lost: 2]).budgetUsed == 3)
    }

    @Test func perTrialAndCampaignBudgets() {
        let policy = FailurePolicy(retries: [.oom: 3], maxRetriesPerTrial: 5, campaignRetryBudget: 10)
        #expect(decide(policy, .infra, [.oom: 2, .lost: 1, .infra: 1]) == .retry(afterMillis: 16_000, consumesBudget: true))
        #expect(decide(policy, .infra, [.oom: 2, .lost: 1, .infra: 1, .preempted: 5]).isRetry)
        #expect(decide(policy, .lost, [.oom: 3, .infra: 2]) == .giveUp(reason: "the trial has used all 5 of its retries (retry.per_trial)"))
        #expect(decide(policy, .infra, campaign: 10) == .giveUp(reason: "the campaign has used all 10 of its retries (retry.campaign)"))
        #expect(decide(policy, .infra, campaign: 9).isRetry)
        let none = FailurePolicy(maxRetriesPerTrial: 0)
        #expect(decide(none, .infra).isGiveUp && decide(none, .preempted).isRetry)
    }

    @Test func backoffDoublesAndIsCapped() {
        let policy = FailurePolicy(backoffSeconds: 5)
        #expect((0..<8).map { policy.backoffMillis(previousRetries: $0) } == [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000])
        #expect(policy.backoffMillis(previousRetries: Int.max) == 300_000)
        #expect(FailurePolicy(backoffSeconds: 0).backoffMillis(previousRetries: 3) == 0)
        #expect(FailurePolicy(backoffSeconds: 0.25).backoffMillis(previousRetries: 1) == 500)
        #expect(FailurePolicy(backoffSeconds: 600).backoffMillis(previousRetries: 2) == 600_000)
        let immediate = FailurePolicy(backoffSeconds: 0)
        #expect(decide(immediate, .lost, [.lost: 2]) == .retry(afterMillis: 0, consumesBudget: true))
    }

    @Test func specForwardsItsRetries() {
        let spec = CampaignSpec(name: "x", command: CommandTemplate(argv: ["run"]), workdir: "/w", trials: 1, retries: 2,
                                failurePolicy: FailurePolicy(infraPatterns: ["slurmstepd: error"]))
        #expect(spec.retryDecision(for: .unknown, trial: RetryCounts([.unknown: 1]), campaignRetriesUsed: 0).isRetry)
        #expect(spec.retryDecision(for: .unknown, trial: RetryCounts([.unknown: 2]), campaignRetriesUsed: 0).isGiveUp)
        #expect(spec.failureClassifier.infraPatterns == ["slurmstepd: error"])
    }

    @Test func codableWithDefaultsForMissingKeys() throws {
        let policy = FailurePolicy(retries: [.oom: 1, .infra: 2], campaignRetryBudget: 50, backoffSeconds: 5, infraPatterns: ["NCCL WARN"])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(policy), as: UTF8.self)
        #expect(json.contains(#""retries":{"infra":2,"oom":1}"#))
        #expect(try JSONDecoder().decode(FailurePolicy.self, from: Data(json.utf8)) == policy)
        #expect(try JSONDecoder().decode(FailurePolicy.self, from: Data(#"{"quarantineAfter":0}"#.utf8)) == FailurePolicy(quarantineAfter: 0))
        // A spec encoded before failure policies existed decodes with the default policy.
        let spec = CampaignSpec(name: "x", command: CommandTemplate(argv: ["run"]), workdir: "/w", trials: 1)
        var object = try #require(try JSONSerialization.jsonObject(with: try encoder.encode(spec)) as? [String: Any])
        #expect(object.removeValue(forKey: "failurePolicy") != nil)
        let old = try JSONSerialization.data(withJSONObject: object)
        #expect(try JSONDecoder().decode(CampaignSpec.self, from: old) == spec)
    }

    @Test func validation() {
        let bad = FailurePolicy(
            retries: [.oom: -1, .unknown: 2], maxRetriesPerTrial: -1, campaignRetryBudget: -2, backoffSeconds: -1,
            infraPatterns: ["ok", ""], userPatterns: ["two\nlines"], circuitBreakerTrials: -1, quarantineAfter: -3)
        #expect(bad.problems().map(\.keyPath) == [
            "retry.oom", "retry.unknown", "retry.per_trial", "retry.campaign", "retry.backoff",
            "failures.infra_patterns[1]", "failures.user_patterns[0]", "failures.circuit_breaker", "failures.quarantine_after",
        ])
        #expect(FailurePolicy(backoffSeconds: .infinity).problems().map(\.keyPath) == ["retry.backoff"])
        let spec = CampaignSpec(name: "x", command: CommandTemplate(argv: ["run"]), workdir: "/w", trials: 1,
                                failurePolicy: FailurePolicy(quarantineAfter: -1))
        #expect(spec.problems().map(\.keyPath) == ["failures.quarantine_after"])
    }
}

extension RetryDecision {
    var isRetry: Bool { if case .retry = self { true } else { false } }
    var isGiveUp: Bool { if case .giveUp = self { true } else { false } }
}
