import Foundation
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
