import Foundation
import InternCore
import InternSpec
import InternStore
import Zstd

/// A made-up but realistic campaign written straight into a store, for the report and digest
/// tests and benchmarks (`intern synth-campaign`): a seeded sweep whose objective depends mostly
/// on the learning rate, with per-epoch metrics, Hugging Face-style logs stored as zstd frames,
/// infeasible, pruned and failed trials, and `failures` attempts that all fail the same way.
public enum SyntheticCampaign {
    public static let spec = """
        name: synth
        command: [python3, train.py, --lr, "{lr}", --layers, "{layers}", --optimizer, "{optimizer}", --dropout, "{dropout}"]
        space:
          lr: {type: loguniform, low: 0.00001, high: 0.1}
          layers: {type: int, low: 1, high: 8}
          optimizer: {type: choice, values: [sgd, adam, adamw]}
          dropout: {type: uniform, low: 0.0, high: 0.5}
        trials: 10000
        objective: {metric: eval_loss, direction: minimize}
        constraints: ["eval_accuracy >= 0.6"]
        pruning: {rule: asha, metric: eval_loss, min_step: 1}
        gpus: 1
        """

    /// Writes the campaign into `directory` (created): `trials` trials, of which `failures` fail
    /// with one identical out-of-memory error, and about `logBytes` of raw log in all.
    public static func create(directory: String, trials: Int, failures: Int, logBytes: Int, seed: UInt64 = 1) throws {
        let store = try CampaignStore(directory: directory)
        let parsed = try CampaignSpecParser.parse(yaml: spec, file: "\(directory)/synth.yaml", baseDirectory: directory)
        let start: Int64 = 1_780_000_000_000
        _ = try store.register(spec: parsed, specPath: "\(directory)/synth.yaml", specYAML: spec, now: start)
        var random = SplitMix64(seed: seed)
        let ingestor = ReportIngestor(store: store)
        let perAttempt = max(0, logBytes / max(1, trials))
        let failing = Set((0..<trials).filter { $0 % max(1, trials / max(1, failures)) == 0 }.prefix(failures).map { $0 + 1 })
        var changes: [StoreChange] = [.worker(WorkerRecord(
            id: "w1", incarnation: 1, hostname: "gpu-node-1", pid: 100, slots: 8, gpus: ["0", "1", "2", "3", "4", "5", "6", "7"],
            joinedAt: start, lastSeen: start))]
        var frames: [IncomingFrame] = []
        var metrics: [IncomingMetric] = []
        var trialOf: [AttemptID: TrialID] = [:]
        func flush() throws {
            try store.apply(changes)
            changes.removeAll()
            _ = try ingestor.ingest(frames: frames, metrics: metrics, trialOf: { trialOf[$0] }, now: start)
            for attempt in Set(frames.map(\.attempt)) { ingestor.closeStreams(of: attempt) }
            frames.removeAll()
            metrics.removeAll()
        }
        for id in 1...max(1, trials) {
            let lr = pow(10, -5 + 4 * random.unit())
            let layers = 1 + Int(random.next() % 8)
            let optimizer = ["sgd", "adam", "adamw"][Int(random.next() % 3)]
            let dropout = 0.5 * random.unit()
            let parameters: Parameters = ["lr": .double(lr), "layers": .int(layers), "optimizer": .string(optimizer), "dropout": .double(dropout)]
            let distance = log10(lr) + 3
            let loss = 0.2 + distance * distance * 0.15 + (optimizer == "sgd" ? 0.1 : 0) + 0.05 * random.unit()
            let accuracy = max(0, min(1, 1.05 - loss))
            let ended = start + Int64(id) * 60_000
            var trial = TrialRecord(id: id, parameters: parameters, createdAt: ended - 50_000)
            var attempt = AttemptRecord(
                id: AttemptID(id), trial: id, number: 1, worker: "w1", incarnation: 1, status: .succeeded,
                argv: ["python3", "train.py", "--lr", String(lr)], assignedAt: ended - 50_000)
            attempt.startedAt = ended - 49_000
            attempt.endedAt = ended
            attempt.wallMillis = 49_000
            attempt.userCPUMillis = 40_000
            attempt.systemCPUMillis = 2_000
            attempt.gpus = [String(id % 8)]
            trialOf[attempt.id] = id
            let epochs = failing.contains(id) ? 2 : 10
            var points: [(Int64, String, Double)] = []
            for epoch in 1...epochs {
                let value = loss + 1.5 / Double(epoch)
                points.append((Int64(epoch), "eval_loss", value))
                points.append((Int64(epoch), "eval_accuracy", max(0, min(1, 1.05 - value))))
            }
            for (index, point) in points.enumerated() {
                metrics.append(IncomingMetric(attempt: attempt.id, seq: UInt64(index + 1), name: point.1, step: point.0, value: point.2, time: ended))
            }
            if failing.contains(id) {
                attempt.status = .failed
                attempt.exitCode = 1
                attempt.failureClass = .oom
                attempt.failureSignature = "synthetic-oom"
                attempt.failureReason = "CUDA out of memory in the log"
                attempt.signatureText = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate <N> GiB"
                attempt.failureExcerpt = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.1 GiB total capacity)"
                trial.status = .failed
                trial.note = "oom: CUDA out of memory in the log; oom failures are not retried (retry.oom is 0)"
            } else if id % 20 == 7 {
                attempt.status = .cancelled
                trial.status = .pruned
                trial.note = "pruned: ASHA rung 0"
            } else {
                trial.status = .completed
                trial.objective = points[points.count - 2].2
                trial.feasible = accuracy >= 0.6
                if trial.feasible == false { trial.note = "infeasible: eval_accuracy = \(accuracy) (needs eval_accuracy >= 0.6)" }
            }
            trial.attemptCount = 1
            trial.endedAt = ended
            changes.append(.trial(trial))
            changes.append(.attempt(attempt))
            if perAttempt > 0 {
                frames += try logFrames(attempt: attempt.id, bytes: perAttempt, loss: loss, failing: failing.contains(id))
            }
            if trial.status == .pruned {
                changes.append(.event(CampaignEvent(kind: "trial.pruned", message: "trial \(id) pruned: ASHA rung 0", trial: id, at: ended)))
            }
            if id % 500 == 0 || frames.count > 2_000 { try flush() }
        }
        changes.append(.campaignFinished(at: start + Int64(trials + 1) * 60_000))
        try flush()
    }

    /// About `bytes` of Trainer-style output for one attempt, in 64 KiB frames.
    static func logFrames(attempt: AttemptID, bytes: Int, loss: Double, failing: Bool) throws -> [IncomingFrame] {
        var text = ""
        text.reserveCapacity(bytes + 512)
        var step = 0
        var noise = UInt64(attempt) &* 0x9E37_79B9_7F4A_7C15
        while text.utf8.count < bytes {
            step += 1
            noise = noise &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let lossMilli = Int(loss * 10_000) + 20_000 / step + Int(noise >> 60)
            text += "{'loss': \(lossMilli / 10_000).\(lossMilli % 10_000), 'grad_norm': 1.\(100 + Int(noise >> 54) % 900), 'learning_rate': 2e-05, 'epoch': \(step / 100).\(step % 100)}\n"
            if step % 50 == 0 { text += "\r 45%|████▌     | \(step)/1000 [00:12<00:15, 41.2it/s]\n" }
        }
        if failing {
            text += "Traceback (most recent call last):\n  File \"train.py\", line 88, in <module>\n    loss.backward()\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.1 GiB total capacity)\n"
        }
        let raw = Array(text.utf8)
        let compressor = try ZstdCompressor(level: 1)
        var frames: [IncomingFrame] = []
        var offset = 0
        while offset < raw.count {
            let piece = raw[offset..<min(raw.count, offset + 65_536)]
            var out: [UInt8] = []
            try compressor.compress(piece, into: &out)
            // The last frame ends the stream, as a finished attempt's does.
            if offset + piece.count == raw.count { try compressor.finish(into: &out) } else { try compressor.flush(into: &out) }
            frames.append(IncomingFrame(attempt: attempt, stream: .stdout, seq: UInt64(frames.count + 1), rawLength: UInt64(piece.count), data: out))
            offset += piece.count
        }
        return frames
    }
}
