import Foundation
import InternStore
import InternTestKit
import Testing

/// The admin commands against a remote coordinator (`--coordinator URL`), authenticated with
/// the campaign's credentials over TCP: status, trials, pause and resume (dispatch stops and
/// restarts, running attempts go on), logs and logs --follow, cancel; other credentials, none,
/// and options that would reach another directory are refused.
@Suite(.serialized) struct RemoteAdminEndToEndTests {
    @Test func adminCommandsWorkAgainstARemoteCoordinator() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        #expect(try await InternBinary.run(["init-auth", dir.file("auth")], in: dir.path).status == 0)
        #expect(try await InternBinary.run(["init-auth", dir.file("other")], in: dir.path).status == 0)
        let spec = try dir.write("remote.yaml", """
            name: remote
            shell: "i=1; while [ $i -le 8 ]; do echo trial {trial} step $i; i=$((i+1)); sleep 0.2; done; echo METRIC loss=0.{trial}"
            trials: 6
            metrics: {prefix: METRIC}
            objective: {metric: loss, direction: minimize}
            """)
        let port = try NetworkCutEndToEndTests.freePort()
        let url = "tcp://127.0.0.1:\(port)"
        let coordinator = try InternBinary.start(
            ["coordinator", spec, "--listen", url, "--auth", dir.file("auth"), "--root", dir.file(".intern")], in: dir.path)
        // The admin client runs from elsewhere: no campaign directory where it stands.
        let elsewhere = try TemporaryDirectory(prefix: "intern-admin")
        defer { elsewhere.remove() }
        let remote = ["--coordinator", url, "--auth", dir.file("auth")]
        func admin(_ arguments: [String]) async throws -> InternBinary.Result {
            try await InternBinary.run(arguments + remote, in: elsewhere.path, timeout: .seconds(60))
        }

        // Paused before any worker joins: nothing starts.
        let pause = try await admin(["pause"])
        #expect(pause.status == 0 && pause.stdout.contains("paused"), "\(pause.stdout)\(pause.stderr)")
        let worker = try InternBinary.start(
            ["worker", "--connect", url, "--auth", dir.file("auth"), "--id", "w", "--slots", "2", "--cpus", "3", "--memory", "2GiB"], in: dir.path)
        try await Task.sleep(for: .seconds(1.5))
        let paused = try await admin(["status"])
        #expect(paused.status == 0)
        #expect(paused.stdout.contains("state      paused"), "\(paused.stdout)")
        #expect(paused.stdout.contains("0 running"), "\(paused.stdout)")
        #expect(paused.stdout.contains("w  active"), "\(paused.stdout)")
        #expect(paused.stdout.contains("2 slots, 3 CPUs, 2.0 GiB"), "what the worker offers: \(paused.stdout)")

        // Resumed: trial 1 runs; its log is followed live until it ends.
        let resume = try await admin(["resume"])
        #expect(resume.status == 0 && resume.stdout.contains("resumed"), "\(resume.stdout)\(resume.stderr)")
        let cancel = try await admin(["cancel", "2"])
        #expect(cancel.status == 0 && cancel.stdout.contains("cancelled"), "\(cancel.stdout)\(cancel.stderr)")
        let followed = try await admin(["logs", "1", "--follow"])
        #expect(followed.status == 0, "\(followed.stderr)")
        #expect(followed.stdout == (1...8).map { "trial 1 step \($0)\n" }.joined() + "METRIC loss=0.1\n")

        let drain = try await admin(["drain", "nobody"])
        #expect(drain.stdout.contains("worker nobody is not active"), "\(drain.stdout)\(drain.stderr)")
        let trials = try await admin(["trials", "--json"])
        #expect(trials.status == 0 && trials.stdout.hasPrefix("["), "\(trials.stdout)")

        // Refused: other credentials, no credentials, a directory option, a non-admin command.
        let wrong = try await InternBinary.run(["status", "--coordinator", url, "--auth", dir.file("other")], in: elsewhere.path)
        #expect(wrong.status != 0 && wrong.stderr.contains("hung up without answering"), "\(wrong.stderr)")
        let none = try await InternBinary.run(["status", "--coordinator", url, "--insecure"], in: elsewhere.path)
        #expect(none.status != 0 && none.stderr.contains("hung up without answering"), "\(none.stderr)")
        let directory = try await admin(["trials", "--dir", "/etc"])
        #expect(directory.status == 64 && directory.stderr.contains("--dir cannot be used with --coordinator"), "\(directory.stderr)")

        // What the remote views show is what the local ones show.
        let result = try await worker.finish(timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stderr)")
        _ = try await coordinator.finish(timeout: .seconds(30))
        let store = try CampaignStore(directory: dir.file(".intern/remote"), create: false, readOnly: true)
        let statuses = try store.trials().map(\.status)
        #expect(statuses.filter { $0 == .completed }.count == 5 && statuses[1] == .cancelled, "\(statuses)")
        let events = try store.events(limit: 1_000).map(\.kind)
        #expect(events.contains("campaign.paused") && events.contains("campaign.resumed"), "\(events)")
    }
}
