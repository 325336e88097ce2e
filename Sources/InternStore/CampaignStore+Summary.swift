import GRDB
import InternCore

/// What `intern status` shows, answered by aggregate queries: a campaign of 10,000 trials is not
/// loaded whole (decoding every trial's parameters was most of its time) to count them.
extension CampaignStore {
    /// How many trials there are by stage, status and feasibility.
    public struct TrialCount: Sendable, Equatable {
        public var stage: Int
        public var status: TrialStatus
        public var feasible: Bool?
        public var count: Int

        public init(stage: Int, status: TrialStatus, feasible: Bool?, count: Int) {
            self.stage = stage
            self.status = status
            self.feasible = feasible
            self.count = count
        }
    }

    public func trialCounts() throws -> [TrialCount] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT stage, status, feasible, COUNT(*) AS n FROM trials GROUP BY stage, status, feasible").map { row in
                TrialCount(
                    stage: (row["stage"] as Int?) ?? 0, status: TrialStatus(rawValue: row["status"]) ?? .failed,
                    feasible: row["feasible"], count: row["n"])
            }
        }
    }

    /// The best completed, feasible trial of `stage` that reported the objective: the lowest
    /// (or, `maximize`, the highest) value, the lowest id among equals.
    public func bestTrial(stage: Int, maximize: Bool) throws -> TrialRecord? {
        try read { db in
            try ColumnRow.fetchAll(db, sql: """
                SELECT * FROM trials WHERE stage = ? AND status = 'completed' AND objective IS NOT NULL AND (feasible IS NULL OR feasible != 0)
                ORDER BY objective \(maximize ? "DESC" : "ASC"), id LIMIT 1
                """, arguments: [stage]).first.map(Self.trial(from:))
        }
    }

    /// One trial, by id.
    public func trial(_ id: TrialID) throws -> TrialRecord? {
        try read { db in
            try ColumnRow.fetchAll(db, sql: "SELECT * FROM trials WHERE id = ?", arguments: [id]).first.map(Self.trial(from:))
        }
    }

    /// Failed, lost or preempted attempts by failure class, and how many distinct signatures they have.
    public func failureCounts() throws -> (byClass: [FailureClass: Int], signatures: Int) {
        try read { db in
            var byClass: [FailureClass: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT failure_class, COUNT(*) AS n FROM attempts WHERE failure_class IS NOT NULL GROUP BY failure_class") {
                if let failure = FailureClass(rawValue: row["failure_class"]) { byClass[failure, default: 0] += row["n"] as Int }
            }
            let signatures = try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT failure_signature) FROM attempts WHERE failure_signature IS NOT NULL") ?? 0
            return (byClass, signatures)
        }
    }
}
