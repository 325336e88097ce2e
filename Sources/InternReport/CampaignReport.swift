import Foundation
import InternCore
import InternSpec
import InternStore

/// Everything `intern report` shows, computed once from a campaign's store: the renderers
/// (Markdown, HTML with SVG charts, JSON) and `intern digest` only format it.
public struct CampaignReport: Sendable, Codable {
    /// One trial as the report lists it.
    public struct Trial: Sendable, Codable, Equatable {
        public var id: Int
        public var stage: String
        public var parent: Int?
        public var status: String
        public var objective: Double?
        /// Every objective's value, for a Pareto campaign (in the order of its objectives).
        public var objectives: [Double]?
        public var feasible: Bool?
        public var note: String?
        public var parameters: [String: String]
        /// Final values of the metrics the stage watches (objectives, constraints, pruning).
        public var metrics: [String: Double]
        public var wallSeconds: Double?
        /// `eval trial 31 <- train trial 12` for a fed trial.
        public var lineage: String?
    }

    /// A metric's points for one trial.
    public struct Curve: Sendable, Codable, Equatable {
        public var trial: Int
        public var metric: String
        public var steps: [Int64]
        public var values: [Double]
    }

    public struct Stage: Sendable, Codable, Equatable {
        public var name: String
        public var from: String?
        public var counts: [String: Int]
    }

    public var campaign: String
    public var generatedAt: Int64
    /// `running`, `finished`, `stopped: why`, `not running`.
    public var state: String
    /// The goal in words: objectives with directions, constraints, sampler, budget.
    public var goal: [String]
    /// The metric the best is judged by, its direction, and the stage it belongs to.
    public var objective: Objective?
    public var selectionStage: String?
    public var counts: [String: Int]
    /// Completed trials that broke a constraint (counted in `counts` as completed too).
    public var infeasible: Int
    public var failureClasses: [String: Int]
    public var stages: [Stage]
    /// The best feasible trial (one), or the Pareto front (several) when there are several objectives.
    public var best: [Trial]
    public var pareto: Bool
    /// With several objectives: how many feasible completed trials reported all of them (the
    /// front is chosen among these).
    public var paretoCandidates: Int
    public var objectiveNames: [String]
    public var progress: ProgressCurve?
    public var importance: [ParameterImportance]
    /// Which stage the importances are about, and the objective they explain.
    public var importanceStage: String?
    public var importanceObjective: Objective?
    /// Completed trials of that stage, for objective-vs-parameter plots and parallel coordinates.
    public var sweep: [Trial]
    /// Parameters whose values are numbers, with whether to plot them on a log scale.
    public var numericParameters: [String: Bool]
    public var curves: [Curve]
    public var failures: [FailureCluster]
    public var quarantined: [String]
    public var blocked: [String]
    public var cost: CostBreakdown
    /// Trials that beat the best feasible one on the objective but broke a constraint.
    public var guardrails: [Trial]
    /// Trials running now.
    public var running: [Trial]
    /// What the attempts ran with: code versions and package sets with how many attempts each,
    /// and the best trial's (one line each).
    public var provenance: [String]
    /// For a pipeline whose selection stage is fed (an eval of checkpoints): its trials, best
    /// first (at most 50), each with its lineage and metrics: the results per checkpoint.
    public var perCheckpoint: [Trial]
    public var logRawBytes: UInt64
    public var logStoredBytes: UInt64
    /// Metrics the stages count on (objectives, constraints, pruning) that no completed trial
    /// reported, one sentence each (``MissingMetric/message``).
    public var missingMetrics: [String] = []
    /// What requests with a named actor did (agents' and people's steering, refusals included),
    /// the last 20, oldest first: `2026-12-07 01:55 campaign.added 1 configuration enqueued … (by agent:claude)`.
    public var steering: [String] = []
    /// The selection stage's validation (`validate:`), when its best configurations were repeated.
    public var validation: Validation?
    /// This campaign's failures that earlier campaigns had too, with where and the notes on them
    /// (the lab's, set by whoever builds the report with a lab at hand: `intern report`, the
    /// dashboard); a line per failure, then its sightings and notes (`↳ …`).
    public var seenBefore: [String] = []
    /// A data campaign's totals (`totals:`), its shards and those still to run.
    public var totals: Totals?
    /// A data campaign's audit sample (`map:` or `totals:`; the full report only).
    public var samples: AuditSample?

    /// The verdict on a stage's validation repeats as the report shows it (see ``ValidationVerdict``).
    public struct Validation: Sendable, Codable, Equatable {
        /// One configuration's repeats (`trial`: its original; `nil`: the baseline).
        public struct Group: Sendable, Codable, Equatable {
            public var trial: Int?
            public var firstResult: Double?
            public var mean: Double?
            public var sd: Double?
            public var values: [Double]
            public var repeats: [Int]
            public var failed: [Int]
        }

        /// The test, in words.
        public static let test = "Welch's t-test, one-sided, alpha \(ValidationPolicy.alpha), on each configuration's repeats (first results left out)"
        public var summary: String
        public var best: Int?
        public var validated: Bool
        public var settled: Bool
        public var groups: [Group]
        public var test: String = Validation.test

        public init(_ verdict: ValidationVerdict) {
            summary = verdict.summary
            best = verdict.best.map { Int($0) }
            validated = verdict.isValidated
            settled = verdict.isSettled
            groups = verdict.groups.map { group in
                Group(trial: group.original.map { Int($0) }, firstResult: group.firstResult, mean: group.mean, sd: group.standardDeviation,
                      values: group.values, repeats: group.repeats.map { Int($0) }, failed: group.failed.map { Int($0) })
            }
        }
    }

    /// The best's id once validation has judged (the configuration whose repeats did best),
    /// else `first` (the best first result); and the progress curve's validated improvements.
    static func judged(_ verdict: ValidationVerdict?, first: TrialID?, progress: inout ProgressCurve?) -> TrialID? {
        guard let verdict else { return first }
        if verdict.isValidated, let best = verdict.best { progress?.validated = [Int(best)] }
        return verdict.isSettled ? verdict.best ?? first : first
    }

    /// How many trials of the best get metric curves.
    public static let curveTrials = 5

    /// Builds the report of the campaign in `store` at `now`: all of it, or (`.digest`) what the
    /// digest reads, from selective queries (``Extent``); where those cannot be answered (a store
    /// of an older intern, opened read-only before its migration), all of it.
    public static func build(store: CampaignStore, now: Int64, extent: Extent = .full, memo: DigestMemo? = nil) throws -> CampaignReport {
        if extent == .digest, var report = try? buildForDigest(store: store, now: now, memo: memo) {
            report.steering = try steering(store)
            return report
        }
        let (info, spec) = try specOf(store)
        let stages = spec.stages
        let trials = try store.trials()
        let attempts = try store.attempts()
        let byID = Dictionary(uniqueKeysWithValues: trials.map { ($0.id, $0) })
        let succeeded = Dictionary(attempts.filter { $0.status == .succeeded }.map { ($0.trial, $0) }, uniquingKeysWith: { $1 })
        let seriesByAttempt = try store.allMetricSeries()
        let events = try store.events(kinds: ["worker.quarantined", "circuit.tripped"])

        func summary(_ trial: TrialRecord) -> Trial {
            let attempt = succeeded[trial.id]
            return trialSummary(
                trial, stages: stages, succeeded: attempt, series: attempt.flatMap { seriesByAttempt[$0.id] } ?? [],
                lineage: lineage(of: trial, stages: stages, byID: byID))
        }

        // Counts.
        var counts: [String: Int] = [:]
        for trial in trials { counts[trial.status.rawValue, default: 0] += 1 }
        let infeasible = trials.count { $0.feasible == false }
        var classes: [String: Int] = [:]
        for attempt in attempts { if let failure = attempt.failureClass { classes[failure.rawValue, default: 0] += 1 } }
        let stageSummaries = stages.enumerated().map { index, stage in
            var counts: [String: Int] = [:]
            for trial in trials where trial.stage == index { counts[trial.status.rawValue, default: 0] += 1 }
            return Stage(name: stage.name, from: stage.input?.stage, counts: counts)
        }

        // Best, Pareto front, guardrails, progress.
        let selection = spec.selectionStage
        let objective = selection.flatMap { stages[$0].objective }
        var best: [Trial] = []
        var guardrails: [Trial] = []
        var progress: ProgressCurve?
        let pareto = selection.map { !stages[$0].extraObjectives.isEmpty } ?? false
        var paretoCandidates = 0
        var verdict: ValidationVerdict?
        if let selection, let objective {
            let mine = trials.filter { $0.stage == selection }
            let ordered = mine.filter { $0.status == .completed && $0.objective != nil && !$0.isRepeat }
                .sorted { $0.objective! == $1.objective! ? $0.id < $1.id : objective.isBetter($0.objective!, than: $1.objective!) }
            let bestFeasible = ordered.first { $0.feasible != false }
            if pareto {
                let candidates = mine.filter { $0.status == .completed && $0.feasible != false }.map(summary).filter { $0.objectives != nil }
                paretoCandidates = candidates.count
                best = ParetoFront.indices(of: candidates.map { $0.objectives! }, objectives: stages[selection].objectives).map { candidates[$0] }
            }
            progress = ProgressCurve(trials: mine, objective: objective)
            if !pareto {
                verdict = ValidationVerdict.judge(mine, objective: objective)
                if let id = judged(verdict, first: bestFeasible?.id, progress: &progress), let trial = byID[id] { best = [summary(trial)] }
            }
            guardrails = ordered.prefix { $0.id != bestFeasible?.id }.filter { $0.feasible == false }.map(summary)
        }

        // Importance: the first stage that searches a space for an objective.
        var importance: [ParameterImportance] = []
        var importanceStage: String?
        var importanceObjective: Objective?
        var sweep: [Trial] = []
        var numeric: [String: Bool] = [:]
        if let index = importanceStageIndex(stages) {
            let stage = stages[index]
            importanceStage = spec.isPipeline ? stage.name : nil
            importanceObjective = stage.objective
            let done = trials.filter { $0.stage == index && $0.status == .completed && $0.feasible != false && $0.objective != nil && !$0.isRepeat }
            importance = ImportanceAnalysis.compute(points: done.map { ($0.parameters, $0.objective!) }, space: stage.space)
            sweep = done.map(summary)
            numeric = numericParameters(stage)
        }

        // Curves of the best trials: the pruning metric (per epoch) when there is one, else the objective.
        var curves: [Curve] = []
        if let selection {
            let curveStage = stages.indices.first { stages[$0].pruning != nil } ?? selection
            if let metric = stages[curveStage].pruning?.metric ?? stages[curveStage].objective?.metric, let order = stages[curveStage].objective {
                let top = trials.filter { $0.stage == curveStage && $0.objective != nil && $0.status == .completed && $0.feasible != false }
                    .sorted { $0.objective! == $1.objective! ? $0.id < $1.id : order.isBetter($0.objective!, than: $1.objective!) }
                    .prefix(curveTrials)
                for trial in top {
                    guard let attempt = succeeded[trial.id] else { continue }
                    let points = try store.metricPoints(attempt: attempt.id, name: metric)
                    guard !points.isEmpty else { continue }
                    curves.append(Curve(trial: trial.id, metric: metric, steps: points.map(\.step), values: points.map(\.value)))
                }
            }
        }

        var perCheckpoint: [Trial] = []
        if let selection, stages[selection].input != nil, let objective {
            perCheckpoint = trials.filter { $0.stage == selection && $0.status == .completed && $0.objective != nil }
                .sorted { $0.objective! == $1.objective! ? $0.id < $1.id : objective.isBetter($0.objective!, than: $1.objective!) }
                .prefix(50).map(summary)
        }
        let totals = try store.logTotals()

        var report = CampaignReport(
            campaign: info.name, generatedAt: now, state: state(info, now: now), goal: goal(spec), objective: objective,
            selectionStage: spec.isPipeline ? selection.map { stages[$0].name } : nil, counts: counts, infeasible: infeasible,
            failureClasses: classes,
            stages: spec.isPipeline ? stageSummaries : [], best: best, pareto: pareto, paretoCandidates: paretoCandidates,
            objectiveNames: selection.map { stages[$0].objectives.map(\.metric) } ?? [], progress: progress, importance: importance,
            importanceStage: importanceStage, importanceObjective: importanceObjective, sweep: sweep, numericParameters: numeric, curves: curves,
            failures: FailureCluster.clusters(attempts: attempts, trials: byID),
            quarantined: events.filter { $0.kind == "worker.quarantined" }.map(\.message),
            blocked: events.filter { $0.kind == "circuit.tripped" }.map(\.message),
            cost: CostBreakdown(attempts: attempts, trials: byID, stageNames: stages.map(\.name), now: now),
            guardrails: guardrails, running: trials.filter { $0.status == .running }.map(summary),
            provenance: try provenanceLines(store: store, attempts: attempts, best: best.first.flatMap { succeeded[$0.id] }),
            perCheckpoint: perCheckpoint,
            logRawBytes: totals.raw, logStoredBytes: totals.stored,
            missingMetrics: missingMetrics(stages: stages, trials: byID, attempts: attempts, series: seriesByAttempt))
        report.steering = try steering(store)
        report.validation = verdict.map(Validation.init)
        report.totals = try ShardTotals.read(store: store, spec: spec).map(Totals.init)
        if extent == .full, spec.map != nil || !spec.totals.isEmpty { report.samples = try AuditSample.read(store: store) }
        return report
    }

    /// The last steering events, as the report lists them.
    static func steering(_ store: CampaignStore) throws -> [String] {
        // A store from before actors (opened read-only, not migrated) has none.
        guard let events = try? store.actorEvents(limit: 20) else { return [] }
        return events.map { "\(ReportText.time($0.at)) \($0.kind) \($0.message)" }
    }

    /// The campaign in `store` and its spec.
    static func specOf(_ store: CampaignStore, memo: DigestMemo? = nil) throws -> (CampaignInfo, CampaignSpec) {
        guard let info = try store.info() else { throw ReportError("the campaign directory holds no campaign") }
        func parse() throws -> CampaignSpec {
            try CampaignSpecParser.parse(
                yaml: info.specYAML, file: info.specPath, baseDirectory: (info.specPath as NSString).deletingLastPathComponent,
                mapItems: info.mapItems)
        }
        return (info, try memo?.spec(yaml: info.specYAML, path: info.specPath, parse: parse) ?? parse())
    }

    /// One trial as the report lists it: `succeeded` is its succeeded attempt (the last) and
    /// `series` that attempt's metric summaries.
    static func trialSummary(
        _ trial: TrialRecord, stages: [InternCore.Stage], succeeded: AttemptRecord?, series: [MetricSeriesSummary], lineage: String?
    ) -> Trial {
        let stage = stages[min(trial.stage, stages.count - 1)]
        var metrics: [String: Double] = [:]
        var watched = Set(stage.objectives.map(\.metric)).union(stage.constraints.map(\.metric))
        if let pruning = stage.pruning { watched.insert(pruning.metric) }
        if succeeded != nil {
            for series in series where watched.contains(series.name) {
                if let value = series.lastValue { metrics[series.name] = value }
            }
        }
        var objectives: [Double]?
        if stage.extraObjectives.count > 0, succeeded != nil { objectives = objectiveValues(stage: stage, series: series) }
        return Trial(
            id: trial.id, stage: stage.name, parent: trial.parent, status: trial.status.rawValue, objective: trial.objective,
            objectives: objectives, feasible: trial.feasible, note: trial.note,
            parameters: Dictionary(uniqueKeysWithValues: trial.parameters.sortedPairs.map { ($0.name, $0.value.text) }),
            metrics: metrics, wallSeconds: succeeded?.wallMillis.map { Double($0) / 1000 }, lineage: lineage)
    }

    /// Each of `stage`'s objectives as its summary says, from an attempt's metric summaries; nil
    /// unless every one was reported.
    static func objectiveValues(stage: InternCore.Stage, series: [MetricSeriesSummary]) -> [Double]? {
        let values = stage.objectives.map { objective -> Double? in
            series.first { $0.name == objective.metric }.flatMap { objective.summarize(last: $0.lastValue, min: $0.minValue, max: $0.maxValue) }
        }
        return values.allSatisfy({ $0 != nil }) ? values.map { $0! } : nil
    }

    /// `eval trial 31 <- train trial 12` for a fed trial (its ancestors from `byID`), else nil.
    static func lineage(of trial: TrialRecord, stages: [InternCore.Stage], byID: [TrialID: TrialRecord]) -> String? {
        guard trial.parent != nil else { return nil }
        var chain = [trial]
        while let parent = chain.last?.parent, let record = byID[parent], !chain.contains(where: { $0.id == parent }) { chain.append(record) }
        return chain.map { "\(stages[min($0.stage, stages.count - 1)].name) trial \($0.id)" }.joined(separator: " <- ")
    }

    /// The first stage that searches a space for an objective: the one parameter importance is about.
    static func importanceStageIndex(_ stages: [InternCore.Stage]) -> Int? {
        stages.indices.first { stages[$0].objective != nil && !stages[$0].space.parameters.isEmpty }
    }

    /// The stage's parameters whose values are numbers, with whether to plot them on a log scale.
    static func numericParameters(_ stage: InternCore.Stage) -> [String: Bool] {
        var numeric: [String: Bool] = [:]
        for parameter in stage.space.parameters {
            switch parameter.domain {
            case .logUniform: numeric[parameter.name] = true
            case .uniform, .integer: numeric[parameter.name] = false
            case .choice(let values): if values.allSatisfy({ $0.doubleValue != nil }) { numeric[parameter.name] = false }
            }
        }
        return numeric
    }

    /// The goal in words: each stage's objectives, constraints, trials and sampler, pruning; the budget.
    static func goal(_ spec: CampaignSpec) -> [String] {
        var goal: [String] = []
        for (index, stage) in spec.stages.enumerated() {
            let prefix = spec.isPipeline ? "stage \(stage.name)\(stage.input.map { " (from \($0.stage)\($0.top.map { ", top \($0)" } ?? ""))" } ?? ""): " : ""
            var parts: [String] = []
            if !stage.objectives.isEmpty { parts.append(stage.objectives.map { "\($0.direction.rawValue) \($0.metric)" }.joined(separator: ", ")) }
            if !stage.constraints.isEmpty { parts.append("subject to " + stage.constraints.map(\.description).joined(separator: ", ")) }
            if index == 0 || !stage.space.parameters.isEmpty {
                parts.append("\(stage.trials) trial\(stage.trials == 1 ? "" : "s")\(index > 0 ? " per input" : "") by \(stage.sampler.name)")
            }
            if let pruning = stage.pruning { parts.append("\(pruning.rule.rawValue) early stopping on \(pruning.metric)") }
            goal.append(prefix + (parts.isEmpty ? "run" : parts.joined(separator: "; ")))
        }
        if spec.budget.isSet {
            goal.append("budget: " + [spec.budget.hours.map { "\($0) hours" }, spec.budget.gpuHours.map { "\($0) GPU-hours" }].compactMap { $0 }.joined(separator: ", "))
        }
        return goal
    }

    /// `running`, `finished`, `stopped: why` or `not running` (no sign of life in 10 s).
    static func state(_ info: CampaignInfo, now: Int64) -> String {
        if info.finishedAt != nil { return "finished" }
        if let reason = info.stoppedReason { return "stopped: \(reason)" }
        if let alive = info.coordinatorAliveAt, now - alive <= 10_000 { return "running" }
        return "not running"
    }

    /// What the stages count on and no completed trial reported, from what the report read anyway.
    static func missingMetrics(
        stages: [InternCore.Stage], trials: [Int: TrialRecord], attempts: [AttemptRecord], series: [AttemptID: [MetricSeriesSummary]]
    ) -> [String] {
        var completed: [Int: Int] = [:]
        for trial in trials.values where trial.status == .completed { completed[trial.stage, default: 0] += 1 }
        var reported: [Int: Set<String>] = [:]
        for attempt in attempts {
            guard let trial = trials[attempt.trial], let names = series[attempt.id] else { continue }
            reported[trial.stage, default: []].formUnion(names.map(\.name))
        }
        return MetricCoverage(stages: stages, completed: completed, reported: reported).missing.map(\.message)
    }
}

extension CampaignReport {
    /// Code versions and package sets across attempts, and what the best trial ran with.
    static func provenanceLines(store: CampaignStore, attempts: [AttemptRecord], best: AttemptRecord?) throws -> [String] {
        let captured = try store.provenance()
        guard !captured.isEmpty else { return [] }
        var lines: [String] = []
        var code: [String: Int] = [:], packages: [String: Int] = [:]
        for attempt in attempts {
            guard let fields = captured[attempt.id] else { continue }
            if let commit = fields["git.commit"] {
                code["\(commit.prefix(12))\(fields["git.dirty"] == "true" ? " + uncommitted changes \(fields["git.diff"]?.prefix(8) ?? "")" : "") on \(fields["git.branch"] ?? "?")", default: 0] += 1
            } else {
                code["not a git checkout", default: 0] += 1
            }
            packages["\(fields["python"] ?? "no python") packages \(fields["packages"]?.prefix(12) ?? "-")", default: 0] += 1
        }
        lines.append("code: " + code.sorted { $0.value == $1.value ? $0.key < $1.key : $0.value > $1.value }.map { "\($0.value) attempt\($0.value == 1 ? "" : "s") at \($0.key)" }.joined(separator: "; "))
        lines.append("environments: " + packages.sorted { $0.value == $1.value ? $0.key < $1.key : $0.value > $1.value }.map { "\($0.value) attempt\($0.value == 1 ? "" : "s") with \($0.key)" }.joined(separator: "; "))
        if let best, let fields = captured[best.id] {
            lines.append("best trial ran with: " + fields.filter { $0.key != "packages" && $0.key != "git.diff" }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        return lines
    }
}

public struct ReportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension SamplerKind {
    /// `random`, `grid`, `tpe` (`independent tpe` with `multivariate: false`) or `gp`.
    var name: String {
        if case .independentTPE = self { return "independent tpe" }
        return typeName
    }
}
