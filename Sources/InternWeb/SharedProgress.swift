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
        /// The versions of the page's analysis and of its tables (trials, workers) to show (``RedrawPacer``).
        var analysis = 0
        var table = 0

        /// The progress with the events after `after` (none when nil).
        func progress(after: Int64?) -> CampaignProgress {
            var progress = progress
            progress.events = after.map { after in events.filter { $0.id > after }.map(\.line) } ?? []
            progress.analysis = analysis
            progress.table = table
            return progress
        }

        /// What a feed sends again when it changes.
        var mark: Mark { Mark(fingerprint: fingerprint, analysis: analysis, table: table) }
    }

    /// The campaign's fingerprint and the versions of the parts pages fetch.
    struct Mark: Sendable, Equatable {
        var fingerprint: CampaignProgress.Fingerprint
        var analysis: Int
        var table: Int
    }

    /// How old a poll may be before the next feed's question reads the store again.
    static let defaultMaxAge: Duration = .milliseconds(200)

    private let store: CampaignStore
    private let view: StageView
    let maxAge: Duration
    private var latest: Snapshot?
    private var reading: Task<Snapshot, any Error>?
    /// Its report and tables (how long drawing them takes) and when they are drawn again.
    private let report: StoreShelf.RenderCache<StoreShelf.DrawnReport>
    private let tables: StoreShelf.RenderCache<String>
    private var analysisPacer = RedrawPacer<CampaignProgress.Fingerprint>()
    private var tablePacer = RedrawPacer<CampaignProgress.Fingerprint>()
    /// The progress events encoded for the latest mark, by the `after` they were asked with (-1: none).
    private var encoded: (mark: Mark, byAfter: [Int64: (text: String, lastEventID: Int64)])?

    init(
        store: CampaignStore, view: StageView, report: StoreShelf.RenderCache<StoreShelf.DrawnReport> = .init(),
        tables: StoreShelf.RenderCache<String> = .init(), maxAge: Duration = defaultMaxAge
    ) {
        self.store = store
        self.view = view
        self.report = report
        self.tables = tables
        self.maxAge = maxAge
    }

    /// The campaign as of at most `maxAge` ago (`fresh`: as of now); `now` is the wall clock for
    /// the state.
    func snapshot(now: Timestamp, fresh: Bool = false) async throws -> Snapshot {
        if !fresh, let latest, ContinuousClock.now - latest.readAt < maxAge { return latest }
        if let reading { return try await reading.value }
        let (store, view, previous) = (store, view, latest)
        // Awaited by this caller and by any that ask meanwhile (who all get the snapshot with its
        // versions): not left running on its own.
        let task = Task {
            let read = try await NIOThreadPool.singleton.runIfActive { try Self.read(store: store, view: view, now: now, previous: previous) }
            return await self.paced(read, now: now)
        }
        reading = task
        defer { reading = nil }
        return try await task.value
    }

    /// `snapshot` with the versions of the parts pages fetch, kept as the latest.
    private func paced(_ snapshot: Snapshot, now: Timestamp) async -> Snapshot {
        var snapshot = snapshot
        let (analysisMillis, tableMillis) = (await report.lastBuildMillis, await tables.lastBuildMillis)
        snapshot.analysis = analysisPacer.poll(snapshot.fingerprint, final: snapshot.progress.final, now: now, buildMillis: analysisMillis)
        snapshot.table = tablePacer.poll(snapshot.fingerprint, final: snapshot.progress.final, now: now, buildMillis: tableMillis)
        latest = snapshot
        return snapshot
    }

    /// The `progress` event a feed sends for `snapshot` with the events after `after`, and its
    /// last event's id: encoded once for all the feeds that send the same (every page of a
    /// campaign, mostly).
    func event(_ snapshot: Snapshot, after: Int64?) -> (text: String, lastEventID: Int64) {
        if encoded?.mark != snapshot.mark { encoded = (snapshot.mark, [:]) }
        let key = after ?? -1
        if let event = encoded?.byAfter[key] { return event }
        let progress = snapshot.progress(after: after)
        let event = (ServerSentEvent(event: "progress", id: "\(progress.lastEventID)", data: progress.json).text, progress.lastEventID)
        if encoded!.byAfter.count < 64 { encoded!.byAfter[key] = event }
        return event
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
