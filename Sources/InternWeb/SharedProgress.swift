import InternCore
import InternReport
import InternStore
import NIOPosix

/// One campaign's progress as every open feed of it sees it: the store is read at most once per
/// `maxAge` (200 ms) whatever the number of feeds (fifty pages on a running campaign cost the process
/// what one does), the full read only when the fingerprint changed. The reads run on NIO's
/// thread pool; a feed that asks while a read is under way waits for that read.
actor SharedProgress {
    /// What a poll found.
    struct Snapshot: Sendable {
        var fingerprint: CampaignProgress.Fingerprint
        /// The campaign's progress, without events (each feed adds those after its own last).
        var progress: CampaignProgress
        /// The latest events (at most 50), oldest first, with their ids.
        var events: [(id: Int64, line: String)]
        var readAt: ContinuousClock.Instant
        /// The version of the page's analysis to show (``AnalysisPacer``).
        var analysis = 0

        /// The progress with the events after `after` (none when nil).
        func progress(after: Int64?) -> CampaignProgress {
            var progress = progress
            progress.events = after.map { after in events.filter { $0.id > after }.map(\.line) } ?? []
            progress.analysis = analysis
            return progress
        }

        /// What a feed sends again when it changes.
        var mark: Mark { Mark(fingerprint: fingerprint, analysis: analysis) }
    }

    /// The campaign's fingerprint and the analysis's version.
    struct Mark: Sendable, Equatable {
        var fingerprint: CampaignProgress.Fingerprint
        var analysis: Int
    }

    /// How old a poll may be before the next feed's question reads the store again.
    static let defaultMaxAge: Duration = .milliseconds(200)

    private let store: CampaignStore
    private let view: StageView
    let maxAge: Duration
    private var latest: Snapshot?
    private var reading: Task<Snapshot, any Error>?
    /// Its report (how long drawing the analysis takes) and when the analysis is drawn again.
    private let report: StoreShelf.ReportCache
    private var pacer = AnalysisPacer<CampaignProgress.Fingerprint>()

    init(store: CampaignStore, view: StageView, report: StoreShelf.ReportCache = StoreShelf.ReportCache(), maxAge: Duration = defaultMaxAge) {
        self.store = store
        self.view = view
        self.report = report
        self.maxAge = maxAge
    }

    /// The campaign as of at most `maxAge` ago (`fresh`: as of now); `now` is the wall clock for
    /// the state.
    func snapshot(now: Timestamp, fresh: Bool = false) async throws -> Snapshot {
        if !fresh, let latest, ContinuousClock.now - latest.readAt < maxAge { return latest }
        if let reading { return try await reading.value }
        let (store, view, previous) = (store, view, latest)
        // Awaited by this caller and by any that ask meanwhile: not left running on its own.
        let task = Task { try await NIOThreadPool.singleton.runIfActive { try Self.read(store: store, view: view, now: now, previous: previous) } }
        reading = task
        defer { reading = nil }
        var snapshot = try await task.value
        let buildMillis = await report.lastBuildMillis
        snapshot.analysis = pacer.poll(snapshot.fingerprint, final: snapshot.progress.final, now: now, buildMillis: buildMillis)
        latest = snapshot
        return snapshot
    }

    /// A poll: the fingerprint, then (when it changed) the rest.
    static func read(store: CampaignStore, view: StageView, now: Timestamp, previous: Snapshot?) throws -> Snapshot {
        let (fingerprint, _) = try CampaignProgress.fingerprint(store: store, now: now)
        if var previous, previous.fingerprint == fingerprint {
            previous.readAt = .now
            return previous
        }
        let (progress, read) = try CampaignProgress.read(store: store, view: view, now: now, after: nil)
        var events = previous?.events ?? []
        if read.lastEventID > (events.last?.id ?? 0) {
            let since = max(events.last?.id ?? 0, read.lastEventID - 50)
            let clock = Format.clocks()
            events += try store.events(after: since, limit: 50).map { (id: $0.id, line: CampaignProgress.eventLine($0.event, clock: clock)) }
            events = Array(events.suffix(50))
        }
        return Snapshot(fingerprint: read, progress: progress, events: events, readAt: .now)
    }
}
