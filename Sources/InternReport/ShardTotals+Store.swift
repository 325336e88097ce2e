import InternCore
import InternStore

extension ShardTotals {
    /// The totals of the campaign in `store` (`spec`: its parsed spec), or `nil` when the spec
    /// declares none (`totals:`). They sum the first stage's trials, a map stage's shards: a
    /// reduce stage after it reads the same rows again and is not counted twice. Each completed
    /// trial counts with the last values of its succeeded attempt only.
    public static func read(store: CampaignStore, spec: CampaignSpec) throws -> ShardTotals? {
        guard !spec.totals.isEmpty else { return nil }
        let trials = try store.trials().filter { $0.stage == 0 && !$0.isRepeat }
        let succeeded = try store.succeededAttempts(trials: trials.filter { $0.status == .completed }.map(\.id))
        let series = try store.metricSeries(attempts: succeeded.values.map(\.id))
        let shards = trials.map { trial -> Shard in
            let item = ItemMap.item(of: trial.parameters) ?? Format.parameters(trial.parameters)
            guard trial.status == .completed, let attempt = succeeded[trial.id] else {
                return Shard(trial: trial.id, item: item, status: trial.status)
            }
            var values: [String: Double] = [:]
            for summary in series[attempt.id] ?? [] where spec.totals.contains(where: { ShardTotals.matches(summary.name, pattern: $0) }) {
                if let value = summary.lastValue { values[summary.name] = value }
            }
            return Shard(
                trial: trial.id, item: item, status: trial.status, values: values, startedAt: attempt.startedAt,
                endedAt: attempt.endedAt, wallMillis: attempt.wallMillis)
        }
        return ShardTotals(patterns: spec.totals, items: spec.map?.items ?? [], shards: shards)
    }

    /// The lines `intern status` shows: the totals and throughput, the shards and the first few
    /// still to run, the first few that failed.
    public var statusLines: [String] {
        var lines = ["totals     " + (names.isEmpty ? "none reported yet" : summary)]
        var shardLine = "shards     " + progress
        if !toRun.isEmpty {
            shardLine += "; next: " + toRun.prefix(3).joined(separator: ", ") + (toRun.count > 3 ? ", …" : "")
        }
        lines.append(shardLine)
        if let failed = failedSummary() { lines.append("failed     " + failed + " (intern failures)") }
        return lines
    }
}
