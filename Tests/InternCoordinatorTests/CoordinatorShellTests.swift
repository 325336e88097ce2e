import Foundation
@testable import InternCoordinator
import InternCore
import InternProtocol
import InternStore
import InternTestKit
import Logging
import Testing
import Zstd

/// The coordinator's shell without sockets: bytes in, one machine event, a commit, bytes out.
/// (The end-to-end suites drive the same shell through NNG and real worker processes.)
@Suite struct CoordinatorShellTests {
    static let codec = MessageCodec()

    static func spec() -> CampaignSpec {
        CampaignSpec(
            name: "shell", command: CommandTemplate(argv: ["train", "--lr", "{lr}"]), workdir: "/tmp",
            space: [Parameter(name: "lr", domain: .choice([.double(0.1)]))], sampler: .random(seed: 1), trials: 1,
            objective: Objective(metric: "loss", direction: .minimize))
    }

    /// A coordinator on a fresh store in `directory` (nothing listens).
    static func coordinator(in directory: TemporaryDirectory) throws -> (Coordinator, CampaignStore) {
        let store = try CampaignStore(directory: directory.file("campaign"))
        _ = try store.register(spec: spec(), specPath: directory.file("campaign.yaml"), specYAML: "", now: 0)
        let coordinator = try Coordinator(spec: spec(), store: store, options: CoordinatorOptions(listen: []), logger: Logger(label: "test"))
        return (coordinator, store)
    }

    static func exchange(_ coordinator: Coordinator, _ message: Message) async throws -> Message {
        let reply = try #require(await coordinator.handle(codec.encode(message)))
        return try codec.decode(reply)
    }

    @Test func aWorkersHelloWorkHeartbeatAndReport_runTheCampaignToItsEnd() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (coordinator, store) = try Self.coordinator(in: directory)
        guard case .welcome(let welcome) = try await Self.exchange(coordinator, .hello(Hello(
            requestId: 1, workerId: "w", incarnation: 7, hostname: "h", pid: 1, slots: 1)))
        else { Issue.record("no welcome"); return }
        #expect(welcome.campaign == "shell")
        guard case .assignment(let assignment) = try await Self.exchange(coordinator, .workRequest(WorkRequest(
            requestId: 2, workerId: "w", incarnation: 7, slot: 0)))
        else { Issue.record("no assignment"); return }
        #expect(assignment.argv == ["train", "--lr", "0.1"])
        guard case .heartbeatReply(let beat) = try await Self.exchange(coordinator, .heartbeat(Heartbeat(
            requestId: 3, workerId: "w", incarnation: 7, running: [assignment.attemptId])))
        else { Issue.record("no heartbeat reply"); return }
        #expect(beat.cancel.isEmpty && !beat.drain && !beat.shutdown)
        let end = AttemptEnd(
            attemptId: assignment.attemptId, outcome: .exited, startedAtMs: 1, endedAtMs: 2, wallMs: 1, finalMetricSeq: 1)
        guard case .reportAck(let ack) = try await Self.exchange(coordinator, .report(Report(
            requestId: 4, workerId: "w", incarnation: 7,
            metrics: packed([MetricSample(attemptId: assignment.attemptId, seq: 1, name: "loss", step: 1, value: 0.25, timeMs: 1)]),
            ends: [end])))
        else { Issue.record("no report ack"); return }
        #expect(ack.endsStored == [assignment.attemptId])
        #expect(ack.metricsStored.map(\.seq) == [1])
        let snapshot = await coordinator.snapshot()
        #expect(snapshot.isFinished && snapshot.progress.completed == 1)
        #expect(snapshot.best?.objective == 0.25)
        #expect(try store.trials().first?.status == .completed)
    }

    /// A report is one transaction with what it changes; a log that cannot be written refuses
    /// the whole report (nothing of it counts), and the same report sent again once the file can
    /// be written is stored and counted once.
    @Test func aReportWhoseLogCannotBeWritten_isRefusedWhole_andCountsOnceWhenSentAgain() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (coordinator, store) = try Self.coordinator(in: directory)
        _ = try await Self.exchange(coordinator, .hello(Hello(requestId: 1, workerId: "w", incarnation: 7, hostname: "h", pid: 1, slots: 1)))
        guard case .assignment(let assignment) = try await Self.exchange(coordinator, .workRequest(WorkRequest(
            requestId: 2, workerId: "w", incarnation: 7, slot: 0)))
        else { Issue.record("no assignment"); return }
        // Its log file, made in the background, replaced by a directory: the append fails.
        let path = store.logPath(trial: 1, attempt: assignment.attemptId, stream: .stdout)
        try await eventually("the log file is made", timeout: .seconds(5)) { FileManager.default.fileExists(atPath: path) }
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let compressor = try ZstdCompressor(level: 1)
        var compressed: [UInt8] = []
        try compressor.compress(Array("loss 0.25\n".utf8), into: &compressed)
        try compressor.finish(into: &compressed)
        let report = Report(
            requestId: 3, workerId: "w", incarnation: 7,
            frames: [LogFrame(attemptId: assignment.attemptId, stream: .stdout, seq: 1, rawLength: 10, data: compressed)],
            metrics: packed([MetricSample(attemptId: assignment.attemptId, seq: 1, name: "loss", step: 1, value: 0.25, timeMs: 1)]),
            ends: [AttemptEnd(attemptId: assignment.attemptId, outcome: .exited, startedAtMs: 1, endedAtMs: 2, wallMs: 1,
                              finalStdoutSeq: 1, finalMetricSeq: 1)])
        guard case .rejected(let refused) = try await Self.exchange(coordinator, .report(report)) else {
            Issue.record("a report whose log cannot be written was acknowledged"); return
        }
        #expect(refused.code == .internal && refused.reason.contains("cannot store logs"), "\(refused.reason)")
        #expect(try store.trials().first?.status != .completed)
        #expect(try store.metricPoints(attempt: assignment.attemptId).isEmpty)
        // The file can be written again: the same report is stored, and counts once.
        try FileManager.default.removeItem(atPath: path)
        guard case .reportAck(let ack) = try await Self.exchange(coordinator, .report(report)) else {
            Issue.record("the report sent again was not acknowledged"); return
        }
        #expect(ack.endsStored == [assignment.attemptId] && ack.stored.map(\.seq) == [1])
        #expect(try store.trials().first?.status == .completed)
        #expect(try store.trials().first?.objective == 0.25)
        #expect(try store.metricPoints(attempt: assignment.attemptId).count == 1)
        #expect(String(decoding: try store.readLog(trial: 1, attempt: assignment.attemptId, stream: .stdout), as: UTF8.self) == "loss 0.25\n")
    }

    @Test func aRequestFromAWorkerThatNeverSaidHello_isRefused_andNothingIsStored() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (coordinator, store) = try Self.coordinator(in: directory)
        for request in [
            Message.heartbeat(Heartbeat(requestId: 1, workerId: "ghost", incarnation: 1, running: [1])),
            .report(Report(requestId: 2, workerId: "ghost", incarnation: 1,
                           metrics: packed([MetricSample(attemptId: 1, seq: 1, name: "loss", step: 1, value: 0, timeMs: 0)]))),
            .workRequest(WorkRequest(requestId: 3, workerId: "ghost", incarnation: 1, slot: 0)),
        ] {
            guard case .rejected(let rejected) = try await Self.exchange(coordinator, request) else {
                Issue.record("\(request.kind) was not refused")
                continue
            }
            #expect(rejected.code == .unknownWorker && rejected.requestId == request.requestId)
        }
        #expect(try store.trials().isEmpty)
    }

    @Test func anAddressInUse_stopsTheSecondCoordinatorBeforeAnythingStarts() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let url = "ipc://\(directory.file("c.sock"))"
        let first = try Coordinator(
            spec: Self.spec(), store: try CampaignStore(directory: directory.file("one")), options: CoordinatorOptions(listen: [url]),
            logger: Logger(label: "test"))
        let second = try Coordinator(
            spec: Self.spec(), store: try CampaignStore(directory: directory.file("two")), options: CoordinatorOptions(listen: [url]),
            logger: Logger(label: "test"))
        let socket = try await first.listen()
        defer { socket.close() }
        do {
            _ = try await second.listen()
            Issue.record("a second coordinator listened on an address in use")
        } catch let error as CoordinatorError {
            #expect(error.code == .cannotListen)
            #expect(error.message.contains(url))
        }
    }

    @Test func malformedBytes_andARepliesKindSentAsARequest_getRejectedMalformed() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (coordinator, _) = try Self.coordinator(in: directory)
        var truncated = Self.codec.encode(.heartbeat(Heartbeat(requestId: 9, workerId: "w", incarnation: 1, running: [1, 2])))
        truncated.removeLast(3)
        guard case .rejected(let garbled) = try Self.codec.decode(try #require(await coordinator.handle(truncated))) else {
            Issue.record("a truncated message got no rejection")
            return
        }
        #expect(garbled.code == .malformed && garbled.requestId == 9)
        guard case .rejected(let misplaced) = try await Self.exchange(coordinator, .heartbeatReply(HeartbeatReply(requestId: 5))) else {
            Issue.record("a reply sent as a request got no rejection")
            return
        }
        #expect(misplaced.code == .malformed && misplaced.requestId == 5)
        // Bytes with no readable request id: nobody to answer.
        #expect(await coordinator.handle([0x01]) == nil)
    }
}

/// The limits a peer's data is held to on its way from the wire to the logic.
@Suite struct WireConversionTests {
    @Test func anEndsOutputsAreHeldToTheWorkersParserLimits() {
        var pairs: [(String, String)] = [("bad name", "x"), ("checkpoint", "/runs/1")]
        pairs += (0..<(OutputLineParser.maxOutputs + 5)).map { ("k\($0)", "v") }
        let end = AttemptEnd(
            attemptId: 3, outcome: .signaled, code: 9, startedAtMs: 1, endedAtMs: 2, wallMs: 1, outputs: StringPairs(pairs))
        let core = Coordinator.result(of: end)
        #expect(core.outcome == .signaled(9))
        #expect(core.outputs["bad name"] == nil && core.outputs["checkpoint"] == "/runs/1")
        #expect(core.outputs.count <= OutputLineParser.maxOutputs)
    }

    @Test func provenanceKeepsBoundedFields_andDropsABlobThatIsNotWhatItsDigestSays() {
        var fields = (0..<40).map { ("field\($0)", "value") }
        fields.insert(("nul", "a\u{0}b"), at: 0)
        let item = AttemptProvenance(
            attemptId: 4, fields: StringPairs(fields),
            blobs: [ProvenanceBlob(digest: String(repeating: "0", count: 64), kind: "git.diff", rawLength: 3, data: [1, 2, 3])])
        let record = Coordinator.provenanceRecord(item, now: 5)
        #expect(record.fields.count <= 32 && record.fields["nul"] == nil)
        #expect(record.blobs.isEmpty)
        #expect(record.attempt == 4 && record.capturedAt == 5)
    }

    @Test func refusalsMapToTheirRejectCodes() {
        #expect(Coordinator.rejected(.unknownWorker, requestId: 1).code == .unknownWorker)
        #expect(Coordinator.rejected(.fenced, requestId: 2).code == .fenced)
    }
}

/// The clock's alarm: it wakes at its deadline, earlier when rung, and at once when rung before.
@Suite struct AlarmTests {
    @Test func ringingWakesTheWaiterBeforeItsDeadline() async {
        let alarm = Alarm()
        let started = ContinuousClock.now
        async let waited: Void = alarm.wait(until: .now + .seconds(30))
        try? await Task.sleep(for: .milliseconds(50))
        alarm.ring()
        await waited
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func aRingWithNoWaiter_makesTheNextWaitReturnAtOnce_andOnlyThatOne() async {
        let alarm = Alarm()
        alarm.ring()
        let started = ContinuousClock.now
        await alarm.wait(until: .now + .seconds(30))
        #expect(ContinuousClock.now - started < .seconds(10))
        let again = ContinuousClock.now
        await alarm.wait(until: .now + .milliseconds(200))
        #expect(ContinuousClock.now - again >= .milliseconds(200))
    }

    @Test func cancellingTheWaiterEndsTheWait() async {
        let alarm = Alarm()
        let started = ContinuousClock.now
        let waiter = Task { await alarm.wait(until: .now + .seconds(30)) }
        try? await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await waiter.value
        #expect(ContinuousClock.now - started < .seconds(10))
    }
}

/// Samples packed as a worker packs them for a report.
func packed(_ samples: [MetricSample]) -> [MetricBatch] {
    PackedMetricPoints.pack(samples) { ($0.attemptId, $0.seq, $0.name, $0.step, $0.value, $0.timeMs) }.map {
        MetricBatch(attemptId: $0.attempt, firstSeq: $0.firstSeq, baseTime: $0.baseTime, data: $0.data)
    }
}
