import Foundation
import InternCore
@testable import InternReport
import InternSpec
import InternStore
import InternTestKit
import Testing

/// The digest's report read selectively (``CampaignReport/Extent/digest``) says what the full
/// report says, field by field and line by line, on campaigns with mixed statuses, failures,
/// stages and lineage, constraints and guardrails, pruned and running trials, several objectives.
@Suite(.serialized) struct DigestExtentTests {
    static let now: Int64 = 1_790_000_000_000

    /// The full report without what the digest's extent leaves out.
    static func digestPart(of report: CampaignReport) -> CampaignReport {
        var report = report
        report.sweep = []
        report.curves = []
        report.provenance = []
        report.perCheckpoint = []
        report.logRawBytes = 0
        report.logStoredBytes = 0
        return report
    }

    static func expectSameDigest(_ store: CampaignStore, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let full = digestPart(of: try CampaignReport.build(store: store, now: now))
        // The selective build itself, not its fallback.
        let fast = try CampaignReport.buildForDigest(store: store, now: now)
        #expect(fast.counts == full.counts && fast.infeasible == full.infeasible && fast.stages == full.stages, sourceLocation: sourceLocation)
        #expect(fast.best == full.best && fast.paretoCandidates == full.paretoCandidates, sourceLocation: sourceLocation)
        #expect(fast.guardrails == full.guardrails && fast.running == full.running, sourceLocation: sourceLocation)
        #expect(fast.progress == full.progress && fast.importance == full.importance, sourceLocation: sourceLocation)
        #expect(fast.failures == full.failures && fast.cost == full.cost, sourceLocation: sourceLocation)
        #expect(fast.missingMetrics == full.missingMetrics && fast.blocked == full.blocked && fast.quarantined == full.quarantined,
                sourceLocation: sourceLocation)
        // Everything else too: the JSON of the whole report.
        #expect(try fast.json() == full.json(), sourceLocation: sourceLocation)
        #expect(try CampaignReport.build(store: store, now: now, extent: .digest).json() == full.json(), sourceLocation: sourceLocation)
        // With intern-mcp's memo: computed, then answered from it.
        let memo = DigestMemo()
        for _ in 0..<2 {
            #expect(try CampaignReport.buildForDigest(store: store, now: now, memo: memo).json() == full.json(), sourceLocation: sourceLocation)
        }
        let changes = CampaignDigest.Changes(
            events: try store.events(after: 0).map(\.event), ended: [(trial: 3, status: "completed", objective: 0.5)], since: 0)
        let lines = { (report: CampaignReport) in
            CampaignDigest.candidates(report: report, changes: changes).flatMap { ["## " + $0.0] + $0.1 }
        }
        #expect(lines(fast) == lines(full), sourceLocation: sourceLocation)
        for budget in [24, 80, 400, 2_000, 20_000] {
            #expect(CampaignDigest.make(report: fast, changes: changes, cursor: "9.9", budget: budget).text
                    == CampaignDigest.make(report: full, changes: changes, cursor: "9.9", budget: budget).text, sourceLocation: sourceLocation)
        }
    }

    @Test func theSyntheticCampaign_sameDigest() throws {
        let dir = try TemporaryDirectory(prefix: "intern-digest")
        defer { dir.remove() }
        try SyntheticCampaign.create(directory: dir.file("synth"), trials: 400, failures: 40, logBytes: 0)
        let store = try CampaignStore(directory: dir.file("synth"), create: false, readOnly: true)
        try Self.expectSameDigest(store)
        let report = try CampaignReport.buildForDigest(store: store, now: Self.now)
        #expect(report.counts["pruned"] ?? 0 > 0 && report.infeasible > 0 && report.failures.first?.attempts == 40)
        #expect(report.importance.first?.parameter == "lr" && report.best.count == 1)
    }

    /// A store written by hand: trials, attempts (with their metrics) and events.
    struct Campaign {
        let dir: TemporaryDirectory
        let store: CampaignStore
        var changes: [StoreChange] = []
        var metrics: [IncomingMetric] = []
        var trialOf: [AttemptID: TrialID] = [:]
        var nextAttempt: AttemptID = 1

        init(yaml: String) throws {
            dir = try TemporaryDirectory(prefix: "intern-digest")
            store = try CampaignStore(directory: dir.file("c"))
            let spec = try CampaignSpecParser.parse(yaml: yaml, file: dir.file("c/campaign.yaml"), baseDirectory: dir.file("c"))
            try store.register(spec: spec, specPath: dir.file("c/campaign.yaml"), specYAML: yaml, now: 1_780_000_000_000)
        }

        /// A trial and one attempt per entry of `attempts`, each reporting `metrics` (name: values by step).
        mutating func trial(
            _ id: TrialID, stage: Int = 0, parent: TrialID? = nil, _ parameters: Parameters = [:], _ status: TrialStatus,
            objective: Double? = nil, feasible: Bool? = nil, attempts: [AttemptStatus]? = nil, failure: (FailureClass, String)? = nil,
            metrics: [String: [Double]] = [:], gpus: Int = 1
        ) {
            let ended: Int64? = status.isTerminal ? 1_780_000_000_000 + Int64(id) * 1_000 : nil
            var trial = TrialRecord(id: id, parameters: parameters, status: status, objective: objective, createdAt: 1_780_000_000_000, endedAt: ended)
            trial.stage = stage
            trial.parent = parent
            trial.feasible = feasible
            let statuses = attempts ?? [status == .completed ? .succeeded : status == .running ? .running : status == .pruned ? .cancelled : .failed]
            trial.attemptCount = statuses.count
            changes.append(.trial(trial))
            for (number, attemptStatus) in statuses.enumerated() {
                var attempt = AttemptRecord(
                    id: nextAttempt, trial: id, number: number + 1, worker: WorkerID("w\(id % 3)"), incarnation: 1, status: attemptStatus,
                    argv: ["python3", "x.py", "--id", "\(id)"], assignedAt: 1_780_000_000_000 + Int64(id) * 900)
                attempt.startedAt = attempt.assignedAt + 10
                if attemptStatus != .running, attemptStatus != .lost {
                    attempt.endedAt = ended ?? attempt.assignedAt + 500
                    attempt.wallMillis = UInt64(400 + id)
                }
                attempt.userCPUMillis = UInt64(300 + id)
                attempt.systemCPUMillis = 20
                attempt.gpus = (0..<gpus).map(String.init)
                if attemptStatus == .failed || attemptStatus == .lost, let failure {
                    attempt.failureClass = failure.0
                    attempt.failureSignature = failure.1
                    attempt.signatureText = "error \(failure.1) at <N>"
                    attempt.failureExcerpt = "error \(failure.1) at \(id)\nsecond line"
                    attempt.failureReason = "the log says \(failure.1)"
                }
                changes.append(.attempt(attempt))
                trialOf[attempt.id] = id
                var seq: UInt64 = 0
                for (name, values) in metrics.sorted(by: { $0.key < $1.key }) {
                    for (step, value) in values.enumerated() {
                        seq += 1
                        self.metrics.append(IncomingMetric(attempt: attempt.id, seq: seq, name: name, step: Int64(step + 1), value: value, time: attempt.assignedAt))
                    }
                }
                nextAttempt += 1
            }
        }

        mutating func event(_ kind: String, _ message: String) {
            changes.append(.event(CampaignEvent(kind: kind, message: message, at: 1_780_000_000_000)))
        }

        /// Writes it all and opens the store read-only, as the commands do.
        mutating func commit() throws -> CampaignStore {
            try store.apply(changes)
            let trialOf = trialOf
            _ = try ReportIngestor(store: store).ingest(frames: [], metrics: metrics, trialOf: { trialOf[$0] }, now: 1_780_000_000_000)
            changes = []
            metrics = []
            return try CampaignStore(directory: dir.file("c"), create: false, readOnly: true)
        }
    }

    static let pipeline = """
        name: pipe
        gpus: 1
        budget: {hours: 10}
        stages:
          - name: train
            command: [python3, train.py, --lr, "{lr}", --opt, "{opt}", --width, "{width}"]
            space:
              lr: {type: loguniform, low: 0.001, high: 0.5}
              opt: {type: choice, values: [sgd, adam, adamw]}
              width: {type: int, low: 8, high: 512}
            trials: 40
            objective: {metric: eval_loss, direction: minimize}
            pruning: {rule: asha, metric: eval_loss, min_step: 1}
            outputs: [checkpoint]
          - name: eval
            from: train
            command: [python3, eval.py, --checkpoint, "{train.checkpoint}"]
            objective: {metric: test_accuracy, direction: maximize}
            constraints: ["worst_class_accuracy >= 0.85", "calibration_error <= 0.2"]
            gpus: 0
          - name: select
            from: {stage: eval, top: 1}
            command: [python3, select.py, "{train.checkpoint}"]
        """

    @Test func aPipelineWithLineageGuardrailsFailuresAndRunningTrials_sameDigest() throws {
        var campaign = try Campaign(yaml: Self.pipeline)
        defer { campaign.dir.remove() }
        let optimizers = ["sgd", "adam", "adamw"]
        for id in 1...40 {
            let lr = 0.001 * pow(1.15, Double(id))
            let parameters: Parameters = ["lr": .double(lr), "opt": .string(optimizers[id % 3]), "width": .int(8 * id)]
            let loss = 0.3 + abs(log10(lr) + 1.5) * 0.2 + (id % 3 == 0 ? 0.1 : 0)
            switch id % 10 {
            case 3: campaign.trial(id, parameters, .pruned, metrics: ["eval_loss": [loss + 1]])
            case 5: campaign.trial(id, parameters, .failed, attempts: [.failed, .failed], failure: (.oom, "sig-oom"))
            case 7 where id < 30: campaign.trial(id, parameters, .failed, attempts: [.lost], failure: (.lost, "sig-lost"), gpus: 2)
            case 9 where id > 30: campaign.trial(id, parameters, .running, metrics: ["eval_loss": [loss + 0.5]])
            case 1 where id > 20:
                // Retried after a failure, then completed.
                campaign.trial(id, parameters, .completed, objective: loss, attempts: [.failed, .succeeded], failure: (.user, "sig-user"),
                               metrics: ["eval_loss": [loss + 0.4, loss]])
            default: campaign.trial(id, parameters, .completed, objective: loss, metrics: ["eval_loss": [loss + 0.4, loss + 0.1, loss]])
            }
        }
        // Eval trials, fed by train trials: the most accurate break the constraint (guardrails).
        for (offset, parent) in [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24].enumerated() {
            let id = 100 + offset
            let accuracy = 0.80 + Double(offset) * 0.015
            let worst = offset >= 9 ? 0.7 : 0.9
            campaign.trial(
                id, stage: 1, parent: parent, [:], .completed, objective: accuracy, feasible: worst >= 0.85,
                metrics: ["test_accuracy": [accuracy], "worst_class_accuracy": [worst]], gpus: 0)
        }
        campaign.trial(120, stage: 1, parent: 26, [:], .running, gpus: 0)
        campaign.trial(121, stage: 1, parent: 28, [:], .failed, failure: (.oom, "sig-oom"), gpus: 0)
        // Fed by a trial the store does not hold: its lineage stops there.
        campaign.trial(122, stage: 1, parent: 999, [:], .completed, objective: 0.5, feasible: true, metrics: ["test_accuracy": [0.5], "worst_class_accuracy": [0.9]])
        campaign.trial(130, stage: 2, parent: 108, [:], .completed, metrics: ["exported": [1]], gpus: 0)
        campaign.trial(131, stage: 2, parent: 120, [:], .running, gpus: 0)
        campaign.event("trial.pruned", "trial 3 pruned: ASHA rung 0")
        campaign.event("circuit.tripped", "3 oom failures in a row in lr 0.2-0.5")
        campaign.event("worker.quarantined", "worker w2 quarantined after 3 failures")
        campaign.event("circuit.tripped", "the breaker tripped again")
        let store = try campaign.commit()
        try Self.expectSameDigest(store)

        let report = try CampaignReport.buildForDigest(store: store, now: Self.now)
        #expect(report.best.map(\.id) == [108] && report.best[0].lineage == "eval trial 108 <- train trial 18")
        #expect(report.guardrails.map(\.id) == [111, 110, 109] && report.running.map(\.id) == [39, 120, 131])
        #expect(report.running.last?.lineage == "select trial 131 <- eval trial 120 <- train trial 26")
        #expect(Set(report.failures.map(\.signature)) == ["sig-oom", "sig-lost", "sig-user"] && report.blocked.count == 2)
        #expect(report.stages.map(\.name) == ["train", "eval", "select"] && report.importanceStage == "train")
        // A metric the campaign counts on and never sees is named, in both.
        #expect(report.missingMetrics.count == 1 && report.missingMetrics[0].contains("calibration_error"), "\(report.missingMetrics)")
    }

    static let pareto = """
        name: front
        command: [python3, train.py, --lr, "{lr}", --width, "{width}", --act, "{act}"]
        space:
          lr: {type: uniform, low: 0.0, high: 1.0}
          width: {type: int, low: 1, high: 64}
          act: {type: choice, values: [relu, gelu, 1, 2.5]}
        trials: 60
        objectives:
          - {metric: accuracy, direction: maximize}
          - {metric: latency_ms, direction: minimize, summary: best}
        constraints: ["memory_gb <= 10"]
        gpus: 1
        """

    @Test func severalObjectives_sameParetoFrontAndDigest() throws {
        var campaign = try Campaign(yaml: Self.pareto)
        defer { campaign.dir.remove() }
        var random = SeededGenerator(seed: 7)
        let acts: [ParameterValue] = [.string("relu"), .string("gelu"), .int(1), .double(2.5)]
        for id in 1...60 {
            let lr = Double(random.next() % 1_000) / 1_000
            let parameters: Parameters = ["lr": .double(lr), "width": .int(Int(random.next() % 64) + 1), "act": acts[id % 4]]
            let accuracy = 0.5 + lr * 0.4
            let latency = 5 + lr * 20 + Double(id % 7)
            let memory = id % 6 == 0 ? 12.0 : 8.0
            switch id % 11 {
            case 4: campaign.trial(id, parameters, .failed, failure: (.timeout, "sig-timeout"))
            case 6: campaign.trial(id, parameters, .pruned)
            case 8:
                // No latency reported: not a candidate for the front.
                campaign.trial(id, parameters, .completed, objective: accuracy, feasible: true, metrics: ["accuracy": [accuracy], "memory_gb": [memory]])
            case 9:
                // Two succeeded attempts: the last one's metrics count.
                campaign.trial(id, parameters, .completed, objective: accuracy, feasible: true, attempts: [.succeeded, .succeeded],
                               metrics: ["accuracy": [accuracy], "latency_ms": [latency + 3, latency], "memory_gb": [memory]])
            default:
                campaign.trial(id, parameters, .completed, objective: accuracy, feasible: memory <= 10,
                               metrics: ["accuracy": [accuracy - 0.1, accuracy], "latency_ms": [latency, latency + 2], "memory_gb": [memory]])
            }
        }
        let store = try campaign.commit()
        try Self.expectSameDigest(store)
        let report = try CampaignReport.buildForDigest(store: store, now: Self.now)
        #expect(report.pareto && report.best.count >= 2 && report.paretoCandidates > report.best.count)
        #expect(report.best.allSatisfy { $0.objectives?.count == 2 && $0.feasible != false })
    }

    /// intern-mcp keeps a ``DigestMemo`` per store across digests: as trials end between two
    /// digests (the importance's inputs change) its digest is still the one made without it.
    @Test func aMemoKeptAcrossDigests_followsTrialsThatEnd() throws {
        var campaign = try Campaign(yaml: SyntheticCampaign.spec)
        defer { campaign.dir.remove() }
        func parameters(_ id: Int) -> Parameters {
            ["lr": .double(0.001 * Double(id)), "layers": .int(id % 5 + 1), "optimizer": .string(["sgd", "adam"][id % 2]), "dropout": .double(0.01 * Double(id))]
        }
        for id in 1...30 { campaign.trial(id, parameters(id), .completed, objective: 1 - 0.02 * Double(id % 9), metrics: ["eval_accuracy": [0.9]]) }
        let store = try campaign.commit()
        let memo = DigestMemo()
        let first = try CampaignReport.buildForDigest(store: store, now: Self.now, memo: memo)
        #expect(try first.json() == CampaignReport.buildForDigest(store: store, now: Self.now).json())
        #expect(!first.importance.isEmpty)
        // More trials end, with objectives that now follow the optimizer.
        for id in 31...60 { campaign.trial(id, parameters(id), .completed, objective: id % 2 == 0 ? 0.1 : 0.9, metrics: ["eval_accuracy": [0.9]]) }
        let later = try campaign.commit()
        let next = try CampaignReport.buildForDigest(store: later, now: Self.now, memo: memo)
        #expect(try next.json() == CampaignReport.buildForDigest(store: later, now: Self.now).json())
        #expect(next.importance != first.importance)
    }

    @Test func aCampaignWithNothingYet_sameDigest() throws {
        var campaign = try Campaign(yaml: Self.pareto.replacingOccurrences(of: "name: front", with: "name: empty"))
        defer { campaign.dir.remove() }
        try Self.expectSameDigest(try campaign.commit())
        var single = try Campaign(yaml: SyntheticCampaign.spec)
        defer { single.dir.remove() }
        single.trial(1, ["lr": .double(0.01), "layers": .int(2), "optimizer": .string("adam"), "dropout": .double(0.1)], .running)
        try Self.expectSameDigest(try single.commit())
    }

    /// A store whose schema lacks what the selective queries name (as an older intern's, opened
    /// read-only before its migration): the digest's report is built in full instead, the same.
    @Test func aStoreTheQueriesCannotRead_fallsBackToTheFullBuild() throws {
        let dir = try TemporaryDirectory(prefix: "intern-digest")
        defer { dir.remove() }
        try SyntheticCampaign.create(directory: dir.file("synth"), trials: 120, failures: 12, logBytes: 0)
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [dir.file("synth/campaign.db"), "ALTER TABLE trials DROP COLUMN feasible"]
        try sqlite.run()
        sqlite.waitUntilExit()
        #expect(sqlite.terminationStatus == 0)
        let store = try CampaignStore(directory: dir.file("synth"), create: false, readOnly: true)
        #expect(throws: (any Error).self) { try CampaignReport.buildForDigest(store: store, now: Self.now) }
        let digest = try CampaignReport.build(store: store, now: Self.now, extent: .digest)
        #expect(try Self.digestPart(of: digest).json() == Self.digestPart(of: try CampaignReport.build(store: store, now: Self.now)).json())
        #expect(digest.best.count == 1)
    }
}
