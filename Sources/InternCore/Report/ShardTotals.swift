/// A data campaign's totals (`totals: [rows_in, rows_kept, "dropped/*"]`): counter metrics its
/// jobs print, summed over its trials, with a row per shard, the throughput and the shards still
/// to run. Pure: the store's reader hands it each trial's outcome.
///
/// A trial counts once, with the last values of the attempt that completed it: a shard retried
/// after a failure, a kill or a lost worker adds only what its succeeding attempt printed.
public struct ShardTotals: Sendable, Equatable {
    /// One trial of the totalled stage, as the store has it.
    public struct Shard: Sendable, Equatable {
        public var trial: TrialID
        /// Its item (a map stage), else its parameters in words.
        public var item: String
        public var status: TrialStatus
        /// The last value of each declared total its succeeded attempt printed (empty unless completed).
        public var values: [String: Double]
        /// When its succeeded attempt started and ended, and its wall time (nil unless completed).
        public var startedAt: Timestamp?
        public var endedAt: Timestamp?
        public var wallMillis: UInt64?

        public init(
            trial: TrialID, item: String, status: TrialStatus, values: [String: Double] = [:], startedAt: Timestamp? = nil,
            endedAt: Timestamp? = nil, wallMillis: UInt64? = nil
        ) {
            self.trial = trial
            self.item = item
            self.status = status
            self.values = values
            self.startedAt = startedAt
            self.endedAt = endedAt
            self.wallMillis = wallMillis
        }
    }

    /// The metric names totalled, in the order declared (a pattern's matches sorted).
    public private(set) var names: [String] = []
    /// By name, the sum over completed shards.
    public private(set) var totals: [String: Double] = [:]
    /// Every shard, in trial order.
    public private(set) var shards: [Shard]
    /// Items that have not run to an end yet: no trial yet, or one pending or running.
    public private(set) var toRun: [String]
    /// Completed, and failed or cancelled for good.
    public private(set) var completed: Int
    public private(set) var failed: [Shard]
    /// Seconds from the first counted attempt's start to the last one's end (nil: none counted).
    public private(set) var elapsedSeconds: Double?

    /// Whether `name` matches a declared total: equal, or a pattern ending in `*` and `name`
    /// starting with what comes before it (`dropped/*` matches `dropped/duplicate`).
    public static func matches(_ name: String, pattern: String) -> Bool {
        pattern.hasSuffix("*") ? name.hasPrefix(pattern.dropLast()) : name == pattern
    }

    /// Totals of `shards` for the declared `patterns`; `items`: every item the stage maps over
    /// (empty when it does not map), to tell which are still to run.
    public init(patterns: [String], items: [String], shards: [Shard]) {
        self.shards = shards.sorted { $0.trial < $1.trial }
        completed = 0
        failed = []
        var seen: Set<String> = []
        var earliest: Timestamp?
        var latest: Timestamp?
        for shard in self.shards {
            switch shard.status {
            case .completed:
                completed += 1
                for (name, value) in shard.values where value.isFinite && patterns.contains(where: { Self.matches(name, pattern: $0) }) {
                    totals[name, default: 0] += value
                }
                if let start = shard.startedAt { earliest = min(earliest ?? start, start) }
                if let end = shard.endedAt { latest = max(latest ?? end, end) }
            case .failed, .cancelled, .pruned:
                failed.append(shard)
            case .pending, .running:
                break
            }
            seen.insert(shard.item)
        }
        let open = Set(self.shards.filter { !$0.status.isTerminal }.map(\.item))
        toRun = items.filter { !seen.contains($0) || open.contains($0) }
        for pattern in patterns {
            for name in totals.keys.filter({ Self.matches($0, pattern: pattern) }).sorted() where !names.contains(name) {
                names.append(name)
            }
        }
        if let earliest, let latest, latest > earliest { elapsedSeconds = Double(latest - earliest) / 1000 }
    }

    /// A total per second of the campaign's wall time (nil: no time counted yet).
    public func perSecond(_ name: String) -> Double? {
        guard let elapsedSeconds, elapsedSeconds > 0, let total = totals[name] else { return nil }
        return total / elapsedSeconds
    }

    /// A count as people read it: `8123`, `1.5e+12` beyond 15 digits, a fraction to 3 places.
    public static func text(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String((value * 1000).rounded() / 1000)
    }

    /// One line of totals: `rows_in 10000 (5000/s), rows_kept 8123 (4061.5/s)`.
    public var summary: String {
        names.map { name in
            var part = "\(name) \(Self.text(totals[name] ?? 0))"
            if let rate = perSecond(name) { part += " (\(Self.text((rate * 10).rounded() / 10))/s)" }
            return part
        }.joined(separator: ", ")
    }

    /// The shards that failed for good, in a line: `/d/03.jsonl (trial 4, failed), …` (at most
    /// `limit`, then how many more); `nil` when none did. Their rows are in no total.
    public func failedSummary(limit: Int = 3) -> String? {
        guard !failed.isEmpty else { return nil }
        let shown = failed.prefix(limit).map { "\($0.item) (trial \($0.trial), \($0.status.rawValue))" }
        return shown.joined(separator: ", ") + (failed.count > limit ? ", and \(failed.count - limit) more" : "")
    }

    /// One line of shards: `16 shards: 14 completed, 1 failed, 1 to run`.
    public var progress: String {
        let count = max(shards.count, completed + failed.count + toRun.count)
        return "\(count) shard\(count == 1 ? "" : "s"): \(completed) completed, \(failed.count) failed, \(toRun.count) to run"
    }
}
