import GRDB
import InternCore

/// A request from an admin command to the running coordinator.
public struct ControlRequest: Sendable, Equatable {
    /// What to do.
    public enum Kind: String, Sendable {
        /// Cancel a trial (`target` is the trial number).
        case cancelTrial = "cancel_trial"
        /// Stop giving work to a worker (`target` is the worker id).
        case drainWorker = "drain_worker"
        /// Pause dispatch (`target` empty).
        case pauseCampaign = "pause"
        /// Resume dispatch (`target` empty).
        case resumeCampaign = "resume"
        /// Enqueue configurations, add trials, raise the budget (`target`: a JSON `AddRequest`).
        case add
        /// Validate the best now: repeat the top configurations with new seeds (`target`:
        /// `TOP REPEATS`, each a number or `-` for the spec's `validate:`).
        case validate
    }

    /// Where a request stands, as its submitter sees it.
    public enum State: Sendable, Equatable {
        /// No coordinator has taken it yet.
        case pending
        /// A coordinator took it and has not said what came of it: it is being applied, or the
        /// coordinator stopped while applying it (it is never applied again).
        case taken
        /// Applied, with what came of it; `refused` when it was turned down, all or in part.
        case handled(String, refused: Bool)
    }

    public var id: Int64
    public var kind: Kind
    public var target: String
    public var createdAt: Timestamp
    /// Who asked (`agent:NAME` for an agent, held to the agent policy); `nil`: a person, unnamed.
    public var actor: String?
    /// Limits an agent's request is held to besides the spec's `agent:` (the flags of `intern mcp`).
    public var policy: AgentPolicy?
}

extension CampaignStore {
    /// Queues a request for the coordinator (admin side). Returns its id.
    @discardableResult
    public func submit(
        _ kind: ControlRequest.Kind, target: String, actor: String? = nil, policy: AgentPolicy? = nil, now: Timestamp
    ) throws -> Int64 {
        try write { db in
            try db.execute(sql: "INSERT INTO control_requests (kind, target, created_at, actor, policy) VALUES (?, ?, ?, ?, ?)",
                           arguments: [kind.rawValue, target, now, actor, policy.map(encodeJSON)])
            return db.lastInsertedRowID
        }
    }

    /// Requests not handled yet, oldest first (coordinator side).
    public func pendingControlRequests() throws -> [ControlRequest] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM control_requests WHERE handled_at IS NULL ORDER BY id").compactMap { row in
                guard let kind = ControlRequest.Kind(rawValue: row["kind"]) else { return nil }
                return ControlRequest(
                    id: row["id"], kind: kind, target: row["target"], createdAt: row["created_at"], actor: row["actor"],
                    policy: decodeJSON(AgentPolicy.self, row["policy"]))
            }
        }
    }

    /// Takes a request before it is applied (coordinator side): it is no longer pending, so a
    /// request whose handling stopped the coordinator is never replayed into the next one, and
    /// it has no outcome yet, so whoever waits on it keeps waiting rather than reading a guess.
    public func take(_ id: Int64, now: Timestamp) throws {
        try write { db in
            try db.execute(sql: "UPDATE control_requests SET handled_at = ?, outcome = NULL WHERE id = ?", arguments: [now, id])
        }
    }

    /// Marks a request handled, with what came of it.
    public func markHandled(_ id: Int64, outcome: String, refused: Bool = false, now: Timestamp) throws {
        try write { db in
            try db.execute(sql: "UPDATE control_requests SET handled_at = ?, outcome = ?, refused = ? WHERE id = ?", arguments: [now, outcome, refused, id])
        }
    }

    /// Where a request stands.
    public func controlState(_ id: Int64) throws -> ControlRequest.State {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT handled_at, outcome, refused FROM control_requests WHERE id = ?", arguments: [id]),
                  (row["handled_at"] as Int64?) != nil
            else { return .pending }
            if let outcome: String = row["outcome"] { return .handled(outcome, refused: row["refused"] ?? false) }
            return .taken
        }
    }

    /// The outcome of a request, once handled.
    public func controlOutcome(_ id: Int64) throws -> String? {
        if case .handled(let outcome, _) = try controlState(id) { return outcome }
        return nil
    }
}
