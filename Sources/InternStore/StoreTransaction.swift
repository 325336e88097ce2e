import GRDB
import InternCore

/// A write transaction of the store, open while a closure runs (see
/// ``ReportIngestor/ingest(frames:metrics:trialOf:now:alongside:)``): what it applies and reads
/// is part of the same commit.
public struct StoreTransaction {
    let store: CampaignStore
    let db: Database

    /// Applies the logic's state changes (as ``CampaignStore/apply(_:)`` does, in this transaction).
    public func apply(_ changes: [StoreChange]) throws {
        for change in changes {
            try CampaignStore.apply(change, in: db)
        }
    }

    /// An attempt's last metric values, this transaction's writes included (see
    /// ``CampaignStore/lastMetricValues(attempt:always:limit:)``).
    public func lastMetricValues(attempt: AttemptID, always: Set<String>, limit: Int = MetricCoverage.maxSeenNames) throws -> [String: Double] {
        try CampaignStore.lastMetricValues(attempt: attempt, always: always, limit: limit, in: db)
    }
}
