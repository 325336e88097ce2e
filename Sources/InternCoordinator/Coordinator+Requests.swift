import Foundation
import InternAuth
import InternCore
import InternProtocol
import InternStore
import Logging

/// Requests: each decoded, turned into one machine event (two around the store, for a report), committed and answered.
extension Coordinator {
    // MARK: - Requests

    /// Decodes and answers one request. Malformed input gets a `Rejected` reply and is logged;
    /// it never stops the coordinator. `arrivedAt`: when NNG handed it over (monotonic
    /// nanoseconds; 0, unknown), for the dispatch latency.
    func handle(_ bytes: [UInt8], arrivedAt: UInt64 = 0) async -> [UInt8]? {
        let message: Message
        do {
            message = try codec.decode(bytes)
        } catch {
            logMalformed(reason: "\(error)", kind: "\(error.rejectCode)", bytes: bytes.count)
            // Without a readable request id there is nobody to answer: drop it (the context
            // simply receives the next request).
            guard let requestId = codec.salvageRequestId(bytes) else { return nil }
            return codec.encode(.rejected(Rejected(requestId: requestId, code: error.rejectCode, reason: "\(error)")))
        }
        let reply: Message
        switch message {
        case .hello(let hello): reply = handleHello(hello)
        case .workRequest(let request): reply = await handleWorkRequest(request, arrivedAt: arrivedAt)
        case .heartbeat(let heartbeat): reply = handleHeartbeat(heartbeat)
        case .report(let report): reply = handleReport(report)
        case .adminRequest(let request): reply = await handleAdmin(request)
        case .welcome, .rejected, .assignment, .noWork, .heartbeatReply, .reportAck, .adminReply:
            logMalformed(reason: "\(message.kind) is not a request", kind: "\(message.kind)", bytes: bytes.count)
            reply = .rejected(Rejected(requestId: message.requestId, code: .malformed, reason: "\(message.kind) is not a request"))
        }
        return codec.encode(reply)
    }

    /// Logs a message that could not be taken (from an authenticated or local peer), at most once
    /// per 10 s per kind of fault, with the count not logged since.
    nonisolated func logMalformed(reason: String, kind: String, bytes: Int) {
        guard let suppressed = rejections.withLock({ $0.shouldLog("malformed " + kind, now: Self.monotonicMillis()) }) else { return }
        var metadata: Logger.Metadata = ["reason": "\(reason)", "bytes": "\(bytes)"]
        if suppressed > 0 { metadata["rejected.since.last.log"] = "\(suppressed)" }
        logger.warning("rejected a malformed message", metadata: metadata)
    }

    func handleAdmin(_ request: AdminRequest) async -> Message {
        guard let admin = options.admin else {
            return .rejected(Rejected(requestId: request.requestId, code: .internal, reason: "this coordinator does not run admin commands"))
        }
        logger.info("admin command", metadata: ["arguments": "\(request.arguments.prefix(8))"])
        let output = await admin(request.arguments)
        return .adminReply(AdminReply(requestId: request.requestId, exitCode: Int64(output.exitCode), stdout: output.stdout, stderr: output.stderr))
    }

    func handleHello(_ hello: Hello) -> Message {
        let offered = WorkerResources(labels: hello.labels)
        let effects = machine.hello(
            worker: WorkerID(hello.workerId), incarnation: hello.incarnation, hostname: hello.hostname,
            pid: Int(clamping: hello.pid), slots: Int(clamping: hello.slots), gpus: hello.gpus,
            cpus: offered.cpus, memoryBytes: offered.memoryBytes, held: hello.held.sorted(), now: Self.now())
        guard carryOut(effects) else {
            return .rejected(Rejected(requestId: hello.requestId, code: .internal, reason: "the coordinator cannot write its store"))
        }
        let intervals = pacedIntervals(now: Self.now())
        return .welcome(Welcome(
            requestId: hello.requestId, campaign: machine.spec.name, coordinatorIncarnation: incarnation,
            heartbeatIntervalMs: intervals.heartbeat,
            leaseTimeoutMs: UInt64(options.config.leaseTimeoutMillis), maxMessageBytes: UInt64(options.maxMessageBytes),
            logFlushIntervalMs: intervals.report, logFlushBytes: options.logFlushBytes,
            compressionLevel: options.compressionLevel, metricPrefix: machine.spec.metricPrefix))
    }

    func handleWorkRequest(_ request: WorkRequest, arrivedAt: UInt64 = 0) async -> Message {
        let token = RequestToken(nextToken)
        nextToken += 1
        var longPoll = false
        let reply: WorkReply = await withCheckedContinuation { continuation in
            parked[token] = continuation
            let effects = machine.requestWork(
                token: token, worker: WorkerID(request.workerId), incarnation: request.incarnation,
                requestID: request.requestId, behind: request.behind, now: Self.now())
            carryOut(effects)
            // Not answered at once: it waits for a trial, holding its receive context.
            if parked[token] != nil {
                longPoll = true
                longPollBegan()
            }
        }
        if longPoll { longPollEnded() }
        switch reply {
        case .assignment(let plan):
            if !longPoll, arrivedAt > 0 { measurements.dispatched(nanoseconds: Self.monotonicNanos() &- arrivedAt) }
            return .assignment(Assignment(
                requestId: request.requestId, campaign: machine.spec.name, trialId: UInt64(plan.trial),
                attemptId: plan.attempt, attemptNumber: UInt64(plan.number), argv: plan.argv, shell: plan.shell,
                environment: StringPairs(plan.environment), workdir: plan.workdir, timeoutMs: plan.timeoutMillis,
                parameters: StringPairs(plan.parameters), gpus: plan.gpus, resultFiles: StringPairs(plan.resultFiles)))
        case .noWork(let reason):
            let wire: NoWorkReason = switch reason {
            case .idle: .idle
            case .draining: .draining
            case .finished: .finished
            }
            return .noWork(NoWork(requestId: request.requestId, reason: wire, retryAfterMs: 0))
        case .refused(let refusal):
            return .rejected(Self.rejected(refusal, requestId: request.requestId))
        }
    }

    func handleHeartbeat(_ heartbeat: Heartbeat) -> Message {
        let now = Self.now()
        let effects = machine.heartbeat(
            worker: WorkerID(heartbeat.workerId), incarnation: heartbeat.incarnation, running: heartbeat.running,
            leaving: heartbeat.leaving, now: now)
        guard let answer = effects.heartbeatAnswer else {
            return .rejected(Self.rejected(effects.refusal ?? .unknownWorker, requestId: heartbeat.requestId))
        }
        guard carryOut(effects) else {
            return .rejected(Rejected(requestId: heartbeat.requestId, code: .internal, reason: "the coordinator cannot write its store"))
        }
        // A leaving worker needs to hear nothing more: its goodbye once the campaign is over, or
        // a drained or stopped worker's last words before it (the linger does not wait for it).
        if heartbeat.leaving { saidGoodbye.insert(WorkerID(heartbeat.workerId)) }
        let intervals = pacedIntervals(now: now)
        return .heartbeatReply(HeartbeatReply(
            requestId: heartbeat.requestId, cancel: answer.cancel, drain: answer.drain, shutdown: answer.shutdown,
            logFlushIntervalMs: intervals.report, heartbeatIntervalMs: intervals.heartbeat))
    }

    /// A report is two machine events around the store, in one transaction: `admitReport`
    /// decides what may be stored (and takes back attempts lost while the worker was cut off),
    /// the shell appends the frames, and `reportStored` acts on what was stored for the first
    /// time; the frames' rows and both events' changes commit together (one commit per report,
    /// where there were up to three).
    func handleReport(_ report: Report) -> Message {
        let began = Self.monotonicNanos()
        let worker = WorkerID(report.workerId)
        let now = Self.now()
        // Each metric batch is read through once, before anything else: checked (a damaged one
        // refuses the whole report, which then changes nothing), summarised for its rows, and the
        // samples of the metrics the machine watches picked out. The bytes are stored as they came.
        var batches: [IncomingMetricBatch] = []
        var watchedSamples: [(attempt: AttemptID, seq: UInt64, name: String, step: Int64, value: Double)] = []
        let watched = machine.watchedMetrics
        for batch in report.metrics {
            var points: [PackedMetricPoints.Point] = []
            guard let scan = PackedMetricPoints.scan(
                batch.data, baseTime: batch.baseTime, watching: { watched.contains($0) }, visit: { points.append($0) })
            else {
                return .rejected(Rejected(
                    requestId: report.requestId, code: .malformed,
                    reason: "the metric batch of attempt \(batch.attemptId) from seq \(batch.firstSeq) does not read as one"))
            }
            for point in points {
                watchedSamples.append((batch.attemptId, batch.firstSeq &+ UInt64(point.offset), scan.names[point.nameIndex], point.step, point.value))
            }
            batches.append(IncomingMetricBatch(attempt: batch.attemptId, firstSeq: batch.firstSeq, baseTime: batch.baseTime, data: batch.data, scan: scan))
        }
        var dataAbout = Set(report.frames.map(\.attemptId))
        dataAbout.formUnion(report.metrics.map(\.attemptId))
        dataAbout.formUnion(report.provenance.map(\.attemptId))
        let admitted = machine.admitReport(
            worker: worker, incarnation: report.incarnation, dataAbout: dataAbout, endsOf: report.ends.map(\.attemptId), now: now)
        guard let admission = admitted.admission else {
            return .rejected(Self.rejected(admitted.refusal ?? .unknownWorker, requestId: report.requestId))
        }
        let storeFull = Rejected(requestId: report.requestId, code: .internal, reason: "the coordinator cannot write its store")
        guard storeFailure == nil else { return .rejected(storeFull) }
        let accepted = admission.accepted
        var frames: [IncomingFrame] = []
        frames.reserveCapacity(report.frames.count)
        for frame in report.frames where accepted.contains(frame.attemptId) {
            frames.append(IncomingFrame(
                attempt: frame.attemptId, stream: frame.stream == .stdout ? .stdout : .stderr, seq: frame.seq,
                rawLength: frame.rawLength, data: frame.data))
        }
        batches.removeAll { !accepted.contains($0.attempt) }
        // What attempts ran with: stored as sent, within limits (a blob must be what its digest says).
        let provenance = report.provenance.filter { accepted.contains($0.attemptId) }
        var stored = Effects()
        var inTransaction = false
        let cursors: IngestCursors
        do {
            cursors = try ingestor.ingest(frames: frames, metricBatches: batches, trialOf: { machine.attempts[$0]?.trial }, now: now) { transaction, cursors in
                inTransaction = true
                try transaction.apply(admitted.changes)
                stored = try self.reportStored(
                    report, watchedSamples: watchedSamples, provenance: provenance, cursors: cursors, transaction: transaction, now: now)
                try transaction.apply(stored.changes)
            }
        } catch {
            if inTransaction {
                storeFailed(error)
                return .rejected(storeFull)
            }
            // The logs could not be written (a full disk): the worker resends them later; what
            // the admission changed stands.
            guard carryOut(admitted) else { return .rejected(storeFull) }
            logger.error("cannot store a report", metadata: ["worker.id": "\(worker)", "error": "\(error)"])
            return .rejected(Rejected(requestId: report.requestId, code: .internal, reason: "the coordinator cannot store logs: \(error)"))
        }
        // From its handling (decoded) to its commit: admitted, the logs appended, the transaction committed.
        measurements.reportCommitted(nanoseconds: Self.monotonicNanos() - began)
        settle(admitted)
        settle(stored, reportedEnds: report.ends.map(\.attemptId))
        return .reportAck(ReportAck(
            requestId: report.requestId,
            stored: cursors.streams.map { StreamCursor(attemptId: $0.attempt, stream: $0.stream == .stdout ? .stdout : .stderr, seq: $0.seq) },
            metricsStored: cursors.metrics.map { MetricCursor(attemptId: $0.attempt, seq: $0.seq) },
            endsStored: report.ends.map(\.attemptId), unknownAttempts: admission.unknown, provenanceStored: provenance.map(\.attemptId)))
    }

    /// The second event of a report, inside its transaction: what its stored frames, samples,
    /// provenance and ends change (losses noted, trials settled).
    private func reportStored(
        _ report: Report, watchedSamples: [(attempt: AttemptID, seq: UInt64, name: String, step: Int64, value: Double)],
        provenance: [AttemptProvenance], cursors: IngestCursors,
        transaction: StoreTransaction, now: Timestamp
    ) throws -> Effects {
        let worker = WorkerID(report.workerId)
        var effects = Effects()
        for loss in cursors.losses {
            logger.warning("a worker's spool was full: job output lost", metadata: [
                "worker.id": "\(worker)", "attempt": "\(loss.attempt)", "stream": "\(loss.stream)", "bytes": "\(loss.rawBytes)"])
            effects.changes.append(.event(CampaignEvent(
                kind: "log.lost",
                message: "\(loss.rawBytes) bytes of attempt \(loss.attempt)'s \(loss.stream) were lost: worker \(worker)'s spool was full while the coordinator was unreachable",
                trial: machine.attempts[loss.attempt]?.trial, attempt: loss.attempt, worker: worker, at: now)))
        }
        for item in provenance {
            effects.changes.append(.provenance(Self.provenanceRecord(item, now: now)))
        }
        // Only samples this report stored count: a resent sample, or an old report answered late, is not seen again.
        var samples: [CoordinatorMachine.StoredSample] = []
        samples.reserveCapacity(watchedSamples.count)
        var run: (attempt: AttemptID, new: ClosedRange<UInt64>?)?
        for sample in watchedSamples {
            if run?.attempt != sample.attempt { run = (sample.attempt, cursors.newMetrics[sample.attempt]) }
            guard run?.new?.contains(sample.seq) == true else { continue }
            samples.append(CoordinatorMachine.StoredSample(attempt: sample.attempt, name: sample.name, step: sample.step, value: sample.value))
        }
        let ends = try report.ends.map { end in
            var core = Self.result(of: end)
            // The attempt's metrics as stored (this report's included): which names its job
            // prints, and whether its objective or loss ended NaN (none to read if it sent none).
            if end.finalMetricSeq > 0, machine.accepts(attempt: end.attemptId, from: worker, incarnation: report.incarnation) {
                core.metrics = try transaction.lastMetricValues(attempt: end.attemptId, always: machine.watchedMetrics)
            }
            return core
        }
        effects.append(machine.reportStored(samples: samples, ends: ends, worker: worker, incarnation: report.incarnation, now: now))
        return effects
    }
}
