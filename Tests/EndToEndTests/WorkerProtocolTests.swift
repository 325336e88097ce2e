import Foundation
import InternCore
import InternProtocol
import InternTestKit
import NNG
import Testing

/// The real worker binary against a scripted coordinator on a raw NNG REP socket.
@Suite(.serialized) struct WorkerProtocolTests {
    /// A REP socket listening on ipc:// in a temporary directory, one context on it, and a real
    /// `intern worker --id ID` dialing it.
    struct Scripted {
        let dir: TemporaryDirectory
        let url: String
        let socket: Socket
        let context: Context
        let worker: ChildProcess

        init(workerID: String) throws {
            dir = try TemporaryDirectory(prefix: "intern-e2e")
            url = "ipc://\(dir.file("c.sock"))"
            socket = try Socket.reply(maxMessageSize: 1 << 20)
            _ = try socket.listen(url)
            worker = try InternBinary.start(["worker", "--connect", url, "--id", workerID], in: dir.path)
            context = try socket.openContext()
        }

        func close() {
            context.close()
            socket.close()
            dir.remove()
        }
    }

    @Test func worker_survivesAnUndecodableReply_andExitsWhenTheCampaignIsOver() async throws {
        let scripted = try Scripted(workerID: "scripted")
        defer { scripted.close() }
        let (context, worker) = (scripted.context, scripted.worker)
        let codec = MessageCodec()
        var hellos = 0
        var sawWorkRequest = false
        let deadline = ContinuousClock.now + .seconds(20)
        // Serve requests one at a time until the worker has asked for work and been told it is over.
        while ContinuousClock.now < deadline {
            guard let bytes = try? await context.receive(timeout: .milliseconds(500)) else {
                if sawWorkRequest, !worker.process.isRunning { break }
                continue
            }
            let reply: [UInt8]
            switch try codec.decode(bytes) {
            case .hello(let hello):
                hellos += 1
                #expect(hello.workerId == "scripted" && hello.slots == 1)
                // The first answer is garbage: the worker must log it and say hello again.
                reply = hellos == 1 ? [0x49, 0x4E, ProtocolVersion.current, 2, 0xff, 0xff] : codec.encode(.welcome(Welcome(
                    requestId: hello.requestId, campaign: "scripted", coordinatorIncarnation: 1, heartbeatIntervalMs: 100,
                    leaseTimeoutMs: 1_000, maxMessageBytes: 1 << 20, logFlushIntervalMs: 250, logFlushBytes: 65_536,
                    compressionLevel: 1, metricPrefix: nil)))
            case .workRequest(let request):
                sawWorkRequest = true
                reply = codec.encode(.noWork(NoWork(requestId: request.requestId, reason: .finished, retryAfterMs: 0)))
            case .heartbeat(let heartbeat):
                reply = codec.encode(.heartbeatReply(HeartbeatReply(requestId: heartbeat.requestId, cancel: [], drain: false, shutdown: sawWorkRequest)))
            case .report(let report):
                reply = codec.encode(.reportAck(ReportAck(requestId: report.requestId, stored: [], metricsStored: [], endsStored: [], unknownAttempts: [])))
            default:
                Issue.record("unexpected request")
                return
            }
            try await context.send(reply)
        }
        #expect(hellos == 2)
        #expect(sawWorkRequest)
        let exit = try await worker.finish(timeout: .seconds(10))
        #expect(exit.status == 0, "\(exit.stderr)")
    }

    /// Report pacing (docs/protocol.md): a chatty job's output goes in one report per interval, and
    /// a heartbeat reply's longer intervals slow the reports and heartbeats down at once; the end
    /// goes at once.
    @Test func reports_andHeartbeats_arePacedByTheIntervalsAHeartbeatReplyGives() async throws {
        let scripted = try Scripted(workerID: "paced")
        defer { scripted.close() }
        let (context, worker) = (scripted.context, scripted.worker)
        let codec = MessageCodec()
        // 250 lines 10 ms apart: 2.5 s of output, flushed every 100 ms by the welcome's interval.
        let script = "import time\nfor i in range(250):\n    print('line', i, flush=True)\n    time.sleep(0.01)\n"
        var assigned = false, over = false
        var paced: ContinuousClock.Instant?
        var reportsAfterPacing: [ContinuousClock.Instant] = []
        var heartbeatsAfterPacing: [ContinuousClock.Instant] = []
        var endReceived: ContinuousClock.Instant?
        var lastOutputAt: ContinuousClock.Instant?
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            guard let bytes = try? await context.receive(timeout: .milliseconds(500)) else {
                if over, !worker.process.isRunning { break }
                continue
            }
            let reply: [UInt8]
            switch try codec.decode(bytes) {
            case .hello(let hello):
                reply = codec.encode(.welcome(Welcome(
                    requestId: hello.requestId, campaign: "paced", coordinatorIncarnation: 1, heartbeatIntervalMs: 100,
                    leaseTimeoutMs: 5_000, maxMessageBytes: 1 << 20, logFlushIntervalMs: 100, logFlushBytes: 65_536,
                    compressionLevel: 1, metricPrefix: nil)))
            case .workRequest(let request):
                if assigned {
                    reply = codec.encode(.noWork(NoWork(requestId: request.requestId, reason: endReceived == nil ? .idle : .finished, retryAfterMs: 200)))
                    over = endReceived != nil
                } else {
                    assigned = true
                    reply = codec.encode(.assignment(Assignment(
                        requestId: request.requestId, campaign: "paced", trialId: 1, attemptId: 1, attemptNumber: 1,
                        argv: ["/usr/bin/python3", "-c", script], workdir: scripted.dir.path)))
                }
            case .heartbeat(let heartbeat):
                // Once the job runs, the fleet "grew": report every second and heartbeat every
                // half second from now on (both were 100 ms).
                if let paced, ContinuousClock.now - paced > .milliseconds(200), !over { heartbeatsAfterPacing.append(.now) }
                if assigned, paced == nil { paced = .now }
                reply = codec.encode(.heartbeatReply(HeartbeatReply(
                    requestId: heartbeat.requestId, shutdown: over, logFlushIntervalMs: assigned ? 1_000 : 0,
                    heartbeatIntervalMs: assigned ? 500 : 0)))
            case .report(let report):
                let now = ContinuousClock.now
                if !report.frames.isEmpty { lastOutputAt = now }
                if let paced, now - paced > .milliseconds(200), report.ends.isEmpty { reportsAfterPacing.append(now) }
                if !report.ends.isEmpty { endReceived = now }
                var stored: [StreamCursor] = []
                for frame in report.frames where !stored.contains(where: { $0.stream == frame.stream && $0.seq >= frame.seq }) {
                    stored.removeAll { $0.stream == frame.stream }
                    stored.append(StreamCursor(attemptId: frame.attemptId, stream: frame.stream, seq: frame.seq))
                }
                reply = codec.encode(.reportAck(ReportAck(
                    requestId: report.requestId, stored: stored,
                    metricsStored: report.metrics.last.map { batch in
                        [MetricCursor(attemptId: 1, seq: batch.firstSeq + UInt64(PackedMetricPoints.scan(batch.data, baseTime: batch.baseTime)!.count) - 1)]
                    } ?? [],
                    endsStored: report.ends.map(\.attemptId), provenanceStored: report.provenance.map(\.attemptId))))
            default:
                Issue.record("unexpected request")
                return
            }
            try await context.send(reply)
        }
        #expect(endReceived != nil)
        #expect(lastOutputAt != nil)
        // At 100 ms the job's 2.5 s would take about 25 reports; at one a second, 2 or 3 after the
        // reply that paced it (and the end's report apart).
        #expect(!reportsAfterPacing.isEmpty && reportsAfterPacing.count <= 4, "\(reportsAfterPacing.count) reports after pacing")
        for (earlier, later) in zip(reportsAfterPacing, reportsAfterPacing.dropFirst()) {
            #expect(later - earlier >= .milliseconds(900), "reports \(later - earlier) apart")
        }
        #expect(heartbeatsAfterPacing.count >= 2)
        for (earlier, later) in zip(heartbeatsAfterPacing, heartbeatsAfterPacing.dropFirst()) {
            #expect(later - earlier >= .milliseconds(450), "heartbeats \(later - earlier) apart")
        }
        let exit = try await worker.finish(timeout: .seconds(10))
        #expect(exit.status == 0, "\(exit.stderr)")
    }

    @Test func aCoordinatorOfAnotherProtocolVersion_stopsTheWorker_namingBothVersions() async throws {
        let scripted = try Scripted(workerID: "older")
        defer { scripted.close() }
        let (context, worker, url) = (scripted.context, scripted.worker, scripted.url)
        // A newer coordinator refuses the hello in its own version, whose header this worker
        // cannot decode.
        let newer = ProtocolVersion.current + 1
        let codec = MessageCodec()
        let hello = try await context.receive(timeout: .seconds(20))
        guard case .hello(let request) = try codec.decode(hello) else {
            Issue.record("the first request must be a hello")
            return
        }
        var refusal = codec.encode(.rejected(Rejected(requestId: request.requestId, code: .unsupportedVersion, reason: "protocol")))
        refusal[2] = newer
        try await context.send(refusal)
        // No retry: the worker stops at once and says why.
        let exit = try await worker.finish(timeout: .seconds(10))
        #expect(exit.status == 1, "\(exit.stderr)")
        #expect(exit.stderr.contains("speaks protocol version \(newer), this worker protocol version \(ProtocolVersion.current)"), "\(exit.stderr)")
        // And it said which build it is before anything else.
        #expect(exit.stderr.hasPrefix("intern worker: intern 0."), "\(exit.stderr)")
        #expect(exit.stderr.contains(", protocol \(ProtocolVersion.current)) as older, joining \(url)"), "\(exit.stderr)")
    }
}
