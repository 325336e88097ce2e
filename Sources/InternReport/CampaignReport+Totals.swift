import InternCore

extension CampaignReport {
    /// A data campaign's totals as the report shows them (see ``ShardTotals``).
    public struct Totals: Sendable, Codable, Equatable {
        /// One shard: its trial, item, status, the totals it counted, its wall time.
        public struct Shard: Sendable, Codable, Equatable {
            public var trial: Int
            public var item: String
            public var status: String
            public var values: [String: Double]
            public var wallSeconds: Double?
        }

        /// The metric names totalled, in the order declared, and their sums.
        public var names: [String]
        public var values: [String: Double]
        /// Each total per second of wall time, from the first counted attempt's start to the last one's end.
        public var perSecond: [String: Double]
        public var elapsedSeconds: Double?
        /// `16 shards: 14 completed, 1 failed, 1 to run`.
        public var progress: String
        public var shards: [Shard]
        /// Items with no end yet.
        public var toRun: [String]

        public init(_ totals: ShardTotals) {
            names = totals.names
            values = totals.totals
            perSecond = Dictionary(uniqueKeysWithValues: totals.names.compactMap { name in totals.perSecond(name).map { (name, $0) } })
            elapsedSeconds = totals.elapsedSeconds
            progress = totals.progress
            shards = totals.shards.map { shard in
                Shard(trial: shard.trial, item: shard.item, status: shard.status.rawValue, values: shard.values,
                      wallSeconds: shard.wallMillis.map { Double($0) / 1000 })
            }
            toRun = totals.toRun
        }

        /// At most this many shards are listed in the Markdown and HTML reports (the JSON has all).
        public static let listedShards = 100

        /// The report's section: totals with throughput, the shards, those still to run.
        var lines: [String] {
            var lines = [progress]
            if names.isEmpty {
                lines.append("no shard has reported a declared total yet")
            } else {
                lines += CampaignReport.table(["total", "sum", "per second"], names.map { name in
                    [name, ShardTotals.text(values[name] ?? 0), perSecond[name].map { ShardTotals.text(($0 * 10).rounded() / 10) } ?? "-"]
                })
            }
            if let elapsedSeconds { lines.append("over \(ShardTotals.text((elapsedSeconds * 10).rounded() / 10)) s of wall time") }
            lines.append("per shard\(shards.count > Self.listedShards ? " (the first \(Self.listedShards) of \(shards.count))" : ""):")
            lines += CampaignReport.table(["trial", "item", "status", "wall s"] + names, shards.prefix(Self.listedShards).map { shard in
                [String(shard.trial), shard.item, shard.status, shard.wallSeconds.map { ReportText.number($0) } ?? "-"]
                    + names.map { shard.values[$0].map(ShardTotals.text) ?? "-" }
            })
            if !toRun.isEmpty {
                lines.append("still to run (\(toRun.count)): " + toRun.prefix(20).joined(separator: ", ") + (toRun.count > 20 ? ", …" : ""))
            }
            return lines
        }
    }
}
