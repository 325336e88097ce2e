import Foundation
import InternProtocol
import InternTestKit
import NNG
import Testing

/// The real worker binary against a scripted coordinator on a raw NNG REP socket.
@Suite(.serialized) struct WorkerProtocolTests {
    @Test func worker_survivesAnUndecodableReply_andExitsWhenTheCampaignIsOver() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let url = "ipc://\(dir.file("c.sock"))"
        let socket = try Socket.reply(maxMessageSize: 1 << 20)
        defer { socket.close() }
        _ = try socket.listen(url)
        let worker = try InternBinary.start(["worker", "--connect", url, "--id", "scripted"], in: dir.path)
        let codec = MessageCodec()
        var hellos = 0
        var sawWorkRequest = false
        let deadline = ContinuousClock.now + .seconds(20)
        // Serve requests one at a time until the worker has asked for work and been told it is over.
        let context = try socket.openContext()
        defer { context.close() }
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
}
