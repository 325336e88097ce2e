import InternCore
import Testing

/// Totals of a data campaign: counters summed over completed shards, once each.
@Suite struct ShardTotalsTests {
    typealias Shard = ShardTotals.Shard

    @Test func completedShardsAreSummed_byNameAndPrefix_inDeclaredOrder() {
        let totals = ShardTotals(
            patterns: ["rows_in", "rows_kept", "dropped/*"], items: ["a", "b", "c"],
            shards: [
                Shard(trial: 1, item: "a", status: .completed, values: ["rows_in": 100, "rows_kept": 80, "dropped/toxicity": 5, "dropped/duplicate": 15],
                      startedAt: 1_000, endedAt: 3_000),
                Shard(trial: 2, item: "b", status: .completed, values: ["rows_in": 50, "rows_kept": 50, "other": 9], startedAt: 2_000, endedAt: 5_000),
            ])
        #expect(totals.names == ["rows_in", "rows_kept", "dropped/duplicate", "dropped/toxicity"])
        #expect(totals.totals == ["rows_in": 150, "rows_kept": 130, "dropped/duplicate": 15, "dropped/toxicity": 5])
        #expect(totals.elapsedSeconds == 4 && totals.perSecond("rows_in") == 37.5)
        #expect(totals.toRun == ["c"] && totals.completed == 2)
        #expect(totals.summary == "rows_in 150 (37.5/s), rows_kept 130 (32.5/s), dropped/duplicate 15 (3.8/s), dropped/toxicity 5 (1.3/s)")
        #expect(totals.progress == "3 shards: 2 completed, 0 failed, 1 to run")
    }

    @Test func failedAndOpenShardsCountNothing_openOnesAreStillToRun() {
        let totals = ShardTotals(
            patterns: ["rows_in"], items: ["a", "b", "c", "d"],
            shards: [
                Shard(trial: 1, item: "a", status: .failed, values: ["rows_in": 1_000]),
                Shard(trial: 2, item: "b", status: .running),
                Shard(trial: 3, item: "c", status: .completed, values: ["rows_in": 7, "rows_out": 1]),
            ])
        #expect(totals.totals == ["rows_in": 7])
        #expect(totals.failed.map(\.trial) == [1])
        #expect(totals.toRun == ["b", "d"])
        #expect(totals.progress == "4 shards: 1 completed, 1 failed, 2 to run")
        #expect(totals.failedSummary() == "a (trial 1, failed)")
        #expect(ShardTotals(patterns: [], items: [], shards: [Shard(trial: 1, item: "a", status: .completed)]).failedSummary() == nil)
        let many = ShardTotals(patterns: [], items: [], shards: (1...5).map { Shard(trial: $0, item: "s\($0)", status: .cancelled) })
        #expect(many.failedSummary(limit: 2) == "s1 (trial 1, cancelled), s2 (trial 2, cancelled), and 3 more")
    }

    @Test func aPatternMatchesOnlyWhatItNames() {
        #expect(ShardTotals.matches("dropped/toxicity", pattern: "dropped/*"))
        #expect(!ShardTotals.matches("kept/toxicity", pattern: "dropped/*"))
        #expect(ShardTotals.matches("rows_in", pattern: "rows_in") && !ShardTotals.matches("rows_in2", pattern: "rows_in"))
        #expect(ShardTotals.text(8123) == "8123" && ShardTotals.text(0.12345) == "0.123")
    }
}
