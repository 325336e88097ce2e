import InternCore
import InternStore

/// A data campaign's audit sample, read from its stored logs: the `intern_sample` lines (see
/// ``SampleLine``) that the first stage's completed trials printed, through a
/// ``SampleReservoir``. Only the attempt that completed a trial is read, so a retried shard's
/// records count once; trials are read in order, stdout before stderr, so the same seed gives
/// the same sample.
public struct AuditSample: Sendable, Codable, Equatable {
    /// One reason's sample.
    public struct Reason: Sendable, Codable, Equatable {
        public var reason: String
        /// Records of this reason the shards printed, and those kept.
        public var seen: Int
        public var samples: [SampleReservoir.Sample]
    }

    public var seed: UInt64
    public var perReason: Int
    /// The reasons, most records first.
    public var reasons: [Reason]
    /// Records of reasons past the reservoir's limit on reasons (counted, not kept).
    public var overflow: Int

    public init(_ reservoir: SampleReservoir) {
        seed = reservoir.seed
        perReason = reservoir.perReason
        reasons = reservoir.reasons.map { reason in
            let stratum = reservoir.strata[reason]!
            return Reason(reason: reason, seen: stratum.seen, samples: stratum.samples)
        }
        overflow = reservoir.overflow
    }

    /// The sample of the campaign in `store`, drawn with `seed`, `perReason` records per reason.
    public static func read(store: CampaignStore, seed: UInt64 = 0, perReason: Int = 20) throws -> AuditSample {
        var reservoir = SampleReservoir(seed: seed, perReason: perReason)
        let trials = try store.trials().filter { $0.stage == 0 && $0.status == .completed && !$0.isRepeat }
        let succeeded = try store.succeededAttempts(trials: trials.map(\.id))
        for trial in trials {
            guard let attempt = succeeded[trial.id] else { continue }
            let item = ItemMap.item(of: trial.parameters) ?? "trial \(trial.id)"
            for stream in [StoredStream.stdout, .stderr] {
                let bytes = try store.readLog(trial: trial.id, attempt: attempt.id, stream: stream)
                for line in bytes.split(separator: UInt8(ascii: "\n")) where Self.mayBeSample(line) {
                    if let sample = SampleLine.parse(String(decoding: line, as: UTF8.self)) {
                        reservoir.offer(reason: sample.reason, record: sample.record, trial: trial.id, item: item)
                    }
                }
            }
        }
        return AuditSample(reservoir)
    }

    /// Whether a line starts (after blanks) with `{"intern_`: the only lines worth parsing.
    static func mayBeSample(_ line: ArraySlice<UInt8>) -> Bool {
        var index = line.startIndex
        while index < line.endIndex, line[index] == 0x20 || line[index] == 0x09 { index += 1 }
        return line[index...].starts(with: prefix)
    }

    private static let prefix = Array("{\"intern_sample\"".utf8)

    /// The report's section: per reason, how many were seen and the records kept (at most
    /// `shown` each).
    func lines(shown: Int = 5) -> [String] {
        var lines = ["a seeded sample (seed \(seed)) of at most \(perReason) records per reason, across all shards; `intern samples --reason R` shows them all"]
        if reasons.isEmpty { lines.append("no shard printed an intern_sample line") }
        for reason in reasons {
            lines.append("\(reason.reason): \(reason.seen) seen, \(reason.samples.count) kept")
            lines += reason.samples.prefix(shown).map { "  \($0.item) (trial \($0.trial)): \(CampaignReport.oneLine($0.record, limit: 160))" }
        }
        if overflow > 0 { lines.append("\(overflow) records of further reasons were not kept") }
        return lines
    }
}
