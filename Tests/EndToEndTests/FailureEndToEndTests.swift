import Foundation
import InternCore
import InternProtocol
import InternStore
import InternTestKit
import NNG
import Testing

/// Failures against the real binaries: hostile input on the coordinator's socket, a worker
/// killed with SIGKILL in the middle of a trial.
@Suite(.serialized) struct FailureEndToEndTests {
    @Test func hostileMessages_getRejectedOrDropped_andTheCampaignStillCompletes() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("c.yaml", """
            name: hostile
            command: [/bin/echo, "{x}"]
            space: {x: {type: choice, values: [a, b, c]}}
            sampler: grid
            """)
        let url = "ipc://\(dir.file("c.sock"))"
        let coordinator = try InternBinary.start(["coordinator", spec, "--listen", url, "--root", dir.file(".intern")], in: dir.path)

        let socket = try Socket.request(maxMessageSize: 1 << 20)
        defer { socket.close() }
        _ = try socket.dial(url)
        let codec = MessageCodec()
        func send(_ bytes: [UInt8], wait: Int = 1_000) async -> Message? {
            guard let context = try? socket.openContext() else { return nil }
            defer { context.close() }
            guard let reply = try? await context.request(bytes, timeout: .milliseconds(wait)) else { return nil }
            return try? codec.decode(reply)
        }
        // Garbage without a readable header: dropped, no reply.
        #expect(await send([0xde, 0xad, 0xbe, 0xef]) == nil)
        // A truncated Hello: rejected as malformed, with its request id.
        let hello = codec.encode(.hello(Hello(requestId: 42, workerId: "evil", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], labels: [:])))
        guard case .rejected(let truncated)? = await send(Array(hello.prefix(hello.count - 3))) else {
            Issue.record("a truncated hello must be rejected")
            return
        }
        #expect(truncated.requestId == 42 && truncated.code == .malformed)
        // An unknown version: rejected as such.
        var future = hello
        future[2] = 9
        guard case .rejected(let version)? = await send(future) else {
            Issue.record("an unknown version must be rejected")
            return
        }
        #expect(version.code == .unsupportedVersion)
        // A work request from a worker that never said hello: refused, nothing assigned.
        let stranger = codec.encode(.workRequest(WorkRequest(requestId: 7, workerId: "ghost", incarnation: 3, slot: 0)))
        guard case .rejected(let unknown)? = await send(stranger) else {
            Issue.record("an unknown worker must be refused")
            return
        }
        #expect(unknown.code == .unknownWorker)
        // A message over the coordinator's 16 MiB limit is never delivered (NNG drops it).
        #expect(await send([UInt8](repeating: 0x49, count: 17 << 20)) == nil)
        // A registered peer sending extreme values about attempts that are not its own: stored
        // nowhere, counted nowhere, and the coordinator keeps running.
        guard case .welcome? = await send(codec.encode(.hello(Hello(
            requestId: 1, workerId: "evil", incarnation: 5, hostname: "h", pid: 1, slots: 1, gpus: [], labels: [:])))) else {
            Issue.record("hello must be welcomed")
            return
        }
        var extremePoint = PackedMetricPoints.Writer(baseTime: .max)
        extremePoint.append(name: "x", step: .min, value: .infinity, time: .min)
        let extreme = Report(
            requestId: 2, workerId: "evil", incarnation: 5,
            frames: [LogFrame(attemptId: .max, stream: .stdout, seq: .max, rawLength: .max, data: [1, 2, 3])],
            metrics: [MetricBatch(attemptId: .max, firstSeq: .max, baseTime: .max, data: extremePoint.finish())],
            ends: [InternProtocol.AttemptEnd(
                attemptId: .max, outcome: .exited, code: .min, detail: "", startedAtMs: .min, endedAtMs: .max, wallMs: .max,
                userCpuMs: .max, systemCpuMs: .max, peakRssBytes: .max, finalStdoutSeq: .max, finalStderrSeq: .max, finalMetricSeq: .max)])
        guard case .reportAck(let ack)? = await send(codec.encode(.report(extreme))) else {
            Issue.record("an extreme report must be answered")
            return
        }
        #expect(ack.unknownAttempts == [.max])
        #expect(ack.endsStored == [.max])
        // Metric batches that do not read as one (cut short, a name index past the names, a count
        // past the bytes, a byte left over): the whole report is refused as malformed.
        let good = extremePoint.finish()
        let point = Array(good.dropFirst(4))  // after one name ("x") and the count (1)
        for damaged in [Array(good.dropLast()), [1, 1, 0x78, 1, 5] + point.dropFirst(), [1, 1, 0x78, 0x7F] + point, good + [0]] {
            let report = Report(requestId: 3, workerId: "evil", incarnation: 5,
                                metrics: [MetricBatch(attemptId: 1, firstSeq: 1, baseTime: 0, data: damaged)])
            guard case .rejected(let rejected)? = await send(codec.encode(.report(report))) else {
                Issue.record("a damaged metric batch must be refused")
                return
            }
            #expect(rejected.code == .malformed, "\(rejected.reason)")
        }
        // Random bytes after a valid header.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var bytes: [UInt8] = [0x49, 0x4E, ProtocolVersion.current, UInt8.random(in: 1...10, using: &generator)]
            bytes += (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = await send(bytes, wait: 100)
        }

        let worker = try InternBinary.start(["worker", "--connect", url, "--id", "good"], in: dir.path)
        let result = try await coordinator.finish(timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(try await worker.finish(timeout: .seconds(30)).status == 0)
        let store = try CampaignStore(directory: dir.file(".intern/hostile"), create: false, readOnly: true)
        #expect(try store.trials().map(\.status) == [.completed, .completed, .completed])
        #expect(try store.workers().map(\.id) == ["evil", "good"])
        #expect(try store.attempts().allSatisfy { $0.worker == "good" })
    }

    @Test func workerKilledMidTrial_attemptIsLost_andTheTrialCompletesOnAnotherWorker() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("c.yaml", """
            name: killed
            shell: "echo start {x}; sleep 1.5; echo done {x}"
            space: {x: {type: choice, values: [a, b, c, d]}}
            sampler: grid
            parallel: 2
            """)
        let url = "ipc://\(dir.file("c.sock"))"
        let coordinator = try InternBinary.start(
            ["coordinator", spec, "--listen", url, "--root", dir.file(".intern"), "--heartbeat-ms", "100", "--lease-ms", "1000"],
            in: dir.path)
        let victim = try InternBinary.start(["worker", "--connect", url, "--id", "victim"], in: dir.path)
        let survivor = try InternBinary.start(["worker", "--connect", url, "--id", "survivor"], in: dir.path)
        let store = try await waitForStore(dir.file(".intern/killed"))
        // Wait until the victim runs an attempt, then kill it without warning.
        try await eventually("the victim runs an attempt", timeout: .seconds(20)) {
            try store.attempts().contains(where: { $0.worker == "victim" && $0.status == .running })
        }
        victim.signal(SIGKILL)
        _ = try? await victim.finish(timeout: .seconds(5))

        let result = try await coordinator.finish(timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(try await survivor.finish(timeout: .seconds(30)).status == 0)
        #expect(try store.trials().allSatisfy { $0.status == .completed })
        let attempts = try store.attempts()
        let lost = attempts.filter { $0.status == .lost }
        #expect(lost.count == 1)
        #expect(lost.first?.worker == "victim")
        // The lost trial ran again, on the survivor, and its result counts once.
        let retried = try #require(lost.first?.trial)
        let runs = try store.attempts(trial: retried)
        #expect(runs.count == 2)
        #expect(runs.last?.worker == "survivor" && runs.last?.status == .succeeded)
        #expect(try store.workers().first { $0.id == "victim" }?.state == .lost)
    }
}

/// Cancel and drain, from the admin commands to the job's process group on a specific worker.
@Suite(.serialized) struct ControlEndToEndTests {
    @Test func cancel_terminatesTheRunningJobOnItsWorker_andDrain_letsAWorkerExitWhenIdle() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let marker = dir.file("marker")
        let spec = try dir.write("c.yaml", """
            name: control
            shell: "echo $$ >> \(marker).{x}; exec sleep 30"
            space: {x: {type: choice, values: [a, b]}}
            sampler: grid
            """)
        let url = "ipc://\(dir.file("c.sock"))"
        let coordinator = try InternBinary.start(
            ["coordinator", spec, "--listen", url, "--root", dir.file(".intern"), "--heartbeat-ms", "100", "--lease-ms", "2000"],
            in: dir.path)
        let w1 = try InternBinary.start(["worker", "--connect", url, "--id", "w1"], in: dir.path)
        let w2 = try InternBinary.start(["worker", "--connect", url, "--id", "w2"], in: dir.path)
        let root = ["--dir", dir.file(".intern/control")]
        // Both trials run (one per worker): wait for both jobs to have started.
        try await eventually("both jobs have started", timeout: .seconds(20)) {
            FileManager.default.fileExists(atPath: marker + ".a") && FileManager.default.fileExists(atPath: marker + ".b")
        }
        let pidA = try #require(Int32(String(contentsOfFile: marker + ".a", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(pidA, 0) == 0)

        let drain = try await InternBinary.run(["drain", "w2"] + root, in: dir.path)
        #expect(drain.stdout.contains("draining"), "\(drain.stdout) \(drain.stderr)")
        let started = ContinuousClock.now
        let cancelA = try await InternBinary.run(["cancel", "1"] + root, in: dir.path)
        #expect(cancelA.stdout.contains("cancelled"))
        let cancelB = try await InternBinary.run(["cancel", "2"] + root, in: dir.path)
        #expect(cancelB.stdout.contains("cancelled"))
        // The job's process is gone within a couple of heartbeats (SIGTERM to its process group).
        try await eventually("the cancelled job is gone", before: started + .seconds(5), every: .milliseconds(20)) {
            !processIsAlive(pidA)
        }
        let result = try await coordinator.finish(timeout: .seconds(30))
        // Every trial was cancelled: finished, none completed.
        #expect(result.status == 3, "\(result.stdout)\n\(result.stderr)")
        #expect(try await w1.finish(timeout: .seconds(10)).status == 0)
        #expect(try await w2.finish(timeout: .seconds(10)).status == 0)
        let store = try CampaignStore(directory: dir.file(".intern/control"), create: false, readOnly: true)
        #expect(try store.trials().map(\.status) == [.cancelled, .cancelled])
        #expect(try store.attempts().map(\.status) == [.cancelled, .cancelled])
        #expect(try store.workers().first { $0.id == "w2" }?.state == .draining)
    }

}

/// Stopping processes with signals: nothing hangs, no job outlives its worker.
@Suite(.serialized) struct SignalEndToEndTests {
    @Test func sigint_stopsACoordinatorWithParkedRequests_andSigterm_takesAStubbornJobDownWithItsWorker() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let marker = dir.file("pid")
        // The job ignores SIGTERM: only the worker's SIGKILL after the grace ends it.
        let spec = try dir.write("c.yaml", """
            name: signals
            shell: "trap '' TERM; echo $$ > \(marker); while true; do sleep 0.1; done"
            trials: 2
            parallel: 1
            """)
        let url = "ipc://\(dir.file("c.sock"))"
        let coordinator = try InternBinary.start(["coordinator", spec, "--listen", url, "--root", dir.file(".intern")], in: dir.path)
        // Two slots, parallel 1: one slot runs the job, the other's request is parked.
        let worker = try InternBinary.start(["worker", "--connect", url, "--id", "w", "--slots", "2", "--drain-grace", "0"], in: dir.path)
        try await eventually("the job has started", timeout: .seconds(20)) {
            (try? String(contentsOfFile: marker, encoding: .utf8)) != nil
        }
        try await Task.sleep(for: .milliseconds(300))
        let pid = try #require(Int32(String(contentsOfFile: marker, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))

        coordinator.signal(SIGINT)
        let stopped = try await coordinator.finish(timeout: .seconds(10))
        #expect(stopped.status == 1)

        let terminated = ContinuousClock.now
        worker.signal(SIGTERM)
        _ = try await worker.finish(timeout: .seconds(20))
        // No drain grace: the worker stopped the job at once, waited out the 5 s kill grace,
        // then SIGKILLed the job's process group.
        #expect(!processIsAlive(pid))
        #expect(ContinuousClock.now - terminated < .seconds(15))
    }

}

extension SignalEndToEndTests {
    @Test func sigtermedWorker_letsItsJobRunForTheDrainGrace_thenReportsItPreempted_andTheTrialRunsElsewhere() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let marker = dir.file("pid")
        // Trial 1 runs long the first time (its marker file does not exist yet) and quickly after.
        let spec = try dir.write("c.yaml", """
            name: preempt
            shell: "if [ {x} = a ] && [ ! -e \(marker) ]; then echo $$ > \(marker); exec sleep 60; fi; echo ran {x}"
            space: {x: {type: choice, values: [a, b]}}
            sampler: grid
            parallel: 1
            """)
        let url = "ipc://\(dir.file("c.sock"))"
        let coordinator = try InternBinary.start(
            ["coordinator", spec, "--listen", url, "--root", dir.file(".intern"), "--heartbeat-ms", "100", "--lease-ms", "3000"], in: dir.path)
        let leaving = try InternBinary.start(["worker", "--connect", url, "--id", "leaving", "--drain-grace", "1", "--kill-grace", "2"], in: dir.path)
        try await eventually("the job has started (its pid file is written)", timeout: .seconds(20)) {
            (try? String(contentsOfFile: marker, encoding: .utf8))?.hasSuffix("\n") == true
        }
        let pid = try #require(Int32(String(contentsOfFile: marker, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        let signalled = ContinuousClock.now
        leaving.signal(SIGTERM)
        let left = try await leaving.finish(timeout: .seconds(20))
        #expect(left.status == 0, "\(left.stderr)")
        #expect(!processIsAlive(pid))
        // 1 s of drain grace, then SIGTERM ends `sleep` at once.
        #expect(ContinuousClock.now - signalled >= .seconds(1))
        #expect(ContinuousClock.now - signalled < .seconds(10))

        let other = try InternBinary.start(["worker", "--connect", url, "--id", "other"], in: dir.path)
        let result = try await coordinator.finish(timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(try await other.finish(timeout: .seconds(20)).status == 0)
        let store = try CampaignStore(directory: dir.file(".intern/preempt"), create: false, readOnly: true)
        #expect(try store.trials().map(\.status) == [.completed, .completed])
        let first = try store.attempts(trial: 1)
        #expect(first.map(\.status) == [.preempted, .succeeded])
        #expect(first.map(\.worker) == ["leaving", "other"])
        // Preemption is not the job's fault: the retry budget (0) was not needed.
        #expect(try store.trials().first?.retriesUsed == 0)
    }
}

/// The journal cannot be written: the coordinator stops rather than acknowledge what it cannot
/// record, and started again it finishes the campaign from the store.
@Suite(.serialized) struct StoreFailureEndToEndTests {
    @Test func coordinatorStops_whenItsStoreIsLocked_andAResumeCompletesTheCampaign() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("c.yaml", """
            name: locked
            shell: "sleep 0.5; echo done {x}"
            space: {x: {type: choice, values: [a, b, c, d]}}
            sampler: grid
            parallel: 1
            """)
        let url = "ipc://\(dir.file("c.sock"))"
        let root = dir.file(".intern")
        let first = try InternBinary.start(["coordinator", spec, "--listen", url, "--root", root], in: dir.path)
        let database = dir.file(".intern/locked/campaign.db")
        try await eventually("the campaign's database exists", timeout: .seconds(60)) { FileManager.default.fileExists(atPath: database) }
        try await Task.sleep(for: .milliseconds(500))
        // Another process holds the database's write lock for longer than the coordinator's
        // 5 s busy timeout, so recording the worker's arrival fails.
        let locker = Process()
        locker.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        locker.arguments = ["-c", "import sqlite3,time,sys; c=sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(8)", database]
        let lockerOutput = Pipe()
        locker.standardOutput = lockerOutput
        try locker.run()
        _ = lockerOutput.fileHandleForReading.availableData
        let worker = try InternBinary.start(["worker", "--connect", url, "--id", "w"], in: dir.path)
        let stopped = try await first.finish(timeout: .seconds(30))
        #expect(stopped.status == 1)
        #expect(stopped.stderr.contains("store"), "\(stopped.stderr)")
        locker.waitUntilExit()

        // Started again on the same directory, the coordinator continues; the worker never left.
        let second = try InternBinary.start(["coordinator", spec, "--listen", url, "--root", root], in: dir.path)
        let result = try await second.finish(timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(try await worker.finish(timeout: .seconds(20)).status == 0)
        let store = try CampaignStore(directory: dir.file(".intern/locked"), create: false, readOnly: true)
        #expect(try store.trials().map(\.status) == [.completed, .completed, .completed, .completed])
        // Every trial's result counts once: exactly one succeeded attempt per trial.
        let succeeded = try store.attempts().filter { $0.status == .succeeded }
        #expect(Set(succeeded.map(\.trial)).count == 4 && succeeded.count == 4)
    }
}

extension FailureEndToEndTests {
    /// As after `intern run` is killed with kill -9: its local workers run on, their output a pipe
    /// nobody reads. They go on logging (into nothing) and finish the campaign.
    @Test func aWorkerWhoseOutputNobodyReads_goesOnAndFinishesTheCampaign() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("c.yaml", """
            name: unread
            shell: "sleep 0.2; echo done {trial}"
            trials: 4
            """)
        let url = "ipc://\(dir.file("c.sock"))"
        let coordinator = try InternBinary.start(["coordinator", spec, "--listen", url, "--root", dir.file(".intern")], in: dir.path)
        // The reader takes the worker's first line and goes; every line after it (debug: one per
        // request at least) meets a pipe with no reader.
        let status = dir.file("worker-status")
        let worker = try InternBinary.startProgram(["/bin/sh", "-c", """
            ("$0" worker --connect "$1" --id w --log-level debug; echo $? > "$2") 2>&1 | (read first; exit 0)
            """, InternBinary.path, url, status], in: dir.path, environment: ["TMPDIR": dir.path])
        let result = try await coordinator.finish(timeout: .seconds(30))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("4 completed"), "\(result.stdout)")
        _ = try await worker.finish(timeout: .seconds(30))
        // The worker's own exit status (the pipeline's is its reader's): 0, not 141 (SIGPIPE).
        #expect(try String(contentsOfFile: status, encoding: .utf8) == "0\n")
    }

    @Test func workerKilledWithSIGKILL_itsNextIncarnationStopsTheJobItLeftRunning() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let marker = dir.file("pid")
        // One slot, one job, which outlives a worker killed without warning (it is its own process group).
        let spec = try dir.write("c.yaml", """
            name: leftover
            shell: "echo $$ > \(marker); exec sleep 300"
            trials: 1
            """)
        let url = "ipc://\(dir.file("c.sock"))"
        let coordinator = try InternBinary.start(["coordinator", spec, "--listen", url, "--root", dir.file(".intern")], in: dir.path)
        let state = dir.file("state")
        let worker = ["worker", "--connect", url, "--id", "w", "--slots", "1", "--state-dir", state, "--drain-grace", "0"]
        let killed = try InternBinary.start(worker, in: dir.path)
        try await eventually("the job has started", timeout: .seconds(20)) {
            (try? String(contentsOfFile: marker, encoding: .utf8))?.hasSuffix("\n") == true
        }
        let pid = try #require(Int32(String(contentsOfFile: marker, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        // The worker lists its running job (it writes the list right after the job starts).
        try await eventually("the worker lists the job", timeout: .seconds(5)) {
            (try? String(contentsOfFile: "\(state)/jobs", encoding: .utf8))?.hasPrefix("\(pid) ") == true
        }
        killed.signal(SIGKILL)
        _ = try? await killed.finish(timeout: .seconds(5))
        #expect(processIsAlive(pid), "the job outlives its killed worker")

        // Same id, same state directory: the next incarnation stops the job before it takes work.
        try? FileManager.default.removeItem(atPath: marker)
        let next = try InternBinary.start(worker, in: dir.path)
        try await eventually("the leftover job is stopped", timeout: .seconds(10), every: .milliseconds(20)) { !processIsAlive(pid) }

        next.signal(SIGTERM)
        _ = try await next.finish(timeout: .seconds(20))
        coordinator.signal(SIGINT)
        _ = try await coordinator.finish(timeout: .seconds(10))
    }
}
