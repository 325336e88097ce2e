import Foundation
import InternCore
import InternSpec
import InternStore

/// Made-up campaigns with many different failures, written straight into stores under a root:
/// for the lab's tests and its benchmark (`intern synth-lab`, Benchmarks/bench_lab.py). Each
/// campaign draws its failures' signatures from one pool shared by all campaigns (so the same
/// error recurs across campaigns, as real ones do), each attempt's excerpt with its own numbers.
public enum SyntheticLab {
    static let words = [
        "tokenizer", "attention", "gradient", "optimizer", "scheduler", "checkpoint", "dataloader", "collate", "embedding", "sharding",
        "allreduce", "broadcast", "kernel", "cublas", "cudnn", "flash", "rotary", "vocab", "shard", "bucket", "fp16", "bf16", "overflow",
        "nan", "inf", "loss", "logits", "mask", "padding", "sequence", "batch", "worker", "rank", "world", "barrier", "timeout", "socket",
        "filesystem", "manifest", "parquet", "arrow", "safetensors", "config", "adapter", "lora", "quantize", "triton", "compile", "graph",
        "dynamo", "inductor", "autocast", "scaler", "deepspeed", "zero", "offload", "pinned", "memory", "allocator", "fragment",
    ]
    static let families = ["llama", "mistral", "qwen", "gemma", "phi"]

    /// The pool's `index`th error line, with `numbers` filled in where it has numbers.
    static func errorLine(_ index: Int, numbers: (Int, Int)) -> String {
        let w = { (k: Int) in words[(index / (k + 1) + k * 7) % words.count] }
        let tag = "\(w(0))_\(index)"
        switch index % 5 {
        case 0: return "ModuleNotFoundError: No module named '\(tag)'"
        case 1: return "RuntimeError: \(w(1)) \(w(2)) failed in \(tag): code \(numbers.0)"
        case 2: return "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate \(numbers.0).00 GiB (GPU \(numbers.1 % 8)) in \(tag)"
        case 3: return "ValueError: \(w(1)) must match \(w(2)), got \(numbers.0) for \(tag)"
        default: return "NCCL error in: \(w(1)).cpp:\(numbers.0), unhandled \(w(2)) error on rank \(numbers.1 % 64), \(tag)"
        }
    }

    /// Writes `campaigns` finished campaigns (`synth-1`, …) under `root`, each with `failures`
    /// failed attempts over `signatures` signatures drawn from a pool of `pool`, and `completed`
    /// completed trials; the campaigns are a day apart.
    public static func create(
        root: String, campaigns: Int, failures: Int, signatures: Int, pool: Int, completed: Int = 20, seed: UInt64 = 1
    ) throws {
        var random = SplitMix64(seed: seed)
        // Each pool entry's signature, computed once (every excerpt of it normalises the same).
        var signatureOf: [Int: FailureSignature] = [:]
        func signature(_ index: Int) -> FailureSignature {
            if let known = signatureOf[index] { return known }
            let made = FailureSignature.make(fromLogTail: errorLine(index, numbers: (1, 1)))!
            signatureOf[index] = made
            return made
        }
        let day: Int64 = 86_400_000
        for number in 1...max(1, campaigns) {
            let name = "synth-\(number)"
            let directory = (root as NSString).appendingPathComponent(name)
            let family = families[number % families.count]
            let yaml = """
                name: \(name)
                command: [python3, train.py, --lr, "{lr}", --model, "{model}"]
                space:
                  lr: {type: loguniform, low: 0.00001, high: 0.1}
                  model: [\(family)-7b, \(family)-13b]
                trials: \(failures + completed)
                objective: {metric: eval_loss, direction: minimize}
                """
            let store = try CampaignStore(directory: directory)
            let spec = try CampaignSpecParser.parse(yaml: yaml, file: "\(directory)/\(name).yaml", baseDirectory: directory)
            let start = 1_780_000_000_000 + Int64(number) * day
            try store.register(spec: spec, specPath: "\(directory)/\(name).yaml", specYAML: yaml, now: start)
            let mine = (0..<max(1, signatures)).map { _ in Int(random.next() % UInt64(max(1, pool))) }
            var changes: [StoreChange] = [.worker(WorkerRecord(
                id: "w1", incarnation: 1, hostname: "gpu-node-\(number % 7)", pid: 100, slots: 8, gpus: ["0"], joinedAt: start, lastSeen: start))]
            for id in 1...(failures + completed) {
                let lr = pow(10, -5 + 4 * random.unit())
                let model = "\(family)-\(random.next() % 2 == 0 ? "7b" : "13b")"
                let ended = start + Int64(id) * 1_000
                var trial = TrialRecord(id: id, parameters: ["lr": .double(lr), "model": .string(model)], attemptCount: 1, createdAt: ended - 900)
                trial.endedAt = ended
                var attempt = AttemptRecord(id: AttemptID(id), trial: id, number: 1, worker: "w1", incarnation: 1, argv: ["python3", "train.py"], assignedAt: ended - 900)
                attempt.startedAt = ended - 800
                attempt.endedAt = ended
                attempt.wallMillis = 800
                if id <= failures {
                    let index = mine[Int(random.next() % UInt64(mine.count))]
                    let made = signature(index)
                    attempt.status = .failed
                    attempt.exitCode = 1
                    attempt.failureClass = index % 5 == 2 ? .oom : index % 5 == 4 ? .infra : .user
                    attempt.failureSignature = made.digest
                    attempt.signatureText = made.text
                    attempt.failureReason = "exit 1"
                    attempt.failureExcerpt = errorLine(index, numbers: (Int(random.next() % 4096), Int(random.next() % 4096)))
                    trial.status = .failed
                } else {
                    attempt.status = .succeeded
                    let loss = 0.2 + pow(log10(lr) + 3.5, 2) * 0.1 + 0.02 * random.unit()
                    attempt.objective = loss
                    trial.status = .completed
                    trial.objective = loss
                }
                changes.append(.trial(trial))
                changes.append(.attempt(attempt))
                if changes.count >= 2_000 {
                    try store.apply(changes)
                    changes.removeAll()
                }
            }
            changes.append(.campaignFinished(at: start + Int64(failures + completed + 1) * 1_000))
            try store.apply(changes)
        }
    }
}
