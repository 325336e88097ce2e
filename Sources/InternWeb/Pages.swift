import Foundation
import InternCore
import InternReport
import InternStore

/// The dashboard's HTML, rendered on the server from page models: every page reads well without
/// a script (tables, links that sort and filter, forms); `/static/dashboard.js` only keeps the
/// live parts current. Everything that comes from a campaign (names, parameters, messages, log
/// text) is escaped. Pure: no store, no IO.
public enum Pages {
    /// A whole page: the shared style, the script (deferred), `body`.
    public static func layout(title: String, body: String, script: Bool = false) -> String {
        layoutStart(title: title, script: script) + body + layoutEnd
    }

    /// A page's start, up to and with `<body>` (a page sent in parts begins with it).
    static func layoutStart(title: String, script: Bool) -> String {
        let js = script ? "<script src=\"/static/dashboard.js\" defer></script>" : ""
        return "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">"
            + "<title>\(e(title))</title><style>\(style)</style>\(js)</head><body>"
    }

    static let layoutEnd = "</body></html>\n"

    static let style = """
        body{font:14px/1.45 system-ui,sans-serif;max-width:1200px;margin:20px auto;padding:0 16px;color:#222;background:#fff}
        h1{font-size:22px;margin:8px 0}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:26px}
        table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
        th{background:#f4f4f4}th a{color:inherit}.meta,.muted{color:#666}nav a{margin-right:12px}
        .counts span.n{font-weight:600;font-size:18px}.counts{display:flex;gap:18px;flex-wrap:wrap;margin:8px 0}
        .s-completed{color:#17692c}.s-failed{color:#b3261e}.s-running{color:#1f5fb4}.s-pruned,.s-cancelled{color:#7a5b00}
        pre{background:#f7f7f7;border:1px solid #e4e4e4;padding:8px;overflow:auto;max-height:480px;font-size:12px;white-space:pre-wrap}
        figure{margin:12px 0}svg.chart{background:#fff;border:1px solid #eee;max-width:100%;height:auto}
        .axis{stroke:#444;stroke-width:1}.grid{stroke:#eee;stroke-width:1}.tick{font-size:10px;fill:#444}.label{font-size:11px;fill:#222}.title{font-size:12px;font-weight:600;fill:#222}
        form.inline{display:inline}
        """

    static func e(_ text: String) -> String { HTMLText.escape(text) }

    /// `/c/NAME` with the name percent-encoded for a path (a campaign name is already letters,
    /// digits, `.`, `_`, `-`).
    public static func campaignPath(_ name: String) -> String { "/c/" + (name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? name) }

    // MARK: The campaigns page

    /// One campaign on the campaigns page.
    public struct CampaignRow: Sendable, Equatable {
        public var name: String
        public var progress: CampaignProgress?
        /// Why the campaign could not be read (a damaged database), instead of its progress.
        public var problem: String?
        public var cost: String
        public var lastActivity: Timestamp?

        public init(name: String, progress: CampaignProgress?, problem: String? = nil, cost: String, lastActivity: Timestamp?) {
            self.name = name
            self.progress = progress
            self.problem = problem
            self.cost = cost
            self.lastActivity = lastActivity
        }
    }

    /// Every campaign under the root.
    public static func campaigns(_ rows: [CampaignRow], root: String) -> String {
        var body = "<h1>Campaigns</h1><p class=\"meta\">under \(e(root))</p>"
        if rows.isEmpty {
            body += "<p>No campaign here yet: <code>intern run CAMPAIGN.yaml</code> makes one.</p>"
            return layout(title: "intern: campaigns", body: body)
        }
        body += "<table id=\"campaigns\"><tr><th>campaign</th><th>state</th><th>progress</th><th>best</th><th>cost</th><th>last activity</th></tr>"
        for row in rows {
            let link = "<a href=\"\(campaignPath(row.name))\">\(e(row.name))</a>"
            guard let progress = row.progress else {
                body += "<tr><td>\(link)</td><td colspan=\"5\">\(e(row.problem ?? "cannot be read"))</td></tr>"
                continue
            }
            let done = progress.count(.completed)
            body += "<tr><td>\(link)</td><td>\(e(progress.state))</td><td>\(done) of \(progress.total) completed, \(progress.count(.running)) running, \(progress.count(.failed)) failed</td>"
                + "<td>\(e(progress.best))</td><td>\(e(row.cost))</td><td>\(e(Format.clock(row.lastActivity)))</td></tr>"
        }
        return layout(title: "intern: campaigns", body: body + "</table>")
    }

    // MARK: The campaign page

    /// What the campaign page shows.
    public struct CampaignModel: Sendable {
        public var name: String
        public var progress: CampaignProgress
        public var stageNames: [String]
        public var query: TrialQuery
        /// The trials the query selects, in its order (the page shows the first ``TrialQuery/shownRows``).
        public var trials: [TrialRecord]
        public var workers: [WorkerRecord]
        /// What each worker runs: trial ids by worker id.
        public var running: [WorkerID: [TrialID]]
        /// Latest first.
        public var events: [CampaignEvent]
        public var goal: [String]
        public var cost: CostBreakdown
        public var failures: [FailureCluster]
        /// The report's charts by section.
        public var charts: [String: [String]]
        /// What the report says, as the page shows it.
        public var analysis: Analysis { Analysis(goal: goal, cost: cost, failures: failures, charts: charts) }
        /// Whether the dashboard takes control requests for this campaign (it has a token that steers it).
        public var control = false

        public init(
            name: String, progress: CampaignProgress, stageNames: [String], query: TrialQuery, trials: [TrialRecord], workers: [WorkerRecord],
            running: [WorkerID: [TrialID]], events: [CampaignEvent], goal: [String], cost: CostBreakdown, failures: [FailureCluster],
            charts: [String: [String]]
        ) {
            self.name = name
            self.progress = progress
            self.stageNames = stageNames
            self.query = query
            self.trials = trials
            self.workers = workers
            self.running = running
            self.events = events
            self.goal = goal
            self.cost = cost
            self.failures = failures
            self.charts = charts
        }
    }

    /// The live campaign page, in the order it is sent (`Dashboard` streams the three parts, so
    /// the first comes at once and the report, when the campaign changed, is built meanwhile):
    /// ``campaignTop`` (the state and counts), ``analysisSection`` (what the report says: goal,
    /// budget, hours, charts, failures), ``campaignRest`` (control, trials, workers, events).
    public static func campaign(_ model: CampaignModel) -> String {
        campaignTop(model) + analysisSection(campaign: model.name, html: analysis(campaign: model.name, model.analysis)) + campaignRest(model)
    }

    /// The page's start: its head, the state, the counts, the best (all kept live by the script).
    public static func campaignTop(_ model: CampaignModel) -> String {
        let path = campaignPath(model.name)
        let p = model.progress
        var body = "<nav><a href=\"/\">all campaigns</a><a href=\"\(path)/report\">report</a><a href=\"\(path)\">reload</a></nav>"
        body += "<h1>Campaign \(e(model.name))</h1>"
        body += "<p>state <b data-field=\"state\">\(e(p.state))</b> · <span id=\"live\" data-live=\"\(path)/events?after=\(p.lastEventID)\" data-received=\"0\">live updates need the script (reload for news)</span></p>"
        body += "<div class=\"counts\" id=\"counts\">"
        body += "<div><span class=\"n\" data-field=\"total\">\(p.total)</span> trials</div>"
        for status in TrialStatus.allCases {
            body += "<div class=\"s-\(status.rawValue)\"><span class=\"n\" data-field=\"\(status.rawValue)\">\(p.count(status))</span> \(status.rawValue)</div>"
        }
        body += "<div><span class=\"n\" data-field=\"workers\">\(p.workers)</span> workers</div></div>"
        body += "<p><span data-field=\"progressLine\">\(e(p.progressLine))</span> · best: <span data-field=\"best\">\(e(p.best))</span></p>"
        return layoutStart(title: "intern: \(model.name)", script: true) + body
    }

    /// What the campaign's report says, as the campaign page shows it.
    public struct Analysis: Sendable {
        public var goal: [String]
        public var cost: CostBreakdown
        public var failures: [FailureCluster]
        /// The report's charts by section.
        public var charts: [String: [String]]
        /// A data campaign's totals (`totals:`), its shards still to run.
        public var totals: CampaignReport.Totals?
        /// Its failures that earlier campaigns had too, with the notes on them (``CampaignReport/seenBefore``).
        public var seenBefore: [String] = []

        public init(goal: [String], cost: CostBreakdown, failures: [FailureCluster], charts: [String: [String]], totals: CampaignReport.Totals? = nil) {
            self.goal = goal
            self.cost = cost
            self.failures = failures
            self.charts = charts
            self.totals = totals
        }
    }

    /// The analysis (``analysis(campaign:_:)``'s `html`) in its place on the page: the script fetches it again
    /// (`/c/NAME/analysis`) when a progress event's `analysis` version changed.
    public static func analysisSection(campaign: String, html: String) -> String {
        "<div id=\"analysis\" data-fragment=\"\(campaignPath(campaign))/analysis\" data-version=\"analysis\">" + html + "</div>"
    }

    /// Goal and budget, hours spent, the report's charts, the failure clusters (also served alone).
    public static func analysis(campaign: String, _ analysis: Analysis) -> String {
        let path = campaignPath(campaign)
        var body = ""
        if !analysis.goal.isEmpty {
            body += "<h2>Goal and budget</h2><ul>" + analysis.goal.map { "<li>\(e($0))</li>" }.joined() + "</ul>"
        }
        if let totals = analysis.totals { body += Self.totals(totals, campaign: campaign) }
        let total = analysis.cost.total
        body += "<p>spent: \(String(format: "%.2f", total.gpu)) GPU-hours, \(String(format: "%.2f", total.cpu)) CPU-hours, \(String(format: "%.2f", total.wall)) attempt-hours over \(total.attempts) attempts</p>"
        for section in ["Progress", "Metric curves", "Parameter importance"] {
            guard let charts = analysis.charts[section], !charts.isEmpty else { continue }
            body += "<h2>\(e(section == "Metric curves" ? "Metric curves (best trials)" : section))</h2>" + charts.joined()
        }
        if analysis.charts.values.contains(where: { !$0.isEmpty }) { body += "<p class=\"muted\">More charts (best over time, objective against each parameter) in the <a href=\"\(path)/report\">report</a>.</p>" }
        body += failures(analysis.failures)
        if !analysis.seenBefore.isEmpty {
            body += "<h2>Failures seen in earlier campaigns</h2><ul id=\"seen-before\">" + analysis.seenBefore.map { "<li>\(e($0))</li>" }.joined() + "</ul>"
        }
        return body
    }

    /// A data campaign's totals with their rates, and the shards still to run (the per-shard
    /// table is the report's and the trials table's).
    static func totals(_ totals: CampaignReport.Totals, campaign: String) -> String {
        var html = "<h2>Totals</h2><p>\(e(totals.progress))</p>"
        if !totals.names.isEmpty {
            html += "<table id=\"totals\"><tr><th>total</th><th>sum</th><th>per second</th></tr>" + totals.names.map { name in
                "<tr><td>\(e(name))</td><td>\(e(ShardTotals.text(totals.values[name] ?? 0)))</td><td>\(e(totals.perSecond[name].map { ShardTotals.text(($0 * 10).rounded() / 10) } ?? "-"))</td></tr>"
            }.joined() + "</table>"
        }
        if !totals.toRun.isEmpty {
            html += "<p>still to run (\(totals.toRun.count)): \(e(totals.toRun.prefix(20).joined(separator: ", ")))\(totals.toRun.count > 20 ? ", …" : "")</p>"
        }
        return html + "<p class=\"muted\">Per shard, and the audit sample of what was dropped: the <a href=\"\(campaignPath(campaign))/report\">report</a>.</p>"
    }

    /// The page's end: control, the trials table, the workers, the events.
    public static func campaignRest(_ model: CampaignModel) -> String {
        var body = ""
        if model.control { body += controls(model) }
        body += "<h2>Trials</h2>" + filterForm(model)
        body += "<div id=\"trials\" data-fragment=\"\(campaignPath(model.name))/trials\(model.query.queryString.isEmpty ? "" : "?" + e(model.query.queryString))\" data-version=\"table\">"
        body += trialsTable(campaign: model.name, query: model.query, trials: model.trials, stageNames: model.stageNames) + "</div>"
        body += workers(model)
        let clock = Format.clocks()
        body += "<h2>Events</h2><ol id=\"events\" reversed>" + model.events.map { "<li>\(e(CampaignProgress.eventLine($0, clock: clock)))</li>" }.joined() + "</ol>"
        return body + layoutEnd
    }

    /// A part of a page that could not be read, in its place.
    static func problem(_ text: String) -> String { "<p class=\"problem\">\(e(text))</p>" }

    /// Pause, resume, cancel, add: POSTs the script sends with the token (a header, so they need
    /// the script; the commands do the same without it). No `<form>`: pressing Enter in a field
    /// would send the token in a GET's URL.
    static func controls(_ model: CampaignModel) -> String {
        "<h2>Control</h2><div id=\"control\" data-base=\"\(campaignPath(model.name))\">"
            + "<label>token <input type=\"password\" data-name=\"token\" autocomplete=\"off\"></label> "
            + "<button type=\"button\" data-action=\"pause\">pause</button> <button type=\"button\" data-action=\"resume\">resume</button> "
            + "<label>trial <input data-name=\"trial\" size=\"6\"></label> <button type=\"button\" data-action=\"cancel\">cancel trial</button> "
            + "<label>trials <input data-name=\"trials\" size=\"6\"></label> <button type=\"button\" data-action=\"add\">add trials</button> "
            + "<output id=\"control-answer\"></output></div><p class=\"muted\">Needs the script and the dashboard's token (the one in its "
            + "<code>--token-file</code>, or <code>intern token</code>'s from the campaign's credentials); without them, "
            + "<code>intern pause</code>, <code>resume</code>, <code>cancel</code>, <code>add</code>.</p>"
    }

    /// The status and stage filter: a GET form, so it works without a script.
    static func filterForm(_ model: CampaignModel) -> String {
        var form = "<form method=\"get\" action=\"\(campaignPath(model.name))\">status <select name=\"status\"><option value=\"all\">all</option>"
        for status in TrialStatus.allCases {
            form += "<option\(model.query.status == status ? " selected" : "")>\(status.rawValue)</option>"
        }
        form += "</select>"
        if model.stageNames.count > 1 {
            form += " stage <select name=\"stage\"><option value=\"all\">all</option>"
            for stage in model.stageNames { form += "<option\(model.query.stage == stage ? " selected" : "")>\(e(stage))</option>" }
            form += "</select>"
        }
        if model.query.sort != .id { form += "<input type=\"hidden\" name=\"sort\" value=\"\(model.query.sort.rawValue)\">" }
        if model.query.descending { form += "<input type=\"hidden\" name=\"order\" value=\"desc\">" }
        return form + " <button>show</button></form>"
    }

    /// The trials table (also served alone, for the script to swap in when the campaign changes).
    /// `trials`: those `query` selects, in its order.
    public static func trialsTable(campaign: String, query: TrialQuery, trials: [TrialRecord], stageNames: [String]) -> String {
        let path = campaignPath(campaign)
        func header(_ title: String, _ column: TrialQuery.Sort) -> String {
            let next = query.sorted(by: column)
            let mark = query.sort == column ? (query.descending ? " ▼" : " ▲") : ""
            return "<th><a href=\"\(path)?\(e(next.queryString))\">\(title)\(mark)</a></th>"
        }
        let pipeline = stageNames.count > 1
        let clock = Format.clocks()
        var html = "<p class=\"muted\">\(min(trials.count, TrialQuery.shownRows)) of \(trials.count) shown</p><table id=\"trial-table\"><tr>"
            + header("trial", .id) + (pipeline ? "<th>stage</th><th>from</th>" : "") + header("status", .status) + header("objective", .objective)
            + "<th>parameters</th><th>attempts</th>" + header("ended", .ended) + "</tr>"
        for trial in trials.prefix(TrialQuery.shownRows) {
            let stage = stageNames.indices.contains(trial.stage) ? stageNames[trial.stage] : "\(trial.stage)"
            html += "<tr data-status=\"\(trial.status.rawValue)\"><td><a href=\"\(path)/t/\(trial.id)\">\(trial.id)</a></td>"
            if pipeline { html += "<td>\(e(stage))</td><td>\(trial.parent.map { "<a href=\"\(path)/t/\($0)\">\($0)</a>" } ?? "")</td>" }
            html += "<td class=\"s-\(trial.status.rawValue)\">\(trial.status.rawValue)\(trial.feasible == false ? " (infeasible)" : "")</td>"
                + "<td>\(e(Format.value(trial.objective)))</td><td>\(e(Format.parameters(trial.parameters)))</td><td>\(trial.attemptCount)</td>"
                + "<td>\(e(clock(trial.endedAt)))</td></tr>"
        }
        return html + "</table>"
    }

    static func failures(_ clusters: [FailureCluster]) -> String {
        guard !clusters.isEmpty else { return "" }
        var html = "<h2>Failures</h2>"
        for cluster in clusters.prefix(20) {
            html += "<h3>\(e(cluster.failureClass)): \(cluster.attempts) attempts of \(cluster.trials) trials</h3><p>\(e(cluster.text))</p>"
            if !cluster.excerpt.isEmpty { html += "<pre>\(e(cluster.excerpt))</pre>" }
        }
        return html
    }

    static func workers(_ model: CampaignModel) -> String {
        "<h2>Workers</h2><div data-fragment=\"\(campaignPath(model.name))/workers\" data-version=\"table\">" + workersTable(campaign: model.name, workers: model.workers, running: model.running) + "</div>"
    }

    /// The workers and the trials they run (also served alone, for the script to swap in).
    public static func workersTable(campaign: String, workers: [WorkerRecord], running: [WorkerID: [TrialID]]) -> String {
        guard !workers.isEmpty else { return "<p>none joined yet</p>" }
        var html = "<table id=\"workers\"><tr><th>worker</th><th>state</th><th>host</th><th>slots</th><th>GPUs</th><th>running</th><th>last seen</th></tr>"
        let path = campaignPath(campaign)
        for worker in workers {
            let running = (running[worker.id] ?? []).map { "<a href=\"\(path)/t/\($0)\">\($0)</a>" }.joined(separator: ", ")
            html += "<tr><td>\(e(worker.id.rawValue))</td><td>\(e(worker.state.rawValue))</td><td>\(e(worker.hostname)) pid \(worker.pid)</td><td>\(worker.slots)</td>"
                + "<td>\(e(worker.gpus.joined(separator: ",")))</td><td>\(running)</td><td>\(e(Format.clock(worker.lastSeen)))</td></tr>"
        }
        return html + "</table>"
    }

    // MARK: The trial page

    /// One stream of an attempt's log, as the trial page shows it.
    public struct LogView: Sendable, Equatable {
        public var attempt: AttemptID
        public var stream: String
        /// The end of the output (at most ``tailBytes``), decoded.
        public var text: String
        /// Bytes of output in all, and how many the text leaves out at its start.
        public var rawLength: UInt64
        public var skipped: UInt64
        /// Compressed bytes committed: where a live follow starts.
        public var storedLength: UInt64
        /// Whether the attempt still runs (the page follows the log).
        public var live: Bool
        /// Whether the text is condensed (`LogCondenser`: progress bars, repeats, metric runs and
        /// tracebacks folded) rather than the output's end.
        public var condensed = false

        public init(attempt: AttemptID, stream: String, text: String, rawLength: UInt64, skipped: UInt64, storedLength: UInt64, live: Bool) {
            self.attempt = attempt
            self.stream = stream
            self.text = text
            self.rawLength = rawLength
            self.skipped = skipped
            self.storedLength = storedLength
            self.live = live
        }

        /// The most output the page shows of a stream (its end); the download has all of it.
        public static let tailBytes = 256 << 10
    }

    /// What the trial page shows.
    public struct TrialModel: Sendable {
        public var campaign: String
        public var trial: TrialRecord
        public var stageName: String
        public var attempts: [AttemptRecord]
        /// The attempt whose metrics and log are shown.
        public var shown: AttemptRecord?
        public var provenance: [String: String]
        public var metrics: [MetricSeriesSummary]
        /// One chart per metric (inline SVG).
        public var charts: [String]
        public var logs: [LogView]

        public init(
            campaign: String, trial: TrialRecord, stageName: String, attempts: [AttemptRecord], shown: AttemptRecord?, provenance: [String: String],
            metrics: [MetricSeriesSummary], charts: [String], logs: [LogView]
        ) {
            self.campaign = campaign
            self.trial = trial
            self.stageName = stageName
            self.attempts = attempts
            self.shown = shown
            self.provenance = provenance
            self.metrics = metrics
            self.charts = charts
            self.logs = logs
        }
    }

    /// A trial: parameters, attempts, provenance, metrics, logs (followed live while it runs).
    public static func trial(_ model: TrialModel) -> String {
        let path = campaignPath(model.campaign)
        let trial = model.trial
        var body = "<nav><a href=\"/\">all campaigns</a><a href=\"\(path)\">campaign \(e(model.campaign))</a><a href=\"\(path)/report\">report</a></nav>"
        body += "<h1>Trial \(trial.id) <span class=\"s-\(trial.status.rawValue)\">\(trial.status.rawValue)</span></h1>"
        body += "<p>stage \(e(model.stageName))\(trial.parent.map { " · from <a href=\"\(path)/t/\($0)\">trial \($0)</a>" } ?? "") · objective \(e(Format.value(trial.objective)))"
            + "\(trial.feasible == false ? " (infeasible)" : "") · \(trial.attemptCount) attempts · ended \(e(Format.clock(trial.endedAt)))</p>"
        if let note = trial.note { body += "<p>\(e(note))</p>" }
        body += "<h2>Parameters</h2><table id=\"parameters\"><tr><th>parameter</th><th>value</th></tr>"
        for (name, value) in trial.parameters.sortedPairs { body += "<tr><td>\(e(name))</td><td>\(e(Format.clipped(value.text, limit: 2_000)))</td></tr>" }
        body += "</table>"
        body += "<h2>Attempts</h2><table id=\"attempts\"><tr><th>#</th><th>worker</th><th>status</th><th>exit</th><th>started</th><th>ended</th><th>wall</th><th>peak RSS</th><th>detail</th></tr>"
        for attempt in model.attempts {
            let exit = attempt.signal.map { "signal \($0)" } ?? attempt.exitCode.map(String.init) ?? ""
            let wall = attempt.wallMillis.map { Format.duration(seconds: Double($0) / 1000) } ?? ""
            let shown = attempt.id == model.shown?.id
            body += "<tr><td><a href=\"\(path)/t/\(trial.id)?attempt=\(attempt.number)\">\(attempt.number)</a>\(shown ? " (shown)" : "")</td><td>\(e(attempt.worker.rawValue))</td>"
                + "<td>\(e(attempt.status.rawValue))</td><td>\(exit)</td><td>\(e(Format.clock(attempt.startedAt)))</td><td>\(e(Format.clock(attempt.endedAt)))</td>"
                + "<td>\(e(wall))</td><td>\(attempt.peakRSSBytes.map { e(ByteSize.describe(Int($0))) } ?? "")</td><td>\(e(attempt.detail ?? ""))</td></tr>"
        }
        body += "</table>"
        if let shown = model.shown {
            body += "<p>command: <code>\(e(shown.argv.joined(separator: " ")))</code></p>"
        }
        if !model.provenance.isEmpty {
            body += "<h2>Provenance</h2><table id=\"provenance\"><tr><th>field</th><th>value</th></tr>"
            for (key, value) in model.provenance.sorted(by: { $0.key < $1.key }) { body += "<tr><td>\(e(key))</td><td>\(e(Format.clipped(value, limit: 2_000)))</td></tr>" }
            body += "</table>"
        }
        if !model.metrics.isEmpty {
            body += "<h2>Metrics</h2><table id=\"metrics\"><tr><th>metric</th><th>points</th><th>last step</th><th>last</th><th>min</th><th>max</th></tr>"
            for series in model.metrics {
                body += "<tr><td>\(e(series.name))</td><td>\(series.count)</td><td>\(series.lastStep)</td><td>\(e(Format.value(series.lastValue)))</td>"
                    + "<td>\(e(Format.value(series.minValue)))</td><td>\(e(Format.value(series.maxValue)))</td></tr>"
            }
            body += "</table>" + model.charts.joined()
        }
        for log in model.logs {
            let base = "\(path)/t/\(trial.id)/a/\(log.attempt)/\(log.stream)"
            let page = "\(path)/t/\(trial.id)?attempt=\(model.shown?.number ?? 1)"
            let other = log.condensed ? "<a href=\"\(page)\">its end, as written</a>" : "<a href=\"\(page)&amp;log=condensed\">condensed</a>"
            body += "<h2>\(e(log.stream))\(log.condensed ? " (condensed)" : "")</h2><p class=\"muted\">\(e(ByteSize.describe(Int(log.rawLength)))) of output · \(other)"
                + "\(log.skipped > 0 ? " (the first \(e(ByteSize.describe(Int(log.skipped)))) not shown)" : "") · <a href=\"\(base).zst\" download>download (zstd)</a>"
                + " · <a href=\"\(base).txt\">raw</a>\(log.live ? " · <span class=\"follow\">followed live</span>" : "")</p>"
            let follow = log.live ? " data-follow=\"\(base)/follow?from=\(log.storedLength)\"" : ""
            body += "<pre id=\"log-\(e(log.stream))\"\(follow)>\(e(log.text))</pre>"
        }
        if model.logs.isEmpty { body += "<h2>Log</h2><p>no output stored (yet)</p>" }
        return layout(title: "intern: \(model.campaign) trial \(trial.id)", body: body, script: true)
    }
}
