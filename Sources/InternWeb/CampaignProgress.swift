import Foundation
import InternCore
import InternReport
import InternStore

/// Where a campaign stands, as the live campaign page shows it and its Server-Sent Events carry
/// it (JSON): counts by status, how many ended trials improved the best, the best, the workers,
/// the latest events. Built from what the store returned; reading is ``read(store:view:now:after:)``.
public struct CampaignProgress: Sendable, Equatable, Codable {
    /// What decides whether anything a page shows changed: cheap to read (aggregates and the
    /// last event's id), compared at every poll; the rest is read only when it differs.
    public struct Fingerprint: Sendable, Equatable {
        public var lastEventID: Int64
        public var counts: [String: Int]
        public var state: String
        public var workers: Int

        public init(lastEventID: Int64, counts: [String: Int], state: String, workers: Int) {
            self.lastEventID = lastEventID
            self.counts = counts
            self.state = state
            self.workers = workers
        }
    }

    public var campaign: String
    /// `running`, `paused`, `finished`, `stopped: why`, `not running`.
    public var state: String
    /// Whether the campaign can no longer change (finished, or stopped by its circuit breaker).
    public var final: Bool
    /// Trials by status; `pending` includes those not drawn yet.
    public var counts: [String: Int]
    public var total: Int
    /// Trials of the selection stage that ended (any outcome), and how many of them improved the
    /// best when they ended.
    public var ended: Int
    public var improved: Int
    /// `trial 7: eval_loss = 0.21`, or what is missing.
    public var best: String
    /// Workers not lost.
    public var workers: Int
    public var lastEventID: Int64
    /// Events after the previous message's `lastEventID`, oldest first (`12:01:02 trial.completed …`).
    public var events: [String]
    /// The version of the page's analysis (charts, failures, goal, hours): a page fetches it
    /// again when this changed (``RedrawPacer``).
    public var analysis = 0
    /// The version of the page's trials table and workers: fetched again when this changed.
    public var table = 0

    public init(
        campaign: String, state: String, final: Bool, counts: [String: Int], total: Int, ended: Int, improved: Int, best: String, workers: Int,
        lastEventID: Int64, events: [String]
    ) {
        self.campaign = campaign
        self.state = state
        self.final = final
        self.counts = counts
        self.total = total
        self.ended = ended
        self.improved = improved
        self.best = best
        self.workers = workers
        self.lastEventID = lastEventID
        self.events = events
    }

    /// `completed` and the like, 0 when none.
    public func count(_ status: TrialStatus) -> Int { counts[status.rawValue] ?? 0 }

    /// `5 of 12 ended trials improved the best`.
    public var progressLine: String { "\(improved) of \(ended) ended trials improved the best" }

    /// The state in one word or phrase, from the campaign's row; `running` says whether its
    /// coordinator showed a sign of life lately.
    public static func state(_ info: CampaignInfo, running: Bool) -> String {
        if info.finishedAt != nil { return "finished" }
        if let reason = info.stoppedReason { return "stopped: \(reason)" }
        if running { return info.paused ? "paused" : "running" }
        return "not running"
    }

    /// Counts by status from the store's tally, with the trials not drawn yet counted pending.
    public static func counts(_ tally: [CampaignStore.TrialCount], trialsInAll: Int) -> (counts: [String: Int], total: Int) {
        var counts: [String: Int] = [:]
        for row in tally { counts[row.status.rawValue, default: 0] += row.count }
        let drawnFirstStage = tally.filter { $0.stage == 0 }.reduce(0) { $0 + $1.count }
        let notDrawn = max(0, trialsInAll - drawnFirstStage)
        if notDrawn > 0 { counts[TrialStatus.pending.rawValue, default: 0] += notDrawn }
        return (counts, tally.reduce(0) { $0 + $1.count } + notDrawn)
    }

    /// An event as the page lists it: `2026-12-07 12:01:02  trial.completed  …`.
    /// `clock` formats the time (``Format/clocks()``'s, for many lines).
    public static func eventLine(_ event: CampaignEvent, clock: (Timestamp?) -> String = Format.clock) -> String {
        "\(clock(event.at))  \(event.kind)  \(event.message)"
    }

    /// The message as JSON (keys sorted).
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }
}

extension CampaignProgress {
    /// The fingerprint of the campaign in `store` at `now`: a few aggregate queries.
    public static func fingerprint(store: CampaignStore, now: Timestamp) throws -> (Fingerprint, CampaignInfo) {
        guard let info = try store.info() else { throw WebError.notFound("the campaign directory holds no campaign") }
        let (counts, _) = Self.counts(try store.trialCounts(), trialsInAll: info.trialsInAll)
        let workers = try store.workers().filter { $0.state != .lost }.count
        let state = Self.state(info, running: CampaignStatus.coordinatorRunning(info, now: now))
        return (Fingerprint(lastEventID: try store.lastEventID(), counts: counts, state: state, workers: workers), info)
    }

    /// The campaign in `store` (its spec's `view`) at `now`, with its events after event `after`
    /// (at most the latest 50; none when `after` is nil).
    public static func read(store: CampaignStore, view: StageView, now: Timestamp, after: Int64?) throws -> (CampaignProgress, Fingerprint) {
        let (fingerprint, info) = try fingerprint(store: store, now: now)
        let (counts, total) = Self.counts(try store.trialCounts(), trialsInAll: info.trialsInAll)
        var ended = 0, improved = 0
        var best = "no objective"
        if let index = view.spec.selectionStage, let objective = view.stages[index].objective {
            let outcomes = try store.trialOutcomes(stage: index)
            ended = outcomes.filter { $0.status.isTerminal }.count
            improved = ProgressCurve(outcomes: outcomes, objective: objective).points.filter(\.improved).count
            if let trial = try store.bestTrial(stage: index, maximize: view.order(stage: index).maximize) {
                best = "trial \(trial.id): \(objective.metric) = \(Format.value(trial.objective))"
                // Validation repeats ran: the verdict's best, its repeats' mean ± sd, validated or not.
                if outcomes.contains(where: \.isRepeat), let verdict = view.validation(of: try store.validationTrials(stage: index)) {
                    best = verdict.summary
                }
            } else {
                best = "no completed trial reported \(objective.metric) yet"
            }
        }
        var events: [String] = []
        if let after, fingerprint.lastEventID > after {
            let clock = Format.clocks()
            events = try store.events(after: max(after, fingerprint.lastEventID - 50), limit: 50).map { Self.eventLine($0.event, clock: clock) }
        }
        let progress = CampaignProgress(
            campaign: info.name, state: fingerprint.state, final: info.finishedAt != nil || info.stoppedReason != nil, counts: counts, total: total,
            ended: ended, improved: improved, best: best, workers: fingerprint.workers, lastEventID: fingerprint.lastEventID, events: events)
        return (progress, fingerprint)
    }
}
