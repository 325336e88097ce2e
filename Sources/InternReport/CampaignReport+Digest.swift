import Foundation
import InternCore
import InternSpec
import InternStore
import Synchronization

extension CampaignReport {
    /// How much of the report to build.
    public enum Extent: Sendable {
        /// Everything `intern report` shows.
        case full
        /// What `intern digest` (and `intern best`'s Pareto front) reads, from selective queries
        /// (``CampaignReport/build(store:now:extent:)``): the same values as a full build, except
        /// that `sweep`, `curves`, `provenance` and `perCheckpoint` are empty and the log sizes 0.
        case digest
        /// What the dashboard's campaign page draws again as the campaign changes: everything but
        /// the audit sample (reading it decompresses every shard's log).
        case analysis
    }

    /// The digest's part of the report, read selectively: counts and failure classes are
    /// aggregate queries; the best trial (or the Pareto front), the guardrails, the running
    /// trials and the failures' trials are the only trials read whole; progress and cost read
    /// a few columns of every trial or attempt; parameters are decoded only for the trials whose
    /// parameters are analysed (importance) or shown. Throws where the store lacks what the
    /// queries name (an older store opened read-only): the caller falls back to a full build.
    /// `memo`: what the last digests of this store computed (``DigestMemo``), reused where its
    /// inputs are the same.
    static func buildForDigest(store: CampaignStore, now: Int64, memo: DigestMemo? = nil) throws -> CampaignReport {
        let (info, spec) = try specOf(store, memo: memo)
        let stages = spec.stages

        // Importance (the parameters of the completed trials of the first stage that searches a
        // space; a bootstrap, the digest's largest computation) on another thread while the rest
        // is read: it reads its own inputs, and the store serves concurrent reads.
        let importanceIndex = importanceStageIndex(stages)
        let importanceWork = importanceIndex.map { index in
            Background {
                try memo?.importance(store: store, stage: index, space: stages[index].space)
                    ?? ImportanceAnalysis.compute(points: try store.completedParameters(stage: index), space: stages[index].space)
            }
        }

        // Counts, and every stage's outcomes: one scan of the trials (aggregate queries each
        // scanned them again, and GROUP BY sorted them); and what every attempt used, for the cost.
        let (staged, usage) = try store.outcomesAndUsage()
        // Counted by status value, named at the end (a string key hashed per trial cost more than the scan).
        var byStatus: [TrialStatus: Int] = [:]
        var infeasible = 0
        var byStageStatus: [Int: [TrialStatus: Int]] = [:]
        var completedByStage: [Int: Int] = [:]
        for (stage, outcome) in staged {
            byStatus[outcome.status, default: 0] += 1
            byStageStatus[stage, default: [:]][outcome.status, default: 0] += 1
            if outcome.feasible == false { infeasible += 1 }
            if outcome.status == .completed { completedByStage[stage, default: 0] += 1 }
        }
        func named(_ counts: [TrialStatus: Int]) -> [String: Int] { Dictionary(uniqueKeysWithValues: counts.map { ($0.rawValue, $1) }) }
        let counts = named(byStatus)
        let countsByStage = byStageStatus.mapValues(named)
        var classes: [String: Int] = [:]
        for (failure, count) in try store.failureCounts().byClass { classes[failure.rawValue] = count }
        let stageSummaries = stages.enumerated().map { index, stage in
            Stage(name: stage.name, from: stage.input?.stage, counts: countsByStage[index] ?? [:])
        }

        // Best, Pareto front, guardrails, progress: rankings from the outcomes alone.
        let selection = spec.selectionStage
        let objective = selection.flatMap { stages[$0].objective }
        let pareto = selection.map { !stages[$0].extraObjectives.isEmpty } ?? false
        var bestIDs: [TrialID] = []
        var guardrailIDs: [TrialID] = []
        var progress: ProgressCurve?
        var paretoCandidates = 0
        var verdict: ValidationVerdict?
        if let selection, let objective {
            let mine = staged.filter { $0.stage == selection }.map(\.outcome)
            let ordered = mine.filter { $0.status == .completed && $0.objective != nil && !$0.isRepeat }
                .sorted { $0.objective! == $1.objective! ? $0.id < $1.id : objective.isBetter($0.objective!, than: $1.objective!) }
            let bestFeasible = ordered.first { $0.feasible != false }
            progress = ProgressCurve(outcomes: mine, objective: objective)
            if pareto {
                let stage = stages[selection]
                let candidates = try store.succeededSeries(stage: selection, metrics: stage.objectives.map(\.metric)).compactMap { row in
                    objectiveValues(stage: stage, series: row.series).map { (trial: row.trial, values: $0) }
                }
                paretoCandidates = candidates.count
                bestIDs = ParetoFront.indices(of: candidates.map(\.values), objectives: stage.objectives).map { candidates[$0].trial }
            } else {
                // Validation: the repeats and their originals, read whole (a few trials).
                if mine.contains(where: \.isRepeat) {
                    verdict = ValidationVerdict.judge(try store.validationTrials(stage: selection), objective: objective)
                }
                bestIDs = judged(verdict, first: bestFeasible?.id, progress: &progress).map { [$0] } ?? []
            }
            guardrailIDs = ordered.prefix { $0.id != bestFeasible?.id }.filter { $0.feasible == false }.map(\.id)
        }

        // The trials shown whole, their ancestors (for lineage), their succeeded attempts and metrics.
        // The running trials by id from the scan (the status has no index: a query for it scans again).
        let running = try store.trials(ids: staged.lazy.filter { $0.outcome.status == .running }.map(\.outcome.id)).filter { $0.status == .running }
        var byID: [TrialID: TrialRecord] = [:]
        for trial in try store.trials(ids: bestIDs + guardrailIDs) + running { byID[trial.id] = trial }
        var missing = Set(byID.values.compactMap(\.parent)).subtracting(byID.keys)
        while !missing.isEmpty {
            let parents = try store.trials(ids: missing)
            for trial in parents { byID[trial.id] = trial }
            // A parent the store does not hold ends its chain, as in the full build.
            missing = Set(parents.compactMap(\.parent)).subtracting(byID.keys)
        }
        let shown = bestIDs + guardrailIDs + running.map(\.id)
        let succeeded = try store.succeededAttempts(trials: shown)
        let series = try store.metricSeries(attempts: succeeded.values.map(\.id))
        func summary(_ id: TrialID) -> Trial? {
            guard let trial = byID[id] else { return nil }
            let attempt = succeeded[id]
            return trialSummary(
                trial, stages: stages, succeeded: attempt, series: attempt.flatMap { series[$0.id] } ?? [],
                lineage: lineage(of: trial, stages: stages, byID: byID))
        }

        var importance: [ParameterImportance] = []
        var importanceStage: String?
        var importanceObjective: Objective?
        var numeric: [String: Bool] = [:]
        if let index = importanceIndex, let importanceWork {
            let stage = stages[index]
            importanceStage = spec.isPipeline ? stage.name : nil
            importanceObjective = stage.objective
            importance = try importanceWork.value()
            numeric = numericParameters(stage)
        }

        // Failures: the attempts with a signature (what clustering reads of them), and the
        // parameters of the trials they hit.
        let failures = try store.failures()
        let hitIDs = Array(Set(failures.map(\.trial)))
        let hit = try memo?.parameters(store: store, ids: hitIDs) ?? store.parameters(ids: hitIDs)

        var report = CampaignReport(
            campaign: info.name, generatedAt: now, state: state(info, now: now), goal: goal(spec), objective: objective,
            selectionStage: spec.isPipeline ? selection.map { stages[$0].name } : nil, counts: counts, infeasible: infeasible,
            failureClasses: classes,
            stages: spec.isPipeline ? stageSummaries : [], best: bestIDs.compactMap(summary), pareto: pareto, paretoCandidates: paretoCandidates,
            objectiveNames: selection.map { stages[$0].objectives.map(\.metric) } ?? [], progress: progress, importance: importance,
            importanceStage: importanceStage, importanceObjective: importanceObjective, sweep: [], numericParameters: numeric, curves: [],
            failures: FailureCluster.clusters(failures: failures, parameters: hit),
            quarantined: try store.eventMessages(kind: "worker.quarantined"),
            blocked: try store.eventMessages(kind: "circuit.tripped"),
            cost: CostBreakdown(usage: usage, stageNames: stages.map(\.name), now: now),
            guardrails: guardrailIDs.compactMap(summary), running: running.map(\.id).compactMap(summary),
            provenance: [], perCheckpoint: [], logRawBytes: 0, logStoredBytes: 0,
            missingMetrics: try store.missingMetrics(stages: stages, completed: completedByStage).map(\.message))
        report.validation = verdict.map(Validation.init)
        report.totals = try ShardTotals.read(store: store, spec: spec).map(Totals.init)
        return report
    }
}

/// A computation started on a thread of its own (off Swift's cooperative pool: it may block on
/// SQLite), its result taken where it is needed, once. (A build that fails before it takes it
/// leaves it to end on its own, unread.)
final class Background<Value: Sendable>: Sendable {
    private let result = Mutex<Result<Value, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ work: @escaping @Sendable () throws -> Value) {
        DispatchQueue.global().async { [self] in
            let outcome = Result(catching: work)
            result.withLock { $0 = outcome }
            done.signal()
        }
    }

    /// The result: waits for the computation to end; throws what it threw.
    func value() throws -> Value {
        done.wait()
        return try result.withLock { $0! }.get()
    }
}
