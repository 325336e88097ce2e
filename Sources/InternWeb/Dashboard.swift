import Foundation
import Hummingbird
import InternCore
import InternLab
import InternReport
import InternStore
import Logging
import NIOPosix
import Zstd

/// The dashboard: the web pages and live feeds of the campaigns under one root directory, read
/// from their stores (read-only, as `intern status` reads them). `intern serve` runs it alone;
/// `intern run --http` beside the coordinator.
///
/// Routes: `/` the campaigns; `/metrics` for Prometheus; `/c/NAME` a campaign (live), `/c/NAME/events` its progress as
/// Server-Sent Events, `/c/NAME/trials` its trials table alone (`/c/NAME/workers` its workers), `/c/NAME/report` its HTML report;
/// `/c/NAME/t/ID` a trial, `/c/NAME/t/ID/a/ATTEMPT/STREAM.zst` (or `.txt`) an attempt's log and
/// `…/STREAM/follow` the log as it grows; `/static/dashboard.js`; the POSTs that steer a campaign
/// (`Dashboard+Control.swift`).
public struct Dashboard: Sendable {
    public let root: CampaignRoot
    /// Who may steer (pause, resume, cancel, add): nobody unless a token was given.
    public let access: ControlAccess
    let shelf: StoreShelf
    /// The measurements of the coordinator that shares this process (`--http`), shown on
    /// `/metrics`; nil for `intern serve`.
    public let measurements: CoordinatorMeasurements?
    /// Reads the clock (milliseconds since 1970); a test may pin it.
    let now: @Sendable () -> Timestamp

    public init(
        root: String, access: ControlAccess = ControlAccess(token: nil), measurements: CoordinatorMeasurements? = nil,
        now: @escaping @Sendable () -> Timestamp = { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
    ) {
        self.root = CampaignRoot(path: root)
        self.access = access
        self.measurements = measurements
        self.shelf = StoreShelf(root: self.root)
        self.now = now
    }

    /// The routes.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/") { _, _ in try await self.blocking { Response.html(try self.campaignsPage()) } }
        router.get("/metrics") { _, _ in
            try await self.blocking {
                let text = CampaignMetrics.exposition(self.root.names().compactMap { name in
                    // A campaign that cannot be read is left out (its page says why).
                    guard let entry = try? self.shelf.entry(name) else { return nil }
                    return try? CampaignMetrics.read(store: entry.store, view: entry.view, now: self.now())
                }, coordinator: self.measurements?.snapshot)
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                                body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
            }
        }
        router.get("/static/dashboard.js") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "max-age=300"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: DashboardScript.source)))
        }
        router.get("/c/:name") { request, context in
            let name = try context.parameters.require("name")
            let parameters = Self.parameters(request)
            // What may be refused (no such campaign, a bad query) is refused before the first byte.
            let (entry, model, fingerprint) = try await self.blocking { try self.campaignTop(name, parameters: parameters) }
            return self.campaignPage(entry, model, fingerprint: fingerprint)
        }
        // The parts a page fetches again when a progress event's version moved (every page at
        // once, after the same event): made as of the campaign as its feeds last read it (no
        // read of its own) and rendered once for all of them.
        router.get("/c/:name/trials") { request, context in
            let name = try context.parameters.require("name")
            let parameters = Self.parameters(request)
            let entry = try await self.entry(name)
            // A bad query is refused before anything is made.
            let query = try TrialQuery(parameters: parameters, stages: entry.view.stages.map(\.name))
            let fingerprint = try await entry.progress.snapshot(now: self.now()).fingerprint
            return Response.html(try await entry.tables.value("trials?" + query.queryString, for: fingerprint) {
                let stageNames = entry.view.stages.map(\.name)
                return Pages.trialsTable(campaign: name, query: query, trials: query.apply(try entry.store.trials(), stageNames: stageNames), stageNames: stageNames)
            })
        }
        router.get("/c/:name/analysis") { _, context in
            let name = try context.parameters.require("name")
            let entry = try await self.entry(name)
            let fingerprint = try await entry.progress.snapshot(now: self.now()).fingerprint
            return Response.html(try await self.analysis(name, entry, fingerprint: fingerprint).html)
        }
        router.get("/c/:name/workers") { _, context in
            let name = try context.parameters.require("name")
            let entry = try await self.entry(name)
            let fingerprint = try await entry.progress.snapshot(now: self.now()).fingerprint
            return Response.html(try await entry.tables.value("workers", for: fingerprint) {
                let running = try Self.runningByWorker(entry.store, trials: try entry.store.trials(status: .running).map(\.id))
                return Pages.workersTable(campaign: name, workers: try entry.store.workers(), running: running)
            })
        }
        router.get("/c/:name/report") { _, context in
            let name = try context.parameters.require("name")
            return try await self.blocking {
                let entry = try self.shelf.entry(name)
                return Response.html(try CampaignReport.build(store: entry.store, now: self.now()).html())
            }
        }
        router.get("/c/:name/events") { request, context in
            let name = try context.parameters.require("name")
            let after = try Self.parameters(request)["after"].map { text throws(WebError) -> Int64 in
                guard let value = Int64(text), value >= 0 else { throw .badRequest("after must be an event number (0 or more), not '\(text)'") }
                return value
            }
            let entry = try await self.entry(name)
            return self.progressStream(entry, after: after)
        }
        router.get("/c/:name/t/:trial") { request, context in
            let name = try context.parameters.require("name")
            let trial = try Self.trialID(context)
            let number = try Self.parameters(request)["attempt"].map { text throws(WebError) -> Int in
                guard let value = Int(text) else { throw .badRequest("attempt must be an attempt's number, not '\(text)'") }
                return value
            }
            let condensed: Bool
            switch Self.parameters(request)["log"] ?? "raw" {
            case "raw": condensed = false
            case "condensed": condensed = true
            case let other: throw WebError.badRequest("log is raw or condensed, not '\(other)'")
            }
            return try await self.blocking { Response.html(Pages.trial(try self.trialModel(name, trial: trial, attempt: number, condensed: condensed))) }
        }
        router.get("/c/:name/t/:trial/a/:attempt/:file") { _, context in
            let name = try context.parameters.require("name")
            let (trial, attempt) = (try Self.trialID(context), try Self.attemptID(context))
            let file = try context.parameters.require("file")
            let parts = file.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, let stream = StoredStream(name: String(parts[0])), parts[1] == "zst" || parts[1] == "txt" else {
                throw WebError.badRequest("a log is stdout.zst, stderr.zst, stdout.txt or stderr.txt; not '\(file)'")
            }
            let (entry, log) = try await self.blocking { try self.storedLog(name, trial: trial, attempt: attempt, stream: stream) }
            return parts[1] == "zst"
                ? Self.download(entry.store, log: log, name: "\(name)-trial-\(trial)-attempt-\(attempt).\(stream).zst")
                : try await self.blocking { try Self.plainText(entry.store, log: log) }
        }
        // `:file` names the stream here (Hummingbird's trie wants one name per position).
        router.get("/c/:name/t/:trial/a/:attempt/:file/follow") { request, context in
            let name = try context.parameters.require("name")
            let (trial, attempt) = (try Self.trialID(context), try Self.attemptID(context))
            let streamName = try context.parameters.require("file")
            guard let stream = StoredStream(name: streamName) else { throw WebError.badRequest("the stream is stdout or stderr, not '\(streamName)'") }
            let from = try Self.parameters(request)["from"].map { text throws(WebError) -> UInt64 in
                guard let value = UInt64(text) else { throw .badRequest("from must be a byte offset, not '\(text)'") }
                return value
            } ?? 0
            let (entry, _) = try await self.blocking { try self.storedLog(name, trial: trial, attempt: attempt, stream: stream) }
            return self.logStream(entry.store, trial: trial, attempt: attempt, stream: stream, from: from)
        }
        addControlRoutes(to: router)
        return router
    }

    /// The dashboard as an application listening on `host:port` (a service: run it in the
    /// process's group); `onRunning` gets the port it listens on (the one chosen for port 0).
    public func application(host: String, port: Int, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol
    {
        Application(
            router: router(), configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "intern"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) }, logger: logger)
    }

    // MARK: Reading the stores (off Swift's cooperative pool: SQLite and zstd block)

    /// The campaign `name`'s entry: at once when it is open (a `stat` of its database), else
    /// opened off the cooperative pool (``StoreShelf/entry(_:)``'s 404 and 500 alike).
    func entry(_ name: String) async throws -> StoreShelf.Entry {
        if let entry = shelf.openEntry(name) { return entry }
        return try await blocking { try self.shelf.entry(name) }
    }

    func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(work)
    }

    static func parameters(_ request: Request) -> [String: String] {
        var parameters: [String: String] = [:]
        for (key, value) in request.uri.queryParameters where parameters[String(key)] == nil { parameters[String(key)] = String(value) }
        return parameters
    }

    static func trialID(_ context: BasicRequestContext) throws -> TrialID {
        let text = try context.parameters.require("trial")
        guard let id = TrialID(text), id > 0 else { throw WebError.badRequest("a trial id is a number from 1, not '\(text)'") }
        return id
    }

    static func attemptID(_ context: BasicRequestContext) throws -> AttemptID {
        let text = try context.parameters.require("attempt")
        guard let id = AttemptID(text) else { throw WebError.badRequest("an attempt id is a number, not '\(text)'") }
        return id
    }

    func campaignsPage() throws -> String {
        let rows = root.names().map { name -> Pages.CampaignRow in
            do {
                let entry = try shelf.entry(name)
                let (progress, _) = try CampaignProgress.read(store: entry.store, view: entry.view, now: now(), after: nil)
                let cost = CostBreakdown(usage: try entry.store.attemptUsage(), stageNames: entry.view.stages.map(\.name), now: now())
                let spent = cost.total.gpu > 0 ? String(format: "%.2f GPU-hours", cost.total.gpu) : String(format: "%.2f CPU-hours", cost.total.cpu)
                return Pages.CampaignRow(name: name, progress: progress, cost: spent, lastActivity: try entry.store.events(limit: 1).first?.at)
            } catch {
                return Pages.CampaignRow(name: name, progress: nil, problem: "\(error)", cost: "", lastActivity: nil)
            }
        }
        return Pages.campaigns(rows, root: root.path)
    }

    /// The campaign page's first part: the campaign (404 when there is none), the table's query
    /// (400 when it is bad) and the progress; the rest of the model is filled by ``fillRest`` and
    /// ``analysis(_:_:fingerprint:)``.
    func campaignTop(_ name: String, parameters: [String: String]) throws -> (StoreShelf.Entry, Pages.CampaignModel, CampaignProgress.Fingerprint) {
        let entry = try shelf.entry(name)
        let stageNames = entry.view.stages.map(\.name)
        let query = try TrialQuery(parameters: parameters, stages: stageNames)
        let now = now()
        let (progress, fingerprint) = try CampaignProgress.read(store: entry.store, view: entry.view, now: now, after: nil)
        var model = Pages.CampaignModel(
            name: name, progress: progress, stageNames: stageNames, query: query, trials: [], workers: [], running: [:], events: [], goal: [],
            cost: CostBreakdown(usage: [], stageNames: stageNames, now: now), failures: [], charts: [:])
        model.control = access.steers(name)
        return (entry, model, fingerprint)
    }

    /// The trials the model's query selects, the workers and the latest events.
    static func fillRest(_ model: inout Pages.CampaignModel, entry: StoreShelf.Entry) throws {
        model.trials = model.query.apply(try entry.store.trials(), stageNames: model.stageNames)
        model.workers = try entry.store.workers()
        model.running = try runningByWorker(entry.store, trials: try entry.store.trials(status: .running).map(\.id))
        model.events = try entry.store.events(limit: 30)
    }

    /// What the report says of the campaign as of `fingerprint`: the report kept for it, or one
    /// built now (off the cooperative pool; one build at a time, which every page asking meanwhile
    /// shares).
    func analysis(_ name: String, _ entry: StoreShelf.Entry, fingerprint: CampaignProgress.Fingerprint) async throws -> StoreShelf.DrawnReport {
        let (store, now) = (entry.store, now())
        return try await entry.report.value(for: fingerprint) {
            var report = try CampaignReport.build(store: store, now: now, extent: .analysis)
            report.seenBefore = LabLookup.reportLines(store: store)
            let charts = report.charts(named: Self.chartsOnThePage)
            var analysis = Pages.Analysis(goal: report.goal, cost: report.cost, failures: report.failures, charts: charts, totals: report.totals)
            analysis.seenBefore = report.seenBefore
            return StoreShelf.DrawnReport(report: report, charts: charts, html: Pages.analysis(campaign: name, analysis))
        }
    }

    /// The campaign page, sent in three parts as each is ready: its top (the counts) at once, then
    /// the report's part (built only when the campaign changed: a few hundred milliseconds for
    /// 10,000 trials), then the trials table, the workers and the events. A part that cannot be
    /// read says so in its place.
    func campaignPage(_ entry: StoreShelf.Entry, _ model: Pages.CampaignModel, fingerprint: CampaignProgress.Fingerprint) -> Response {
        Response(status: .ok, headers: Response.htmlHeaders, body: ResponseBody { writer in
            try await writer.write(ByteBuffer(string: Pages.campaignTop(model)))
            let analysis: String
            do {
                analysis = Pages.analysisSection(campaign: model.name, html: try await self.analysis(model.name, entry, fingerprint: fingerprint).html)
            } catch {
                analysis = Pages.problem("the report cannot be built: \(error)")
            }
            try await writer.write(ByteBuffer(string: analysis))
            let rest: String
            do {
                rest = try await self.blocking {
                    var model = model
                    try Self.fillRest(&model, entry: entry)
                    return Pages.campaignRest(model)
                }
            } catch {
                rest = Pages.problem("the trials cannot be read: \(error)") + Pages.layoutEnd
            }
            try await writer.write(ByteBuffer(string: rest))
            try await writer.finish(nil)
        })
    }

    /// What each worker runs: the running trials' latest attempts, by worker.
    static func runningByWorker(_ store: CampaignStore, trials: [TrialID]) throws -> [WorkerID: [TrialID]] {
        var running: [WorkerID: [TrialID]] = [:]
        for trial in trials {
            if let attempt = try store.attempts(trial: trial).last, !attempt.status.isTerminal { running[attempt.worker, default: []].append(trial) }
        }
        return running
    }

    /// The report's charts the campaign page shows (the rest are in the report, one click away):
    /// the page of a 10,000-trial campaign stays under 1 MB.
    static let chartsOnThePage: Set = ["progress-trials", "curves", "importance", "parallel-coordinates"]

    func trialModel(_ name: String, trial id: TrialID, attempt number: Int?, condensed: Bool = false) throws -> Pages.TrialModel {
        let entry = try shelf.entry(name)
        guard let trial = try entry.store.trial(id) else { throw WebError.notFound("campaign '\(name)' has no trial \(id)") }
        let attempts = try entry.store.attempts(trial: id)
        var shown = attempts.last
        if let number {
            guard let chosen = attempts.first(where: { $0.number == number }) else { throw WebError.notFound("trial \(id) has no attempt \(number)") }
            shown = chosen
        }
        var metrics: [MetricSeriesSummary] = [], charts: [String] = [], logs: [Pages.LogView] = []
        var provenance: [String: String] = [:]
        if let shown {
            metrics = try entry.store.metricSeries(attempt: shown.id)
            let points = Dictionary(grouping: try entry.store.metricPoints(attempt: shown.id), by: \.name)
            for series in metrics.prefix(12) where (points[series.name]?.count ?? 0) >= 2 {
                charts.append(CampaignReport.lineChart(
                    name: "metric-\(series.name)", title: "\(series.name) by step",
                    series: [(label: series.name, points: points[series.name]!.map { (x: Double($0.step), y: $0.value) })], xLabel: "step", yLabel: series.name))
            }
            provenance = (try? entry.store.provenance()[shown.id]) ?? [:]
            for stream in StoredStream.allCases {
                let log = try entry.store.storedLog(trial: id, attempt: shown.id, stream: stream)
                guard log.frames > 0 || !shown.status.isTerminal else { continue }
                var view = try Self.logView(entry.store, log: log, attempt: shown, stream: stream, condenser: condensed ? LogCondenser(metricPrefix: entry.view.spec.metricPrefix) : nil)
                view.condensed = condensed
                logs.append(view)
            }
        }
        let stageName = entry.view.stages.indices.contains(trial.stage) ? entry.view.stages[trial.stage].name : "\(trial.stage)"
        return Pages.TrialModel(
            campaign: name, trial: trial, stageName: stageName, attempts: attempts, shown: shown, provenance: provenance, metrics: metrics,
            charts: charts, logs: logs)
    }

    /// The end of an attempt's stream, decoded (invalid UTF-8 replaced; a running attempt's
    /// stream ends mid-frame, which decodes as far as it goes); with a `condenser`, all of it
    /// condensed (`intern logs --condensed`), as of now (not followed).
    static func logView(
        _ store: CampaignStore, log: StoredLog, attempt: AttemptRecord, stream: StoredStream, condenser: LogCondenser? = nil
    ) throws -> Pages.LogView {
        let bytes = (try? LogDecoder().advance(store, log: log)) ?? []
        if let condenser {
            let lines = condenser.condense(bytes)
            return Pages.LogView(
                attempt: attempt.id, stream: "\(stream)", text: lines.suffix(5_000).joined(separator: "\n"), rawLength: log.rawLength,
                skipped: 0, storedLength: log.length, live: false)
        }
        let skipped = max(0, bytes.count - Pages.LogView.tailBytes)
        return Pages.LogView(
            attempt: attempt.id, stream: "\(stream)", text: String(decoding: bytes[skipped...], as: UTF8.self), rawLength: log.rawLength,
            skipped: UInt64(skipped), storedLength: log.length, live: !attempt.status.isTerminal)
    }

    /// The stored log of attempt `attempt` of trial `trial`: 404 when the attempt is not the trial's.
    func storedLog(_ name: String, trial: TrialID, attempt: AttemptID, stream: StoredStream) throws -> (StoreShelf.Entry, StoredLog) {
        let entry = try shelf.entry(name)
        guard try entry.store.attempts(trial: trial).contains(where: { $0.id == attempt }) else {
            throw WebError.notFound("campaign '\(name)' has no attempt \(attempt) of trial \(trial)")
        }
        return (entry, try entry.store.storedLog(trial: trial, attempt: attempt, stream: stream))
    }

    /// The compressed log as stored (a valid zstd stream: `zstdcat` reads it), in chunks.
    static func download(_ store: CampaignStore, log: StoredLog, name: String) -> Response {
        let chunk: UInt64 = 1 << 20
        return Response(
            status: .ok,
            headers: [.contentType: "application/zstd", .contentDisposition: "attachment; filename=\"\(name)\"", .cacheControl: "no-store"],
            body: ResponseBody(contentLength: Int(log.length)) { writer in
                var offset: UInt64 = 0
                while offset < log.length {
                    let (start, end) = (offset, min(log.length, offset + chunk))
                    let bytes = try await NIOThreadPool.singleton.runIfActive { try store.readCompressed(log, from: start, to: end) }
                    try await writer.write(ByteBuffer(bytes: bytes))
                    offset = end
                }
                try await writer.finish(nil)
            })
    }

    static func plainText(_ store: CampaignStore, log: StoredLog) throws -> Response {
        let bytes = try LogDecoder().advance(store, log: log)
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
