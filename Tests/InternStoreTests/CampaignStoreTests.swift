import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing
import Zstd

@Suite struct CampaignStoreTests {
    static let spec = CampaignSpec(
        name: "store-test", command: CommandTemplate(argv: ["true"]), workdir: "/tmp",
        space: [Parameter(name: "lr", domain: .uniform(low: 0, high: 1))], trials: 3,
        objective: Objective(metric: "loss", direction: .minimize))

    /// Compresses `text` into frames the way a worker does: one flush per chunk, the last one
    /// closing the zstd frame.
    static func frames(of chunks: [String], attempt: AttemptID, stream: StoredStream = .stdout) throws -> [IncomingFrame] {
        let compressor = try ZstdCompressor(level: 1)
        var result: [IncomingFrame] = []
        for (index, chunk) in chunks.enumerated() {
            var out: [UInt8] = []
            try compressor.compress(Array(chunk.utf8), into: &out)
            if index == chunks.count - 1 { try compressor.finish(into: &out) } else { try compressor.flush(into: &out) }
            result.append(IncomingFrame(attempt: attempt, stream: stream, seq: UInt64(index + 1), rawLength: UInt64(chunk.utf8.count), data: out))
        }
        return result
    }

    func makeStore() throws -> (CampaignStore, TemporaryDirectory) {
        let dir = try TemporaryDirectory()
        let store = try CampaignStore(directory: dir.file("c"))
        try store.register(spec: Self.spec, specPath: "/x.yaml", specYAML: "name: store-test", now: 1)
        let trial = TrialRecord(id: 1, parameters: ["lr": .double(0.5)], status: .running, attemptCount: 1, createdAt: 1)
        let attempt = AttemptRecord(id: 7, trial: 1, number: 1, worker: "w", incarnation: 0xabc, argv: ["true", "x y"], assignedAt: 2)
        try store.apply([.trial(trial), .attempt(attempt)])
        return (store, dir)
    }

    @Test func records_roundTripThroughTheDatabase() throws {
        let (store, dir) = try makeStore()
        defer { dir.remove() }
        var attempt = try #require(try store.attempts().first)
        #expect(attempt.argv == ["true", "x y"])
        #expect(attempt.incarnation == 0xabc)
        attempt.status = .succeeded
        attempt.exitCode = 0
        attempt.peakRSSBytes = 123_456_789
        try store.apply([.attempt(attempt), .event(CampaignEvent(kind: "k", message: "m", attempt: 7, at: 3))])
        #expect(try store.attempts(trial: 1) == [attempt])
        #expect(try store.trials().first?.parameters == ["lr": .double(0.5)])
        #expect(try store.events().last?.kind == "k")
        // The same directory refuses another campaign.
        var other = Self.spec
        other.name = "other"
        #expect(throws: StoreError.self) { try store.register(spec: other, specPath: "/y", specYAML: "", now: 4) }
    }

    @Test func framesAppendedAsReceived_decodeToTheOriginalBytes_andZstdcatAgrees() throws {
        let (store, dir) = try makeStore()
        defer { dir.remove() }
        let ingestor = ReportIngestor(store: store)
        let chunks = (0..<50).map { "{'loss': \(Double($0) / 7), 'epoch': \($0)}\n" + String(repeating: "\u{1F600} ", count: $0) + "\r" }
        let frames = try Self.frames(of: chunks, attempt: 7)
        let cursors = try ingestor.ingest(frames: frames, metrics: [], trialOf: { _ in 1 }, now: 5)
        #expect(cursors.streams == [.init(attempt: 7, stream: .stdout, seq: 50)])
        let expected = Array(chunks.joined().utf8)
        #expect(try store.readLog(trial: 1, attempt: 7, stream: .stdout) == expected)
        let zstdcat = Process()
        zstdcat.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
        zstdcat.arguments = ["-dc", store.logPath(trial: 1, attempt: 7, stream: .stdout)]
        let pipe = Pipe()
        zstdcat.standardOutput = pipe
        try zstdcat.run()
        let printed = pipe.fileHandleForReading.readDataToEndOfFile()
        zstdcat.waitUntilExit()
        #expect(zstdcat.terminationStatus == 0)
        #expect([UInt8](printed) == expected)
    }

    @Test func duplicateFrames_areDropped_andAFrameAfterAGapWaitsForTheMissingOne() throws {
        let (store, dir) = try makeStore()
        defer { dir.remove() }
        let ingestor = ReportIngestor(store: store)
        let frames = try Self.frames(of: ["a\n", "b\n", "c\n", "d\n"], attempt: 7)
        _ = try ingestor.ingest(frames: [frames[0], frames[1]], metrics: [], trialOf: { _ in 1 }, now: 5)
        // Frame 2 again (a resend) and frame 4 (3 was lost): neither is stored.
        let afterGap = try ingestor.ingest(frames: [frames[1], frames[3]], metrics: [], trialOf: { _ in 1 }, now: 6)
        #expect(afterGap.streams.first?.seq == 2)
        // The resend of 3 and 4 completes the stream exactly once.
        let done = try ingestor.ingest(frames: [frames[2], frames[3]], metrics: [], trialOf: { _ in 1 }, now: 7)
        #expect(done.streams.first?.seq == 4)
        #expect(String(decoding: try store.readLog(trial: 1, attempt: 7, stream: .stdout), as: UTF8.self) == "a\nb\nc\nd\n")
        #expect(try store.storedLog(trial: 1, attempt: 7, stream: .stdout).frames == 4)
    }

    /// Bytes a coordinator appended but never committed (it died between the append and the
    /// commit) are cut when the stream is opened again; a stream opened for the first time is left
    /// as it is (not truncated: ext4 would flush it to disk at close).
    @Test func bytesAppendedButNeverCommitted_areCutWhenTheStreamIsReopened() throws {
        let (store, dir) = try makeStore()
        defer { dir.remove() }
        let frames = try Self.frames(of: ["a\n", "b\n", "c\n"], attempt: 7)
        _ = try ReportIngestor(store: store).ingest(frames: [frames[0]], metrics: [], trialOf: { _ in 1 }, now: 5)
        let path = store.logPath(trial: 1, attempt: 7, stream: .stdout)
        let committed = try Data(contentsOf: URL(fileURLWithPath: path))
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(frames[1].data))
        handle.closeFile()
        // A new coordinator (a new ingestor) stores frames 2 and 3 after the committed bytes only.
        let done = try ReportIngestor(store: store).ingest(frames: [frames[1], frames[2]], metrics: [], trialOf: { _ in 1 }, now: 6)
        #expect(done.streams.first?.seq == 3)
        #expect(String(decoding: try store.readLog(trial: 1, attempt: 7, stream: .stdout), as: UTF8.self) == "a\nb\nc\n")
        let stored = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(stored.count == committed.count + frames[1].data.count + frames[2].data.count)
    }

    @Test func metricPoints_areStoredOnceInOrder() throws {
        let (store, dir) = try makeStore()
        defer { dir.remove() }
        let ingestor = ReportIngestor(store: store)
        let points = (1...5).map { IncomingMetric(attempt: 7, seq: UInt64($0), name: "loss", step: Int64($0), value: 1 / Double($0), time: 9) }
        _ = try ingestor.ingest(frames: [], metrics: Array(points[0..<3]), trialOf: { _ in 1 }, now: 5)
        let cursors = try ingestor.ingest(frames: [], metrics: Array(points[1..<5]), trialOf: { _ in 1 }, now: 6)
        #expect(cursors.metrics == [.init(attempt: 7, seq: 5)])
        #expect(try store.metricPoints(attempt: 7).map(\.seq) == [1, 2, 3, 4, 5])
        #expect(try store.metricPoints(attempt: 7).map(\.value) == points.map(\.value))
        let series = try #require(try store.metricSeries(attempt: 7).first)
        #expect(series.name == "loss" && series.count == 5 && series.lastValue == 0.2 && series.minValue == 0.2 && series.maxValue == 1)
    }

    @Test func metricBatches_keepEveryPointOfInterleavedAttemptsAndNames() throws {
        let (store, dir) = try makeStore()
        defer { dir.remove() }
        try store.apply([.attempt(AttemptRecord(id: 8, trial: 1, number: 2, worker: "w", incarnation: 1, argv: [], assignedAt: 2))])
        let ingestor = ReportIngestor(store: store)
        var points: [IncomingMetric] = []
        for i in 1...300 {
            let attempt: AttemptID = i % 3 == 0 ? 8 : 7
            let seq = UInt64(points.filter { $0.attempt == attempt }.count + 1)
            points.append(IncomingMetric(attempt: attempt, seq: seq, name: ["loss", "eval/acc", "λ"][i % 3], step: Int64(i) - 50,
                                         value: i == 7 ? .nan : Double(i) * -1.5, time: 1_800_000_000_000 + Int64(i * 37) - 5000))
        }
        _ = try ingestor.ingest(frames: [], metrics: points, trialOf: { _ in 1 }, now: 5)
        for attempt: AttemptID in [7, 8] {
            let expected = points.filter { $0.attempt == attempt }
            let stored = try store.metricPoints(attempt: attempt)
            #expect(stored.map(\.seq) == expected.map(\.seq))
            #expect(stored.map(\.name) == expected.map(\.name))
            #expect(stored.map(\.step) == expected.map(\.step))
            #expect(stored.map(\.time) == expected.map(\.time))
            #expect(stored.map(\.value.bitPattern) == expected.map(\.value.bitPattern))
        }
        #expect(try store.metricPoints(attempt: 7, name: "eval/acc").count == 100)
    }

    @Test func bytesPastTheIndexedEnd_areCutWhenTheStreamIsReopened() throws {
        let (store, dir) = try makeStore()
        defer { dir.remove() }
        let frames = try Self.frames(of: ["one\n", "two\n"], attempt: 7)
        do {
            let ingestor = ReportIngestor(store: store)
            _ = try ingestor.ingest(frames: [frames[0]], metrics: [], trialOf: { _ in 1 }, now: 5)
        }
        // A crash after the append and before the commit leaves unindexed bytes behind.
        let path = store.logPath(trial: 1, attempt: 7, stream: .stdout)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data([0xde, 0xad, 0xbe, 0xef]))
        try handle.close()
        let reopened = ReportIngestor(store: store)
        _ = try reopened.ingest(frames: [frames[1]], metrics: [], trialOf: { _ in 1 }, now: 6)
        #expect(String(decoding: try store.readLog(trial: 1, attempt: 7, stream: .stdout), as: UTF8.self) == "one\ntwo\n")
    }

    /// The file of an attempt just assigned is made ahead of its first frames, with the store's
    /// mode; the frames then go into it whole, whether they come after it was made or before.
    @Test func aPreparedLogFile_takesTheFramesThatCome() async throws {
        let (store, dir) = try makeStore()
        defer { dir.remove() }
        let ingestor = ReportIngestor(store: store)
        let path = store.logPath(trial: 1, attempt: 7, stream: .stdout)
        ingestor.prepare(attempt: 7, trial: 1)
        try await eventually("the file is made", timeout: .seconds(5)) { FileManager.default.fileExists(atPath: path) }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect((attributes[.size] as? Int) == 0)
        let frames = try Self.frames(of: ["one\n", "two\n"], attempt: 7)
        _ = try ingestor.ingest(frames: frames, metrics: [], trialOf: { _ in 1 }, now: 5)
        // Prepared again after its frames (a late background job): nothing is cut or made twice.
        ingestor.prepare(attempt: 7, trial: 1)
        ingestor.prepare(attempt: 8, trial: 2)
        try await eventually("the other file is made", timeout: .seconds(5)) {
            FileManager.default.fileExists(atPath: store.logPath(trial: 2, attempt: 8, stream: .stdout))
        }
        #expect(String(decoding: try store.readLog(trial: 1, attempt: 7, stream: .stdout), as: UTF8.self) == "one\ntwo\n")
    }

    /// An attempt made before this ingestor (a restarted coordinator's) is never taken for one
    /// with nothing stored, even when it is prepared again: a frame resent is still dropped.
    @Test func anAttemptFromBeforeTheIngestor_keepsItsStoredCursors_whenPreparedAgain() throws {
        let (store, dir) = try makeStore()
        defer { dir.remove() }
        let frames = try Self.frames(of: ["one\n", "two\n", "three\n"], attempt: 7)
        _ = try ReportIngestor(store: store).ingest(frames: Array(frames[0...1]), metrics: [], trialOf: { _ in 1 }, now: 5)
        let restarted = ReportIngestor(store: store)
        restarted.prepare(attempt: 7, trial: 1)
        let cursors = try restarted.ingest(frames: [frames[0], frames[2]], metrics: [], trialOf: { _ in 1 }, now: 6)
        #expect(cursors.streams.map(\.seq) == [3])
        #expect(String(decoding: try store.readLog(trial: 1, attempt: 7, stream: .stdout), as: UTF8.self) == "one\ntwo\nthree\n")
    }

    @Test func adminReaders_openTheStoreReadOnly() throws {
        let (store, dir) = try makeStore()
        defer { dir.remove() }
        let reader = try CampaignStore(directory: store.directory, create: false, readOnly: true)
        #expect(try reader.info()?.name == "store-test")
        #expect(throws: StoreError.self) { try CampaignStore(directory: dir.file("missing"), create: false) }
    }

    /// A read-only store maps the database: what the coordinator writes after the reader opened
    /// (in the WAL, then checkpointed into a grown file) is what the reader's next reads see.
    @Test func aMappedReader_seesWhatTheWriterCommitsAfterItOpened() throws {
        let (store, dir) = try makeStore()
        defer { dir.remove() }
        let reader = try CampaignStore(directory: store.directory, create: false, readOnly: true)
        #expect(try reader.trialCounts().map(\.count) == [1])
        func checkpoint() throws {
            let sqlite = Process()
            sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
            sqlite.arguments = [dir.file("c/campaign.db"), "PRAGMA wal_checkpoint(TRUNCATE);"]
            sqlite.standardOutput = FileHandle.nullDevice
            try sqlite.run()
            sqlite.waitUntilExit()
            try #require(sqlite.terminationStatus == 0)
        }
        // About 2 MB of trials: in the WAL first, then in the database file, which grows.
        let padding = String(repeating: "x", count: 2_000)
        try store.apply((2...501).map { .trial(TrialRecord(id: $0, parameters: ["pad": .string(padding)], createdAt: 1)) })
        #expect(try reader.trialCounts().reduce(0) { $0 + $1.count } == 501)
        try checkpoint()
        try store.apply((502...1_001).map { .trial(TrialRecord(id: $0, parameters: ["pad": .string(padding)], status: .completed, createdAt: 1)) })
        #expect(try reader.trialCounts().reduce(0) { $0 + $1.count } == 1_001)
        try checkpoint()
        #expect(try reader.trialCounts().reduce(0) { $0 + $1.count } == 1_001)
        #expect(try reader.trial(1_001)?.parameters["pad"] == .string(padding) && reader.trial(1_001)?.status == .completed)
        #expect(try reader.trial(2)?.status == .pending && reader.trial(1)?.status == .running)
    }

    /// Admin commands open a store read-only, so a store a newer intern has not migrated yet
    /// lacks the newest columns and tables: reading it gives their absence, not a crash.
    @Test func aStoreMissingNewerColumnsIsReadAsIfTheyWereEmpty() throws {
        let (store, dir) = try makeStore()
        defer { dir.remove() }
        var attempt = AttemptRecord(id: 1, trial: 1, number: 1, worker: "w", incarnation: 1, argv: ["run"], assignedAt: 1)
        attempt.environment = ["INTERN_TRIAL": "1"]
        try store.apply([.trial(TrialRecord(id: 1, parameters: [:], createdAt: 1)), .attempt(attempt)])
        // As a store written before v14 looks: no attempts.environment, no provenance tables.
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [dir.file("c/campaign.db"),
                            "ALTER TABLE attempts DROP COLUMN environment; DROP TABLE attempt_provenance; DROP TABLE provenance_blobs;"]
        try sqlite.run()
        sqlite.waitUntilExit()
        try #require(sqlite.terminationStatus == 0)
        let old = try CampaignStore(directory: dir.file("c"), create: false, readOnly: true)
        let first = try #require(try old.attempts().first { $0.id == 1 })
        #expect(first.environment.isEmpty && first.argv == ["run"], "\(first)")
        #expect(try old.provenance().isEmpty)
        #expect(try old.provenanceBlob("0000") == nil)
    }

    @Test func aRequestKeepsItsActorAndPolicy_itsRefusal_andTheEventsNameTheActor() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try CampaignStore(directory: dir.file("c"))
        try store.register(spec: Self.spec, specPath: "/x.yaml", specYAML: "name: store-test", now: 1)
        let policy = AgentPolicy(maxTrials: 3, mayCancel: true)
        let id = try store.submit(.cancelTrial, target: "4", actor: "agent:claude", policy: policy, now: 2)
        let pending = try #require(store.pendingControlRequests().first)
        #expect(pending.actor == "agent:claude" && pending.policy == policy && pending.target == "4")
        try store.markHandled(id, outcome: "refused: no", refused: true, now: 3)
        #expect(try store.controlState(id) == .handled("refused: no", refused: true))
        try store.apply([
            .event(CampaignEvent(kind: "trial.cancelled", message: "trial 4 cancelled (by alice)", trial: 4, at: 4, actor: "alice")),
            .campaignPaused(true, at: 5, actor: "agent:claude"),
            .campaignAdjusted(CampaignAdjustments(addedTrials: 2, agentTrials: 2, agentHours: 0.5)),
        ])
        let events = try store.events()
        #expect(events.map(\.actor) == ["alice", "agent:claude"])
        #expect(events.last?.message.hasSuffix("(by agent:claude)") == true)
        #expect(try store.info()?.adjustments == CampaignAdjustments(addedTrials: 2, agentTrials: 2, agentHours: 0.5))
    }
}
