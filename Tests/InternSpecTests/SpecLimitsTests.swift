import InternCore
import InternSpec
import Testing

/// Values a spec accepts must not crash a campaign later: every count, duration, size and amount
/// has an upper bound, and a value beyond it is a located error that names the bound.
@Suite struct SpecLimitsTests {
    static func error(_ extra: String, trials: String = "trials: 2") -> SpecError? {
        let yaml = "name: x\ncommand: [/bin/true]\n\(trials)\n\(extra)\n"
        do {
            _ = try CampaignSpecParser.parse(yaml: yaml, file: "campaign.yaml", baseDirectory: "/tmp")
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        ("timeout: 1e300", "timeout must be at most 366 days"),
        ("timeout: 999999999999999999999d", "timeout must be at most 366 days"),
        ("retry: {backoff: 1e300}", "retry.backoff must be at most a day"),
        ("retry: {oom: 9223372036854775807}", "retry.oom must be at most 1000000"),
        ("retries: 9223372036854775807", "retries must be at most 1000000"),
        ("gpus: 9223372036854775807", "gpus must be at most 1024"),
        ("cpus: 100000", "cpus must be at most 65536"),
        ("memory: 2000TiB", "memory must be at most 1PiB"),
        ("parallel: 10000000000", "parallel must be at most 100000"),
        ("budget: {hours: 1e300}", "budget.hours must be at most 1000000"),
        ("budget: {gpu_hours: 1e300}", "budget.gpu_hours must be at most 1000000000"),
        ("failures: {circuit_breaker: 9223372036854775807}", "failures.circuit_breaker must be at most 10000000"),
        ("objective: {metric: loss, direction: minimize}\\npruning: {rule: asha, min_step: 9223372036854775807}", "pruning.min_step must be at most"),
        ("objective: {metric: loss, direction: minimize}\\npruning: {rule: asha, reduction: 100000}", "pruning.reduction must be at most 1000"),
    ])
    func aValueBeyondItsBound_isALocatedError(spec: String, message: String) throws {
        let found = try #require(Self.error(spec.replacingOccurrences(of: "\\n", with: "\n")), "\(spec) was accepted")
        #expect(found.description.contains(message), "\(found.description)")
        #expect(found.description.hasPrefix("campaign.yaml:4:") || found.description.hasPrefix("campaign.yaml:5:"), "\(found.description)")
    }

    @Test func trialsBeyondTheBound() throws {
        let found = try #require(Self.error("", trials: "trials: 9223372036854775807"))
        #expect(found.description.contains("trials must be at most 10000000"), "\(found.description)")
    }

    @Test func theBoundsThemselvesAreAccepted() {
        #expect(Self.error("timeout: 366d\nretry: {backoff: 1d}\ngpus: 1024\nparallel: 100000\nbudget: {hours: 1000000}") == nil)
        #expect(Self.error("failures: {circuit_breaker: 0, quarantine_after: 0}") == nil)
    }
}
