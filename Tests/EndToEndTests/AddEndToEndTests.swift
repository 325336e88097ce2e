import Foundation
import InternStore
import InternTestKit
import Testing

/// `intern add` on a running campaign: proposed configurations run first (checked against the
/// space, a bad one refused with why), more trials are drawn, and `intern status` counts them.
@Suite(.serialized) struct AddEndToEndTests {
    @Test func proposedConfigurationsAndMoreTrialsJoinARunningCampaign() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("add.yaml", """
            name: add
            command: [python3, -c, "import sys; print('METRIC loss=' + sys.argv[1])", "{x}"]
            space:
              x: {type: uniform, low: 0, high: 1}
              depth: {type: int, low: 1, high: 4}
            trials: 2
            metrics: {prefix: METRIC}
            objective: {metric: loss, direction: minimize}
            """)
        let coordinator = try InternBinary.start(["coordinator", spec, "--root", dir.file(".intern")], in: dir.path)
        let store = try await waitForStore(dir.file(".intern/add"))
        let campaign = ["--dir", dir.file(".intern/add")]
        // Paused, so nothing is drawn before the proposals arrive.
        #expect(try await InternBinary.run(["pause"] + campaign, in: dir.path).status == 0)
        let bad = try await InternBinary.run(["add", "--param", "x=2"] + campaign, in: dir.path)
        #expect(bad.status == 64 && bad.stderr.contains("missing depth"), "\(bad.stderr)")
        let outside = try await InternBinary.run(["add", "--json", #"{"x": 2.5, "depth": 1}"#] + campaign, in: dir.path)
        #expect(outside.status == 64 && outside.stderr.contains("outside its domain"), "\(outside.stderr)")
        let added = try await InternBinary.run(
            ["add", "--param", "x=0.125", "--param", "depth=3", "--json", #"[{"x": 0.5, "depth": 1}]"#, "--trials", "1"] + campaign, in: dir.path)
        #expect(added.status == 0 && added.stdout.contains("2 configurations enqueued, 1 more trial to draw (5 trials in all)"),
                "\(added.stdout)\(added.stderr)")
        #expect(try await InternBinary.run(["resume"] + campaign, in: dir.path).status == 0)
        let url = try #require(try store.info()?.coordinatorURL)
        let worker = try await InternBinary.run(["worker", "--connect", url, "--id", "w"], in: dir.path, timeout: .seconds(60))
        #expect(worker.status == 0, "\(worker.stderr)")
        #expect(try await coordinator.finish(timeout: .seconds(30)).status == 0)

        let trials = try store.trials()
        #expect(trials.count == 5 && trials.allSatisfy { $0.status == .completed }, "\(trials.map(\.status))")
        #expect(trials[0].parameters == ["x": .double(0.125), "depth": .int(3)])
        #expect(trials[1].parameters == ["x": .double(0.5), "depth": .int(1)])
        #expect(trials[0].objective == 0.125)
        let status = try await InternBinary.run(["status"] + campaign, in: dir.path)
        #expect(status.stdout.contains("5 total: 5 completed"), "\(status.stdout)")
    }

    /// Amounts at the edges never crash a campaign: the CLI refuses them, and a request that
    /// reaches the coordinator anyway (written straight into the store, as a peer could) is
    /// answered "nothing added" and the campaign goes on; `intern resume` after it works.
    @Test func hugeAmountsAreRefused_andNeverCrashTheCoordinator() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("edge.yaml", """
            name: edge
            command: [/bin/true]
            trials: 2
            """)
        let coordinator = try InternBinary.start(["coordinator", spec, "--root", dir.file(".intern")], in: dir.path)
        let store = try await waitForStore(dir.file(".intern/edge"))
        let campaign = ["--dir", dir.file(".intern/edge")]
        #expect(try await InternBinary.run(["pause"] + campaign, in: dir.path).status == 0)
        for arguments in [["--trials", "9223372036854775807"], ["--gpu-hours", "inf"], ["--hours", "nan"], ["--hours", "1e300"]] {
            let refused = try await InternBinary.run(["add"] + arguments + campaign, in: dir.path)
            #expect(refused.status == 64 && refused.stderr.contains("must be"), "\(arguments): \(refused.stderr)")
        }
        let writable = try CampaignStore(directory: dir.file(".intern/edge"), create: false)
        let id = try writable.submit(.add, target: #"{"configurations":[],"trials":9223372036854775807,"hours":0,"gpuHours":0}"#, now: 0)
        var outcome: String?
        for _ in 0..<100 where outcome == nil {
            outcome = try store.controlOutcome(id)
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(outcome?.hasPrefix("nothing added") == true, "\(outcome ?? "-")")
        #expect(try await InternBinary.run(["resume"] + campaign, in: dir.path).status == 0)
        let url = try #require(try store.info()?.coordinatorURL)
        let worker = try await InternBinary.run(["worker", "--connect", url, "--id", "w"], in: dir.path, timeout: .seconds(60))
        #expect(worker.status == 0, "\(worker.stderr)")
        #expect(try await coordinator.finish(timeout: .seconds(30)).status == 0)
        #expect(try store.trials().count == 2)
    }
}
