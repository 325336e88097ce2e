import Foundation
import InternCore
import InternReport
import InternStore
import Prometheus

/// What `/metrics` says of one campaign, read from its store at scrape time: trials by stage and
/// status, attempts running, workers by state, GPUs in use, log bytes (raw and stored), failed
/// attempts by class, hours spent and the budget.
public struct CampaignMetrics: Sendable, Equatable {
    public var campaign: String
    public var finished: Bool
    /// Trials by stage name and status.
    public var trials: [Key: Int]
    public var attemptsRunning: Int
    public var workers: [String: Int]
    public var gpusInUse: Int
    public var logRawBytes: UInt64
    public var logStoredBytes: UInt64
    public var failures: [String: Int]
    public var gpuHours: Double
    public var cpuHours: Double
    /// The budget, with what `intern add` added (nil: none).
    public var budgetHours: Double?
    public var budgetGPUHours: Double?

    /// A stage and a status.
    public struct Key: Sendable, Hashable {
        public var stage: String
        public var status: String

        public init(stage: String, status: String) {
            self.stage = stage
            self.status = status
        }
    }

    public init(
        campaign: String, finished: Bool, trials: [Key: Int], attemptsRunning: Int, workers: [String: Int], gpusInUse: Int, logRawBytes: UInt64,
        logStoredBytes: UInt64, failures: [String: Int], gpuHours: Double, cpuHours: Double, budgetHours: Double?, budgetGPUHours: Double?
    ) {
        self.campaign = campaign
        self.finished = finished
        self.trials = trials
        self.attemptsRunning = attemptsRunning
        self.workers = workers
        self.gpusInUse = gpusInUse
        self.logRawBytes = logRawBytes
        self.logStoredBytes = logStoredBytes
        self.failures = failures
        self.gpuHours = gpuHours
        self.cpuHours = cpuHours
        self.budgetHours = budgetHours
        self.budgetGPUHours = budgetGPUHours
    }

    /// The campaign in `store` (its spec's `view`) at `now`.
    public static func read(store: CampaignStore, view: StageView, now: Timestamp) throws -> CampaignMetrics {
        guard let info = try store.info() else { throw WebError.notFound("the campaign directory holds no campaign") }
        let names = view.stages.map(\.name)
        var trials: [Key: Int] = [:]
        for row in try store.trialCounts() {
            trials[Key(stage: names.indices.contains(row.stage) ? names[row.stage] : "\(row.stage)", status: row.status.rawValue), default: 0] += row.count
        }
        let usage = try store.attemptUsage()
        let running = usage.filter { !$0.status.isTerminal }
        let cost = CostBreakdown(usage: usage, stageNames: names, now: now)
        let (classes, _) = try store.failureCounts()
        let (raw, stored, _) = try store.logTotals()
        let budget = view.spec.budget
        return CampaignMetrics(
            campaign: info.name, finished: info.finishedAt != nil, trials: trials, attemptsRunning: running.count,
            workers: Dictionary(grouping: try store.workers(), by: \.state.rawValue).mapValues(\.count), gpusInUse: running.reduce(0) { $0 + $1.gpuCount },
            logRawBytes: raw, logStoredBytes: stored, failures: Dictionary(uniqueKeysWithValues: classes.map { ("\($0.key)", $0.value) }),
            gpuHours: cost.total.gpu, cpuHours: cost.total.cpu,
            budgetHours: budget.hours.map { $0 + info.adjustments.extraHours },
            budgetGPUHours: budget.gpuHours.map { $0 + info.adjustments.extraGPUHours })
    }

    /// The campaigns' metrics in Prometheus's text format (a registry filled at each scrape, so a
    /// series that no longer exists is not reported at its last value), then, when the dashboard
    /// shares its process with a coordinator, that coordinator's histograms (`coordinator`). Every
    /// series carries a `campaign` label.
    public static func exposition(_ campaigns: [CampaignMetrics], coordinator: CoordinatorMeasurements.Snapshot? = nil) -> String {
        var text = gauges(campaigns)
        if let coordinator {
            let campaign = [("campaign", coordinator.campaign)]
            text += histogram(
                "intern_report_commit_seconds", help: "Reports stored by the coordinator (count) and the time from each one's handling to its commit.",
                coordinator.reportCommit, labels: campaign)
            text += histogram(
                "intern_decision_seconds", help: "The time from an attempt's end stored to its slot's next assignment (0: the next was queued ahead).",
                coordinator.decision, labels: campaign)
            text += histogram(
                "intern_request_wait_seconds", help: "Requests received (count) and how long each waited between NNG handing it over and the coordinator's thread taking it up.",
                coordinator.requestWait, labels: campaign)
            text += histogram(
                "intern_dispatch_seconds", help: "Work requests answered at once with an assignment (count) and the time from NNG handing each over to its assignment committed.",
                coordinator.dispatch, labels: campaign)
        }
        return text
    }

    /// One histogram in the text format: its `_bucket` series (cumulative, `le` from the first
    /// bound to +Inf), `_sum` and `_count`.
    static func histogram(_ name: String, help: String, _ buckets: LatencyBuckets, labels: [(String, String)]) -> String {
        func series(_ suffix: String, _ extra: [(String, String)], _ value: String) -> String {
            let pairs = (labels + extra).map { "\($0.0)=\"\(escaped($0.1))\"" }.joined(separator: ",")
            return "\(name)\(suffix){\(pairs)} \(value)\n"
        }
        var text = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (bound, count) in zip(buckets.bounds.map { "\($0)" } + ["+Inf"], buckets.cumulative) {
            text += series("_bucket", [("le", bound)], "\(count)")
        }
        text += series("_sum", [], "\(buckets.sum)")
        text += series("_count", [], "\(buckets.count)")
        return text
    }

    /// A label's value as the text format writes it: backslash, double quote and newline escaped.
    static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// The campaigns' gauges, through swift-prometheus's registry.
    static func gauges(_ campaigns: [CampaignMetrics]) -> String {
        let registry = PrometheusCollectorRegistry()
        for metrics in campaigns {
            let campaign = ("campaign", metrics.campaign)
            /// `intern_NAME_UNIT`.
            func gauge(_ name: String, unit: String = "", _ help: String, _ value: Double, _ labels: [(String, String)] = []) {
                let descriptor = MetricNameDescriptor(namespace: "intern", metricName: name, unitName: unit, helpText: help)
                registry.makeGauge(descriptor: descriptor, labels: [campaign] + labels).set(to: value)
            }
            gauge("campaign_finished", "1 when every trial of the campaign has ended.", metrics.finished ? 1 : 0)
            for (key, count) in metrics.trials {
                gauge("trials", "Trials by stage and status.", Double(count), [("stage", key.stage), ("status", key.status)])
            }
            gauge("attempts_running", "Attempts assigned or running now.", Double(metrics.attemptsRunning))
            for (state, count) in metrics.workers { gauge("workers", "Workers seen, by state.", Double(count), [("state", state)]) }
            gauge("gpus_in_use", "GPUs held by running attempts.", Double(metrics.gpusInUse))
            gauge("log_raw", unit: "bytes", "Bytes of job output ingested, before compression.", Double(metrics.logRawBytes))
            gauge("log_stored", unit: "bytes", "Bytes of job output stored (zstd).", Double(metrics.logStoredBytes))
            for (failure, count) in metrics.failures {
                gauge("failed_attempts", "Failed attempts by failure class.", Double(count), [("class", failure)])
            }
            gauge("spent_gpu", unit: "hours", "GPU-hours spent by the campaign's attempts (running ones until now).", metrics.gpuHours)
            gauge("spent_cpu", unit: "hours", "CPU-hours spent by the campaign's attempts.", metrics.cpuHours)
            if let hours = metrics.budgetHours { gauge("budget", unit: "hours", "The campaign's budget.hours, with what was added.", hours) }
            if let hours = metrics.budgetGPUHours { gauge("budget_gpu", unit: "hours", "The campaign's budget.gpu_hours, with what was added.", hours) }
        }
        return registry.emitToString()
    }
}
