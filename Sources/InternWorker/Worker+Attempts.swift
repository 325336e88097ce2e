import Foundation
import InternCore
import InternJob
import InternProtocol
import Logging
import NNG
import Synchronization

/// The slots and their attempts: asking for work, running each attempt as a job, its end and its output file.
extension Worker {
    // MARK: - Slots

    /// `INTERN_PROVENANCE=off` in the worker's environment: no provenance is captured (a
    /// benchmark's baseline, or a site that must not record package lists).
    static let capturesProvenance = ProcessInfo.processInfo.environment["INTERN_PROVENANCE"] != "off"

    /// One slot: keeps one work request outstanding while the lifecycle asks for work, and runs
    /// what it is assigned. Ends (for good) once the worker asks for no more work.
    func slotLoop(_ slot: Int, context: Context, link: CoordinatorLink) async throws {
        defer {
            context.close()
            state.withLock { $0.lifecycle.slotStopped() }
            outbox.wake()
        }
        var requestID = nextRequestID()
        // The slot's next attempt, assigned ahead while the last one ran: it starts at once.
        var queued: Assignment?
        while true {
            try Task.checkCancellation()
            if let next = queued {
                queued = await runAttempt(next, queued: true, slot: slot, context: context, link: link, requestID: &requestID)
                continue
            }
            let stop = state.withLock { state -> Bool in
                guard state.lifecycle.asksForWork else { return true }
                state.waitingSlots[slot] = context
                return false
            }
            if stop { return }
            let request = WorkRequest(requestId: requestID, workerId: options.id.rawValue, incarnation: incarnation, slot: UInt64(slot))
            let reply: Message
            do {
                // Longer than the coordinator's long-poll, so its "ask again" normally comes first.
                defer { state.withLock { _ = $0.waitingSlots.removeValue(forKey: slot) } }
                reply = try await link.request(.workRequest(request), on: context, timeout: .seconds(60))
            } catch {
                // A dropped connection, or a reply that does not decode or authenticate (logged,
                // never acted upon). Or closed because the worker stopped asking (a drain, a leave, the
                // end of the campaign learned elsewhere).
                if !state.withLock({ $0.lifecycle.asksForWork }) { return }
                try retryable(error)
                // Same request id on retry: the coordinator answers a repeated request identically.
                logger.debug("work request failed, retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .milliseconds(200))
                continue
            }
            requestID = nextRequestID()
            switch reply {
            case .assignment(let assignment):
                queued = await runAttempt(assignment, queued: false, slot: slot, context: context, link: link, requestID: &requestID)
            case .noWork(let noWork):
                switch noWork.reason {
                case .idle:
                    if noWork.retryAfterMs > 0 { try await Task.sleep(for: .milliseconds(Int(noWork.retryAfterMs))) }
                case .draining:
                    perform(lifecycle { $0.noMoreWork(.drained) })
                    return
                case .finished:
                    perform(lifecycle { $0.noMoreWork(.campaignOver) })
                    return
                }
            case .rejected(let rejected):
                try await recover(from: rejected, link: link, on: context)
            default:
                logger.warning("unexpected reply to a work request", metadata: ["kind": "\(reply.kind)"])
            }
        }
    }

    /// While a slot's attempt runs, asks for the slot's next one ahead of time (the coordinator
    /// answers at once: an assignment only for short trials when no other slot waits; docs/
    /// protocol.md). The assignment is taken on (heartbeats name it, cancels reach it) and
    /// returned to start when this attempt ends. A reply that says to stop asking is acted on;
    /// after an error the request id stays, so the slot's next request repeats it and gets
    /// the same answer (an attempt the coordinator gave is never left unclaimed).
    private func askAhead(
        behind attempt: UInt64, slot: Int, context: Context, link: CoordinatorLink, requestID: UInt64
    ) async -> AheadReply {
        let asking = state.withLock { state -> Bool in
            guard state.lifecycle.asksForWork else { return false }
            state.waitingSlots[slot] = context
            return true
        }
        guard asking else { return AheadReply() }
        let request = WorkRequest(
            requestId: requestID, workerId: options.id.rawValue, incarnation: incarnation, slot: UInt64(slot), behind: attempt)
        let reply: Message
        do {
            defer { state.withLock { _ = $0.waitingSlots.removeValue(forKey: slot) } }
            reply = try await link.request(.workRequest(request), on: context, timeout: .seconds(60))
        } catch {
            logger.debug("asking ahead failed; the slot asks again when free", metadata: ["error": "\(error)"])
            return AheadReply()
        }
        switch reply {
        case .assignment(let next):
            guard lifecycle({ $0.attemptAssigned(next.attemptId) }) == [.start(next.attemptId)] else {
                outbox.add(end: notRun(next.attemptId, .preempted, detail: "the worker was leaving"))
                return AheadReply(answered: true)
            }
            return AheadReply(answered: true, next: next)
        case .noWork(let noWork):
            switch noWork.reason {
            case .idle: break
            case .draining: perform(lifecycle { $0.noMoreWork(.drained) })
            case .finished: perform(lifecycle { $0.noMoreWork(.campaignOver) })
            }
        default:
            // Refused: the slot's next request meets the same answer and recovers from it.
            break
        }
        return AheadReply(answered: true)
    }

    /// What asking ahead brought: whether the coordinator answered (the slot's next request
    /// gets a new id), and the slot's next attempt if it gave one.
    struct AheadReply: Sendable {
        var answered = false
        var next: Assignment?
    }

    /// Runs one attempt to its end and returns the slot's next attempt, if one was assigned
    /// ahead meanwhile (`askAhead`, called once the job has started with its attempt id).
    /// `queued`: the attempt was assigned ahead and taken on then; it runs unless it was
    /// cancelled or the worker stopped taking work while it waited. Its output streams to the
    /// outbox as it is produced; its end goes to the outbox when the process and its pipes are done.
    private func runAttempt(
        _ assignment: Assignment, queued: Bool, slot: Int, context: Context, link: CoordinatorLink, requestID: inout UInt64
    ) async -> Assignment? {
        let attempt = assignment.attemptId
        var environment = jobEnvironment
        for pair in assignment.environment { environment[pair.key] = pair.value }
        // Exactly the GPUs assigned (none for a CPU trial on a GPU worker: it must not grab
        // whatever CUDA would otherwise show it).
        if !assignment.gpus.isEmpty || !options.gpus.isEmpty {
            environment["CUDA_VISIBLE_DEVICES"] = assignment.gpus.joined(separator: ",")
            // The ids are nvidia-smi's (PCI bus order); CUDA's default order is fastest first.
            environment["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        }
        let outputFile = outputsDirectory.map { "\($0)/attempt-\(attempt).json" }
        if let outputFile {
            unlink(outputFile)
            environment["INTERN_OUTPUT_FILE"] = outputFile
        }
        // A reduce trial's inputs come in the assignment and reach the job as a file (too long
        // for one variable of its environment); removed when the attempt is over.
        var inputsFile: String?
        defer { if let inputsFile { unlink(inputsFile) } }
        if let document = environment.removeValue(forKey: ReduceInputs.carrierVariable) {
            let path = "\(outputsDirectory ?? NSTemporaryDirectory())/inputs-\(attempt).json"
            unlink(path)
            guard FileManager.default.createFile(atPath: path, contents: Data(document.utf8), attributes: [.posixPermissions: 0o600]) else {
                if queued { _ = lifecycle { $0.attemptEnded(attempt) } }
                outbox.add(end: notRun(attempt, .failedToStart, detail: "cannot write the reduce inputs to \(path)"))
                return nil
            }
            inputsFile = path
            environment[ReduceInputs.fileVariable] = path
        }
        let argv = assignment.argv  // in shell mode already ["/bin/sh", "-c", script]
        let welcome = self.welcome
        let metadata: Logger.Metadata = ["trial.id": "\(assignment.trialId)", "attempt": "\(attempt)"]
        logger.debug("starting attempt", metadata: metadata)

        let ended = AsyncStream<(JobExit, AttemptOutputTotals)>.makeStream()
        let output: AttemptOutput
        do {
            output = try AttemptOutput(
                attempt: attempt, outbox: outbox, compressionLevel: Int32(clamping: welcome?.compressionLevel ?? 1),
                flushBytes: Int(clamping: welcome?.logFlushBytes ?? 65_536),
                flushIntervalMillis: Int(clamping: welcome?.logFlushIntervalMs ?? 250),
                metricPrefix: welcome?.metricPrefix, resultFiles: assignment.resultFiles.map { ($0.key, $0.value) },
                workdir: assignment.workdir,
                onFinish: { exit, totals in
                    ended.continuation.yield((exit, totals))
                    ended.continuation.finish()
                })
        } catch {
            if queued { _ = lifecycle { $0.attemptEnded(attempt) } }
            outbox.add(end: notRun(attempt, .failedToStart, detail: "cannot create the log compressor: \(error)"))
            return nil
        }
        if queued {
            for case .reportEnd(_, let cause) in lifecycle({ $0.queuedAttemptDue(attempt) }) {
                let cancelled = cause == .cancelled
                outbox.add(end: notRun(
                    attempt, cancelled ? .cancelled : .preempted,
                    detail: cancelled ? "cancelled before it started" : "the worker stopped taking work before it started"))
                return nil
            }
        } else {
            // Received just as the worker started to leave: not started at all, reported preempted
            // (the coordinator may already have settled it so; a second end is harmless).
            guard lifecycle({ $0.attemptAssigned(attempt) }) == [.start(attempt)] else {
                outbox.add(end: notRun(attempt, .preempted, detail: "the worker was leaving"))
                return nil
            }
        }
        let spec = JobSpec(
            arguments: argv, environment: environment, workingDirectory: assignment.workdir,
            timeout: assignment.timeoutMs > 0 ? .milliseconds(Int64(clamping: assignment.timeoutMs)) : nil)
        let job: JobProcess
        do {
            job = try JobProcess.spawn(spec, handler: output, tickInterval: .milliseconds(50))
        } catch {
            _ = lifecycle { $0.attemptEnded(attempt) }
            logger.warning("attempt failed to start", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            outbox.add(end: notRun(attempt, .failedToStart, detail: "\(error)"))
            return nil
        }
        // What it runs with, captured beside it (cached per working directory and interpreter):
        // the job does not wait for it, and neither does the next assignment; its end waits for
        // it (below), so the coordinator never has an end without the provenance.
        let probe = provenanceProbe, outbox = self.outbox, workdir = assignment.workdir, jobEnvironment = environment
        let capture: Task<Void, Never>?
        if !Self.capturesProvenance {
            capture = nil
        } else if let known = probe.cachedCapture(attempt: attempt, argv: argv, workdir: workdir, environment: jobEnvironment) {
            // Everything cached (the usual case: a burst of trials in one directory): no task.
            outbox.add(provenance: known)
            capture = nil
        } else {
            capture = Task.detached {
                outbox.add(provenance: probe.capture(attempt: attempt, argv: argv, workdir: workdir, environment: jobEnvironment))
            }
        }
        // Cancelled or preempted while it was starting: stopped at once.
        perform(state.withLock { state in
            state.spawned[attempt] = job
            return state.lifecycle.jobStarted(attempt)
        })
        // Listed while it runs: a worker killed now leaves it to its next incarnation to stop.
        recordJobs()
        // The slot's next attempt is asked for while this one runs.
        let asked = requestID
        async let ahead = askAhead(behind: attempt, slot: slot, context: context, link: link, requestID: asked)

        var result: (JobExit, AttemptOutputTotals)?
        for await value in ended.stream { result = value }
        var stoppedBy: WorkerLifecycle.StopCause?
        for case .reportEnd(_, let cause) in lifecycle({ $0.attemptEnded(attempt) }) { stoppedBy = cause }
        guard let (exit, lineTotals) = result else {
            // The worker is stopping (its task was cancelled): `stopJobs` ends the job.
            _ = await ahead
            return nil
        }
        var totals = lineTotals
        // The file's outputs come after the lines': a name in both takes the file's value.
        if let outputFile {
            for (name, value) in takeOutputFile(outputFile, metadata: metadata) {
                totals.outputs.pairs.removeAll { $0.key == name }
                totals.outputs.append(name, value)
            }
            if totals.outputs.count > OutputLineParser.maxOutputs {
                totals.outputs.pairs.removeFirst(totals.outputs.count - OutputLineParser.maxOutputs)
            }
        }
        state.withLock { _ = $0.spawned.removeValue(forKey: attempt) }
        recordJobs()
        await capture?.value
        outbox.add(end: attemptEnd(attempt, exit: exit, totals: totals, stoppedBy: stoppedBy))
        logger.debug("attempt ended", metadata: metadata.merging(["exit": "\(exit.status)"]) { $1 })
        let reply = await ahead
        if reply.answered { requestID = nextRequestID() }
        return reply.next
    }

    /// The end of an attempt whose process never ran (it could not start, or the worker was leaving).
    private func notRun(_ attempt: UInt64, _ outcome: InternProtocol.AttemptOutcome, detail: String) -> InternProtocol.AttemptEnd {
        let now = unixMillis()
        return InternProtocol.AttemptEnd(
            attemptId: attempt, outcome: outcome, code: 0, detail: detail, startedAtMs: now, endedAtMs: now,
            wallMs: 0, userCpuMs: 0, systemCpuMs: 0, peakRssBytes: 0, finalStdoutSeq: 0, finalStderrSeq: 0, finalMetricSeq: 0)
    }

    /// The end of an attempt whose process ran, with the outcome intern gave it when it stopped
    /// the job (`stoppedBy`), or the job's own.
    private func attemptEnd(
        _ attempt: UInt64, exit: JobExit, totals: AttemptOutputTotals, stoppedBy: WorkerLifecycle.StopCause?
    ) -> InternProtocol.AttemptEnd {
        let outcome: InternProtocol.AttemptOutcome
        var code: Int64 = 0
        switch exit.status {
        case .exited(let status):
            outcome = .exited
            code = Int64(status)
        case .signaled(let signal):
            outcome = .signaled
            code = Int64(signal)
        }
        // What intern itself did to the job comes first; a job that ended by itself during the
        // drain grace keeps its own outcome (only a stopped one is `preempted`).
        let final: InternProtocol.AttemptOutcome =
            if exit.timedOut {
                .timedOut
            } else {
                switch stoppedBy {
                case .cancelled: .cancelled
                case .preempted: .preempted
                case nil: outcome
                }
            }
        return InternProtocol.AttemptEnd(
            attemptId: attempt, outcome: final, code: code, detail: "", startedAtMs: exit.startedAt, endedAtMs: exit.endedAt,
            wallMs: UInt64(max(0, exit.wallSeconds * 1000)), userCpuMs: UInt64(max(0, exit.userCPUSeconds * 1000)),
            systemCpuMs: UInt64(max(0, exit.systemCPUSeconds * 1000)), peakRssBytes: exit.peakRSSBytes,
            finalStdoutSeq: totals.finalStdoutSeq, finalStderrSeq: totals.finalStderrSeq, finalMetricSeq: totals.finalMetricSeq,
            logTail: final == .exited && code == 0 ? [] : totals.logTail, outputs: totals.outputs)
    }

    /// The outputs a job wrote to its `INTERN_OUTPUT_FILE`, removing the file; empty when it wrote
    /// none. A file that is not a JSON object of names to scalars (or is over 64 KiB) is ignored,
    /// with a warning.
    private func takeOutputFile(_ path: String, metadata: Logger.Metadata) -> [(name: String, value: String)] {
        defer { unlink(path) }
        // Not through a link, never blocking (a FIFO left there), a regular file only.
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var info = stat()
        let limit = 64 << 10
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var count = 0
        if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG {
            while count <= limit {
                let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, limit + 1 - count) }
                if n <= 0 { break }
                count += n
            }
        } else {
            count = limit + 1
        }
        guard count <= limit, let outputs = OutputLineParser().parseFile(Array(bytes[..<count])) else {
            logger.warning("ignored the job's INTERN_OUTPUT_FILE: not a JSON object of names to strings, numbers or booleans (at most 64 KiB)",
                           metadata: metadata)
            return []
        }
        return outputs
    }

    /// Records the running jobs' process groups in the state directory.
    private func recordJobs() {
        guard let registry else { return }
        registryLock.withLock { _ in
            registry.write(state.withLock { $0.spawned.values.map(\.pid) }.sorted())
        }
    }
}
