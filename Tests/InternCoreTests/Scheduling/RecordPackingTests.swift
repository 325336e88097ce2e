import InternCore
import Testing

/// Ended trials and attempts are kept packed in the machine's tables: every field comes back as it
/// was, and a packed record is a small fraction of the record.
@Suite struct RecordPackingTests {
    /// A trial with every field set to something other than its default.
    static let fullTrial: TrialRecord = {
        var trial = TrialRecord(
            id: 123_456, parameters: ["lr": .double(3e-4), "layers": .int(-12), "optimizer": .string("adamw"), "warmup": .bool(true)],
            status: .completed, objective: -0.125, attemptCount: 3, retriesUsed: 2, lostCount: 1, createdAt: 1_765_000_000_000,
            endedAt: 1_765_000_123_456)
        trial.retryCounts = RetryCounts([.infra: 1, .oom: 2, .preempted: 4])
        trial.notBefore = 1_765_000_050_000
        trial.note = "attempt 2 failed (infra: NCCL timeout); retried after 30 s — ünïcödé"
        trial.feasible = false
        trial.stage = 2
        trial.parent = 77
        trial.inputs = ["train.checkpoint": "/ckpt/77", "train.lr": "0.0003"]
        trial.parents = [77, 78, 1_000_000]
        trial.outputs = ["checkpoint": "/ckpt/123456"]
        trial.repeatOf = 99
        trial.repeatNumber = 2
        trial.seed = 1_234_567
        return trial
    }()

    /// An attempt with every field set to something other than its default.
    static let fullAttempt: AttemptRecord = {
        var attempt = AttemptRecord(
            id: 9_876_543_210, trial: 123_456, number: 3, worker: "gpu-node-17/slot-2", incarnation: .max - 5, status: .failed,
            argv: ["python", "train.py", "--lr", "0.0003"], assignedAt: 1_765_000_000_000)
        attempt.startedAt = 1_765_000_000_010
        attempt.endedAt = 1_765_000_100_000
        attempt.exitCode = -1
        attempt.signal = 9
        attempt.detail = "killed by signal 9"
        attempt.wallMillis = 99_990
        attempt.userCPUMillis = 1 << 40
        attempt.systemCPUMillis = 7
        attempt.peakRSSBytes = .max
        attempt.objective = .infinity
        attempt.requestID = 42
        attempt.gpus = ["0", "3"]
        attempt.constraintValues = ["latency_ms": 12.5, "params_m": -0.0]
        attempt.outputs = ["checkpoint": "/ckpt/x"]
        attempt.environment = ["INTERN_TRIAL": "123456", "CUDA_VISIBLE_DEVICES": "0,3"]
        attempt.failureClass = .oom
        attempt.failureSignature = "3f2a"
        attempt.failureReason = "CUDA out of memory"
        attempt.signatureText = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate <n> GiB"
        attempt.failureExcerpt = "Traceback (most recent call last):\n  ..."
        return attempt
    }()

    /// Every stored property of the full records is set: a field added later and left out of this
    /// test (and so, perhaps, of the packing) fails here.
    @Test func theFullRecordsSetEveryField() {
        for (name, record) in [("trial", Self.fullTrial as Any), ("attempt", Self.fullAttempt)] {
            for child in Mirror(reflecting: record).children {
                let value = child.value
                let unset = "\(value)" == "nil" || "\(value)" == "[]" || "\(value)" == "[:]" || "\(value)" == "0"
                    || "\(value)" == "RetryCounts(byClass: [:])"
                #expect(!unset, "\(name).\(child.label ?? "?") is not set")
            }
        }
    }

    @Test func everyFieldComesBack() {
        #expect(Self.roundTrip(Self.fullTrial) == Self.fullTrial)
        #expect(Self.roundTrip(Self.fullAttempt) == Self.fullAttempt)
        let bare = TrialRecord(id: 1, parameters: [:], createdAt: 0)
        #expect(Self.roundTrip(bare) == bare)
        let nan = { var trial = bare; trial.objective = .nan; return trial }()
        #expect(Self.roundTrip(nan).objective?.isNaN == true)
    }

    /// A settled record is kept packed and comes back whole; its summary is kept beside it.
    @Test func aTableKeepsEndedRecordsPacked_andReadsThemBackWhole() {
        var trials = RecordTable<TrialID, TrialRecord>()
        var running = Self.fullTrial
        running.status = .running
        trials[running.id] = running
        #expect(trials.liveCount == 1 && trials.packedBytes == 0)
        trials[running.id] = Self.fullTrial
        #expect(trials.liveCount == 0 && trials.packedBytes > 0)
        #expect(trials[running.id] == Self.fullTrial)
        var summaries: [TrialSummary] = []
        trials.forEachSummary { _, summary in summaries.append(summary) }
        #expect(summaries == [Self.fullTrial.summary])
        #expect(summaries.first.map { ($0.status, $0.stage, $0.objective, $0.feasible, $0.isRepeat) } ?? (.pending, 0, nil, nil, false)
            == (.completed, 2, -0.125, false, true))
    }

    /// 10,000 ended trials of a campaign with four parameters, each with its succeeded attempt as
    /// the machine keeps it (no command line or environment: the store holds those), take under
    /// 150 bytes per trial packed and under 200 in all (places, summaries, words), where the
    /// records took about 1 KB.
    @Test func tenThousandEndedTrials_takeUnder200BytesEach() {
        var trials = RecordTable<TrialID, TrialRecord>()
        var attempts = RecordTable<AttemptID, AttemptRecord>()
        let start: Timestamp = 1_765_000_000_000
        for id in 1...10_000 {
            var trial = TrialRecord(
                id: id, parameters: ["lr": .double(Double(id) * 1.37e-7), "batch_size": .int(16 << (id % 3)), "optimizer": .string("adamw"),
                                     "warmup_ratio": .double(0.05)],
                status: .completed, objective: 0.5 + Double(id) * 1e-6, attemptCount: 1, createdAt: start + Timestamp(id) * 250,
                endedAt: start + Timestamp(id) * 250 + 30_000)
            trial.stage = 0
            trials[id] = trial
            var attempt = AttemptRecord(
                id: AttemptID(id), trial: id, number: 1, worker: WorkerID("node-\(id % 64)"), incarnation: 0x9E37_79B9_7F4A_7C15 &* UInt64(id % 64 + 1),
                status: .succeeded, argv: [], assignedAt: start + Timestamp(id) * 250)
            attempt.startedAt = attempt.assignedAt + 3
            attempt.endedAt = attempt.assignedAt + 30_000
            attempt.exitCode = 0
            attempt.wallMillis = 29_997
            attempt.userCPUMillis = 28_000
            attempt.systemCPUMillis = 900
            attempt.peakRSSBytes = 2_147_483_648
            attempt.objective = trial.objective
            attempt.requestID = UInt64(id) * 7
            attempts[AttemptID(id)] = attempt
        }
        #expect(trials.liveCount == 0 && attempts.liveCount == 0)
        let perTrial = Double(trials.packedBytes + attempts.packedBytes) / 10_000
        #expect(perTrial < 150, "\(perTrial) bytes per ended trial and its attempt")
        let heldPerTrial = Double(trials.bytesHeld + attempts.bytesHeld) / 10_000
        #expect(heldPerTrial < 200, "\(heldPerTrial) bytes held per ended trial and its attempt")
        #expect(trials[5_000]?.parameters["batch_size"] == .int(16 << (5_000 % 3)))
        #expect(attempts[5_000]?.worker == WorkerID("node-\(5_000 % 64)"))
    }

    static func roundTrip<Record: SettlingRecord>(_ record: Record) -> Record {
        var packer = RecordPacker()
        record.pack(into: &packer)
        var unpacker = RecordUnpacker(packer.bytes[...], words: packer.words)
        let back = Record(unpacking: &unpacker)
        #expect(unpacker.isAtEnd)
        return back
    }
}
