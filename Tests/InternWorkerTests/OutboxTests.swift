import Foundation
import InternProtocol
import InternTestKit
@testable import InternWorker
import Testing

/// The worker's outbox and its on-disk spool: what waits for acknowledgement is kept (in memory,
/// then on disk), handed out intact, released on acknowledgement, and bounded.
@Suite struct OutboxTests {
    static func frame(_ attempt: UInt64, _ seq: UInt64, bytes: Int, fill: UInt8) -> LogFrame {
        LogFrame(attemptId: attempt, stream: .stdout, seq: seq, rawLength: UInt64(bytes * 3), data: [UInt8](repeating: fill, count: bytes))
    }

    static func segments(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("segment-") }.sorted()
    }

    @Test func framesBeyondTheMemoryBudget_goToDisk_comeBackIntact_andAcknowledgedSegmentsAreDeleted() throws {
        let dir = try TemporaryDirectory(prefix: "intern-outbox")
        defer { dir.remove() }
        let spool = try SpoolFiles(directory: dir.file("spool"), segmentBytes: 100_000)
        let outbox = Outbox(spool: spool, memoryBytes: 50_000, limitBytes: 10_000_000)
        for seq in 1...20 { outbox.add(frame: Self.frame(7, UInt64(seq), bytes: 30_000, fill: UInt8(seq))) }
        // 50 KB in memory (one frame), the other 19 frames (570 KB) in 100 KB segments.
        #expect(spool.diskBytes == 19 * 30_000)
        #expect(Self.segments(dir.file("spool")).count >= 5)
        #expect(outbox.pendingBytes == 20 * 30_000)
        let batch = outbox.nextBatch(budget: 1 << 30)
        #expect(batch.frames.map(\.seq) == Array(1...20))
        #expect(batch.frames.allSatisfy { $0.data == [UInt8](repeating: UInt8($0.seq), count: 30_000) && $0.rawLength == 90_000 })
        // Acknowledging the first 15 deletes the segments only they used.
        outbox.acknowledge(ReportAck(requestId: 1, stored: [StreamCursor(attemptId: 7, stream: .stdout, seq: 15)],
                                     metricsStored: [], endsStored: [], unknownAttempts: []))
        #expect(outbox.pendingBytes == 5 * 30_000)
        #expect(spool.diskBytes <= 3 * 100_000)
        #expect(outbox.nextBatch(budget: 1 << 30).frames.map(\.seq) == Array(16...20))
        outbox.acknowledge(ReportAck(requestId: 2, stored: [StreamCursor(attemptId: 7, stream: .stdout, seq: 20)],
                                     metricsStored: [], endsStored: [], unknownAttempts: []))
        #expect(outbox.isEmpty)
        #expect(spool.diskBytes == 0)
        #expect(Self.segments(dir.file("spool")).count <= 1)
    }

    /// The reporter coalescing output wakes the moment an attempt's end is queued (or enough
    /// output is pending), not when its timer runs out: with `parallel:`, the slot's next attempt
    /// waits for that end.
    @Test func anUrgentWait_endsWhenAnEndIsQueued_orEnoughOutputIsPending_orItIsCancelled() async throws {
        let outbox = Outbox()
        let started = ContinuousClock.now
        async let woken: Void = outbox.waitUntilUrgent(bytes: 1 << 20)
        try await Task.sleep(for: .milliseconds(20))
        outbox.add(frame: Self.frame(1, 1, bytes: 10, fill: 7))
        outbox.add(end: AttemptEnd(attemptId: 1, outcome: .exited, startedAtMs: 0, endedAtMs: 1, wallMs: 1))
        await woken
        #expect(ContinuousClock.now - started < .seconds(5))
        // An end already queued: at once.
        await outbox.waitUntilUrgent(bytes: 1 << 20)

        let busy = Outbox()
        async let filled: Void = busy.waitUntilUrgent(bytes: 100)
        try await Task.sleep(for: .milliseconds(20))
        busy.add(frame: Self.frame(1, 1, bytes: 60, fill: 7))
        busy.add(frame: Self.frame(1, 2, bytes: 60, fill: 7))
        await filled

        let quiet = Outbox()
        let waiter = Task { await quiet.waitUntilUrgent(bytes: 100) }
        try await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        await waiter.value
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func theOutboxIsFull_atItsLimit_andHasRoomAgainAfterAnAcknowledgement() throws {
        let outbox = Outbox(memoryBytes: 1 << 20, limitBytes: 100_000)
        outbox.add(frame: Self.frame(1, 1, bytes: 60_000, fill: 1))
        #expect(!outbox.isFull)
        outbox.add(frame: Self.frame(1, 2, bytes: 60_000, fill: 2))
        #expect(outbox.isFull)
        outbox.acknowledge(ReportAck(requestId: 1, stored: [StreamCursor(attemptId: 1, stream: .stdout, seq: 1)],
                                     metricsStored: [], endsStored: [], unknownAttempts: []))
        #expect(!outbox.isFull)
    }

    @Test func aBatchRespectsItsBudget_andKeepsEachAttemptsFramesInOrder() throws {
        let dir = try TemporaryDirectory(prefix: "intern-outbox")
        defer { dir.remove() }
        let outbox = Outbox(spool: try SpoolFiles(directory: dir.file("spool")), memoryBytes: 0, limitBytes: 1 << 30)
        for seq in 1...4 {
            outbox.add(frame: Self.frame(1, UInt64(seq), bytes: 1_000, fill: 1))
            outbox.add(frame: Self.frame(2, UInt64(seq), bytes: 10, fill: 2))
        }
        let batch = outbox.nextBatch(budget: 2_500)
        #expect(batch.frames.filter { $0.attemptId == 1 }.map(\.seq) == [1, 2])
        #expect(batch.frames.filter { $0.attemptId == 2 }.map(\.seq) == [1, 2, 3, 4])
    }

    @Test func aFrameTheSpoolCannotGiveBack_goesOutAsALossMarker_andTheRestStillGoes() throws {
        let dir = try TemporaryDirectory(prefix: "intern-outbox")
        defer { dir.remove() }
        let outbox = Outbox(spool: try SpoolFiles(directory: dir.file("spool")), memoryBytes: 0, limitBytes: 1 << 30)
        outbox.add(frame: Self.frame(1, 1, bytes: 500, fill: 1))
        outbox.add(frame: Self.frame(1, 2, bytes: 500, fill: 2))
        // The disk loses the segment's bytes.
        for name in Self.segments(dir.file("spool")) { truncate(dir.file("spool/\(name)"), 0) }
        let batch = outbox.nextBatch(budget: 1 << 20)
        #expect(batch.frames.map(\.seq) == [1, 2])
        #expect(batch.frames.allSatisfy { $0.data.isEmpty && $0.rawLength == 1_500 })
        #expect(outbox.spoolProblem != nil)
        #expect(outbox.pendingBytes == 0)
    }

    @Test func aNewSpool_deletesWhatAPreviousIncarnationLeft() throws {
        let dir = try TemporaryDirectory(prefix: "intern-outbox")
        defer { dir.remove() }
        let first = try SpoolFiles(directory: dir.file("spool"))
        _ = try first.write([1, 2, 3])
        #expect(Self.segments(dir.file("spool")).count == 1)
        _ = try SpoolFiles(directory: dir.file("spool"))
        #expect(Self.segments(dir.file("spool")).isEmpty)
    }

    @Test func aSecondWorker_cannotTakeAStateDirectoryInUse() throws {
        let dir = try TemporaryDirectory(prefix: "intern-outbox")
        defer { dir.remove() }
        let held = try StateDirectoryLock(directory: dir.file("state"))
        #expect(throws: SpoolError.self) { _ = try StateDirectoryLock(directory: dir.file("state")) }
        _ = held
    }

    @Test func jobsLeftByAKilledWorker_areKilledByTheNextOne_evenOnceTheyExecedAnotherProgram_andRecycledPidsAreNot() throws {
        let dir = try TemporaryDirectory(prefix: "intern-outbox")
        defer { dir.remove() }
        let leftover = Process()
        leftover.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        // Recorded as python3, it then execs `sleep` (as `sh -c "exec ..."` or a launcher does).
        leftover.arguments = ["-c", "import os, time; os.setpgid(0, 0); time.sleep(0.5); os.execv('/bin/sleep', ['sleep', '30'])"]
        try leftover.run()
        // Like a job: the leader of its own process group (wait until it is).
        let pid = leftover.processIdentifier
        let deadline = Date().addingTimeInterval(5)
        while getpgid(pid) != pid, Date() < deadline { usleep(10_000) }
        let registry = JobRegistry(directory: dir.path)
        registry.write([pid])
        #expect(try String(contentsOfFile: dir.file("jobs"), encoding: .utf8).hasSuffix(" python3\n"))
        func command() -> String? { try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) }
        while command() != "sleep\n", Date() < deadline.addingTimeInterval(5) { usleep(10_000) }
        #expect(command() == "sleep\n")
        // A line for a recycled pid (this process's: right pid and owner, wrong start time) is ignored.
        let text = try String(contentsOfFile: dir.file("jobs"), encoding: .utf8) + "\(getpid()) 1 \(geteuid()) xctest\n"
        try text.write(toFile: dir.file("jobs"), atomically: true, encoding: .utf8)
        #expect(registry.killLeftovers() == [pid])
        leftover.waitUntilExit()
        #expect(leftover.terminationReason == .uncaughtSignal && leftover.terminationStatus == SIGKILL)
        #expect(try String(contentsOfFile: dir.file("jobs"), encoding: .utf8).isEmpty)
    }
}
