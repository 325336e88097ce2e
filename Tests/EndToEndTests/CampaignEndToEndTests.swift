import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

/// End-to-end: the real `intern` binaries, real NNG sockets, real job processes, a real store.
@Suite(.serialized) struct CampaignEndToEndTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// A campaign of the fixture job: `trials` trials, each writing ~`size` bytes of binary garbage
    /// besides its metric lines.
    static func campaign(name: String, trials: Int, out: String, size: Int = 20000, sleep: Double = 0, extra: String = "") -> String {
        """
        name: \(name)
        command: [/usr/bin/python3, \(fixtures)/job.py, "{trial}", \(out), "\(size)"]
        env: {JOB_EXIT: "0", JOB_SLEEP: "\(sleep)"}
        space:
          lr: {type: choice, values: [0.1, 0.01, 0.001]}
        sampler: {type: random, seed: 3}
        trials: \(trials)
        objective: {metric: eval_accuracy, direction: maximize}
        timeout: 60s
        \(extra)
        """
    }

    static func sha256(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
    }

    /// Checks every trial's stored logs against what the job wrote, through the store's reader
    /// and through `zstd -dc` of the stored file (sha256 of both).
    static func expectLogsByteIdentical(store: CampaignStore, out: String, trials: Int) throws {
        for trial in 1...trials {
            let attempt = try #require(try store.attempts(trial: trial).last)
            for stream in StoredStream.allCases {
                let written = try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(trial).\(stream)"))
                let stored = try store.readLog(trial: trial, attempt: attempt.id, stream: stream)
                // The worker flushes at least every 64 KiB of output: no frame carries more.
                let extent = try store.storedLog(trial: trial, attempt: attempt.id, stream: stream)
                #expect(extent.frames >= Int((extent.rawLength + 65_535) / 65_536), "trial \(trial) \(stream): \(extent)")
                #expect(stored.count == written.count, "trial \(trial) \(stream)")
                #expect(Data(stored) == written, "trial \(trial) \(stream): stored log differs from what the job wrote")
                let decoded = "\(out)/\(trial).\(stream).zstdcat"
                let zstd = Process()
                zstd.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
                zstd.arguments = ["-dqf", store.logPath(trial: trial, attempt: attempt.id, stream: stream), "-o", decoded]
                try zstd.run()
                zstd.waitUntilExit()
                #expect(zstd.terminationStatus == 0)
                #expect(try sha256(decoded) == (try sha256("\(out)/\(trial).\(stream)")))
            }
        }
    }

    @Test func coordinatorAndTwoWorkers_overIPC_recordEveryTrialMetricAndByteIdenticalLog() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let out = dir.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let trials = 6
        let spec = try dir.write("campaign.yaml", Self.campaign(name: "e2e", trials: trials, out: out, size: 300_000, sleep: 0.3))
        let url = "ipc://\(dir.file("c.sock"))"

        // The workers first (they dial until the coordinator listens), so that both are there
        // when the first trials are handed out, however slowly a loaded machine starts them.
        let workers = try (1...2).map { index in
            try InternBinary.start(["worker", "--connect", url, "--id", "w\(index)"], in: dir.path)
        }
        try await Task.sleep(for: .milliseconds(300))
        let coordinator = try InternBinary.start(["coordinator", spec, "--listen", url, "--root", dir.file(".intern")], in: dir.path)
        let result = try await coordinator.finish(timeout: .seconds(120))
        #expect(result.status == 0, "coordinator: \(result.stdout)\n\(result.stderr)")
        for worker in workers {
            let exit = try await worker.finish(timeout: .seconds(30))
            #expect(exit.status == 0, "worker: \(exit.stderr)")
        }

        let store = try CampaignStore(directory: dir.file(".intern/e2e"), create: false, readOnly: true)
        let records = try store.trials()
        #expect(records.count == trials)
        #expect(records.allSatisfy { $0.status == .completed })
        // Both workers took part.
        #expect(Set(try store.attempts().map(\.worker)) == ["w1", "w2"])
        // Metrics parsed on the worker from Trainer dict lines and a JSON line with a step.
        for trial in records {
            let attempt = try #require(try store.attempts(trial: trial.id).last)
            let points = try store.metricPoints(attempt: attempt.id)
            // The 12 loss lines come out in one burst; a metric's first 1,000 points are never thinned.
            let losses = points.filter { $0.name == "loss" }
            #expect(losses.map(\.step) == Array(0...11))
            #expect(points.filter { $0.name == "eval_accuracy" }.map(\.step) == [0, 1, 2])
            let final = try #require(points.first { $0.name == "final_score" })
            #expect(final.value == Double(trial.id) && final.step == 3)
            let expected = 0.5 + 0.3 + Double(trial.id % 7) / 100
            #expect(abs((trial.objective ?? -1) - expected) < 1e-9)
            #expect(attempt.exitCode == 0)
            #expect((attempt.peakRSSBytes ?? 0) > 1_000_000)
            #expect(attempt.argv.first == "/usr/bin/python3")
        }
        try Self.expectLogsByteIdentical(store: store, out: out, trials: trials)
    }

    @Test func run_embeddedMode_reportsFailuresAndBest_andAdminCommandsReadTheStore() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let out = dir.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        // Every trial but the 5th exits 1 (JOB_EXIT); one retry each.
        let spec = try dir.write("campaign.yaml", Self.campaign(name: "embedded", trials: 5, out: out, extra: "retries: 1").replacingOccurrences(
            of: "JOB_EXIT: \"0\"", with: "JOB_EXIT: \"1\""))
        let result = try await InternBinary.run(["run", spec, "--workers", "2", "--quiet"], in: dir.path)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("1 completed, 4 failed"))
        #expect(result.stdout.contains("best: trial 5"))

        let trials = try await InternBinary.run(["trials", "--json"], in: dir.path)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(trials.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 5)
        #expect(rows.first?["trial"] as? Int == 5)
        #expect(rows.filter { $0["status"] as? String == "failed" }.allSatisfy { $0["attempts"] as? Int == 2 })

        let csv = try await InternBinary.run(["trials", "--csv"], in: dir.path)
        // The fixed columns, the parameter, then every metric's last, min, max (and best for the objective's).
        let header: String = ["trial,status,eval_accuracy,attempts,wall_seconds,lr",
                              "epoch.last,epoch.min,epoch.max,eval_accuracy.last,eval_accuracy.min,eval_accuracy.max,eval_accuracy.best",
                              "eval_loss.last,eval_loss.min,eval_loss.max,final_score.last,final_score.min,final_score.max",
                              "learning_rate.last,learning_rate.min,learning_rate.max,loss.last,loss.min,loss.max"].joined(separator: ",")
        let firstLine = csv.stdout.split(separator: "\n").first.map(String.init)
        #expect(firstLine == header)

        let best = try await InternBinary.run(["best"], in: dir.path)
        #expect(best.status == 0)
        #expect(best.stdout.contains("trial      5"))

        // `intern logs` prints the job's bytes exactly, invalid UTF-8 included.
        let logs = try await InternBinary.run(["logs", "5"], in: dir.path)
        #expect(logs.stdoutBytes == (try Data(contentsOf: URL(fileURLWithPath: "\(out)/5.stdout"))))
        let stderrLog = try await InternBinary.run(["logs", "5", "--stream", "stderr"], in: dir.path)
        #expect(stderrLog.stdout.hasSuffix("stderr done\n"))

        let metrics = try await InternBinary.run(["metrics", "5"], in: dir.path)
        #expect(metrics.stdout.contains("eval_accuracy") && metrics.stdout.contains("final_score"))
        let series = try await InternBinary.run(["metrics", "5", "--name", "eval_accuracy"], in: dir.path)
        #expect(series.stdout.split(separator: "\n").count == 4)  // header + one row per epoch
        let missing = try await InternBinary.run(["metrics", "5", "--attempt", "9"], in: dir.path)
        #expect(missing.status == 64 && missing.stderr.contains("no attempt 9"))

        let status = try await InternBinary.run(["status"], in: dir.path)
        #expect(status.stdout.contains("5 total: 1 completed, 0 running, 4 failed"))

        // Running the finished campaign again resumes it: nothing runs twice.
        let again = try await InternBinary.run(["run", spec, "--workers", "1", "--quiet"], in: dir.path)
        #expect(again.status == 0)
        let store = try CampaignStore(directory: dir.file(".intern/embedded"), create: false, readOnly: true)
        #expect(try store.attempts().count == 9)
    }

    @Test func badCampaignFile_isAUsageErrorWithFileLineAndSuggestion() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("bad.yaml", """
            name: bad
            command: [echo, "{lr}"]
            space:
              lr: {type: uniform, low: 0, high: 1}
            trails: 3
            """)
        let result = try await InternBinary.run(["run", spec], in: dir.path)
        #expect(result.status == 64)
        #expect(result.stderr.contains("bad.yaml:5"))
        #expect(result.stderr.contains("trials"))
    }

    @Test func logsFollow_streamsALiveAttempt_untilItEnds() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("slow.yaml", """
            name: slow
            shell: "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.3; done"
            trials: 1
            """)
        let run = try InternBinary.start(["run", spec, "--workers", "1", "--quiet"], in: dir.path)
        // Wait until the attempt exists (its log file is made when it is assigned; the store exists
        // a moment before trial 1 does, and `logs 1` then has nothing to follow: seen once in CI),
        // then follow it.
        let log = dir.file(".intern/slow/logs/trial-1/attempt-1.stdout.zst")
        try await eventually("trial 1's attempt is assigned", timeout: .seconds(60)) { FileManager.default.fileExists(atPath: log) }
        let follow = try await InternBinary.run(["logs", "1", "--follow"], in: dir.path, timeout: .seconds(30))
        #expect(follow.stdout == (1...6).map { "line \($0)\n" }.joined())
        let exit = try await run.finish(timeout: .seconds(30))
        #expect(exit.status == 0)
    }
}
