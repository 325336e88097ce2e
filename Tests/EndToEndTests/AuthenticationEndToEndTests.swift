import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

/// Authentication between real processes over TCP: a campaign runs through a proxy that alters
/// or replays the worker's messages (each one rejected, nothing lost or doubled); a worker with
/// other credentials, or none, is refused with its address logged; coordinators that cannot
/// prove they hold the campaign's secret never get a command run.
@Suite(.serialized) struct AuthenticationEndToEndTests {
    static let lines = 300

    private func campaign(_ dir: TemporaryDirectory, name: String, trials: Int, command: String? = nil) throws -> String {
        try dir.write("\(name).yaml", """
            name: \(name)
            shell: "\(command ?? "i=1; while [ $i -le \(Self.lines) ]; do echo trial {trial} line $i; i=$((i+1)); done; sleep 0.3; echo METRIC loss=0.{trial}")"
            trials: \(trials)
            objective: {metric: loss, direction: minimize}
            metrics: {prefix: METRIC}
            """)
    }

    private func initAuth(_ dir: TemporaryDirectory, _ name: String) async throws -> String {
        let result = try await InternBinary.run(["init-auth", dir.file(name)], in: dir.path)
        #expect(result.status == 0, "\(result.stderr)")
        // As docs/protocol.md says: the secret is 32 random bytes, written as 64 hexadecimal characters.
        let secret = try String(contentsOfFile: dir.file("\(name)/secret"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(secret.count == 64 && secret.allSatisfy(\.isHexDigit), "the secret file holds \(secret.count) characters")
        return dir.file(name)
    }

    /// Every 5th message the worker sends is altered (or sent twice) on the wire: the coordinator
    /// rejects it, logs the peer and hangs up; the worker reconnects and resends; every trial
    /// completes once with its whole log.
    @Test(arguments: ["tamper:5", "replay:5"])
    func alteredAndReplayedMessagesAreRejected_andNothingIsLostOrDoubled(mode: String) async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let auth = try await initAuth(dir, "auth")
        let spec = try campaign(dir, name: "sealed", trials: 6)
        let port = try NetworkCutEndToEndTests.freePort(), proxyPort = try NetworkCutEndToEndTests.freePort()
        let coordinator = try InternBinary.start(
            ["coordinator", spec, "--listen", "tcp://127.0.0.1:\(port)", "--auth", auth, "--root", dir.file(".intern")], in: dir.path)
        let (proxy, _) = try NetworkCutEndToEndTests.startProxy("tamperproxy.py", listen: proxyPort, target: port, mode: mode)
        defer { kill(proxy.processIdentifier, SIGKILL) }
        let worker = try InternBinary.start(
            ["worker", "--connect", "tcp://127.0.0.1:\(proxyPort)", "--auth", auth, "--slots", "2", "--id", "w"], in: dir.path)

        let result = try await coordinator.finish(timeout: .seconds(90))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let workerResult = try await worker.finish(timeout: .seconds(20))
        #expect(workerResult.status == 0, "\(workerResult.stderr)")
        let reason = mode.hasPrefix("tamper") ? "bad tag" : "replayed"
        #expect(result.stderr.contains("rejected a peer") && result.stderr.contains(reason), "\(result.stderr)")
        #expect(result.stderr.contains("peer=tcp://127.0.0.1:"))

        let store = try CampaignStore(directory: dir.file(".intern/sealed"), create: false, readOnly: true)
        let trials = try store.trials()
        #expect(trials.count == 6 && trials.allSatisfy { $0.status == .completed }, "\(trials.map(\.status))")
        for trial in trials {
            let attempts = try store.attempts(trial: trial.id)
            #expect(attempts.count == 1, "trial \(trial.id): \(attempts.map(\.status))")
            let log = String(decoding: try store.readLog(trial: trial.id, attempt: attempts[0].id, stream: .stdout), as: UTF8.self)
            let expected = (1...Self.lines).map { "trial \(trial.id) line \($0)\n" }.joined() + "METRIC loss=0.\(trial.id)\n"
            #expect(log == expected, "trial \(trial.id): \(log.count) bytes, expected \(expected.count)")
            #expect(trial.objective == Double("0.\(trial.id)"))
        }
    }

    /// A worker holding another campaign's credentials, and one holding none, are refused: the
    /// coordinator tells strangers nothing and hangs up (docs/security.md); each worker exits 1
    /// saying so and where to look, and the coordinator logs their address and reason and runs
    /// nothing for them.
    @Test func workersWithOtherOrNoCredentialsAreRefused() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let auth = try await initAuth(dir, "auth")
        let other = try await initAuth(dir, "other")
        let spec = try campaign(dir, name: "guarded", trials: 2)
        let port = try NetworkCutEndToEndTests.freePort()
        let coordinator = try InternBinary.start(
            ["coordinator", spec, "--listen", "tcp://127.0.0.1:\(port)", "--auth", auth, "--root", dir.file(".intern")], in: dir.path)
        let url = "tcp://127.0.0.1:\(port)"

        let wrong = try await InternBinary.run(["worker", "--connect", url, "--auth", other, "--id", "intruder"], in: dir.path, timeout: .seconds(30))
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("hung up 5 times in a row without answering"), "\(wrong.stderr)")
        let none = try await InternBinary.run(["worker", "--connect", url, "--insecure", "--id", "anonymous"], in: dir.path, timeout: .seconds(30))
        #expect(none.status == 1)
        #expect(none.stderr.contains("hung up 5 times in a row without answering"), "\(none.stderr)")
        // No credentials and no --insecure: refused before dialling.
        let refused = try await InternBinary.run(["worker", "--connect", url], in: dir.path, timeout: .seconds(30))
        #expect(refused.status == 64 && refused.stderr.contains("intern init-auth"), "\(refused.stderr)")

        let store = try await waitForStore(dir.file(".intern/guarded"))
        #expect(try store.workers().isEmpty)
        #expect(try store.attempts().isEmpty)
        // The right credentials finish the campaign.
        let worker = try await InternBinary.run(["worker", "--connect", url, "--auth", auth, "--id", "w"], in: dir.path, timeout: .seconds(60))
        #expect(worker.status == 0, "\(worker.stderr)")
        let result = try await coordinator.finish(timeout: .seconds(30))
        #expect(result.status == 0)
        #expect(result.stderr.contains("wrong credentials") && result.stderr.contains("an unauthenticated message"), "\(result.stderr)")
        #expect(try store.workers().map(\.id.rawValue) == ["w"])
    }

    /// Coordinators that do not hold the campaign's secret (one with other credentials, one
    /// running --insecure) cannot make a worker run anything: the worker exits 1 and the
    /// command, which would leave a file behind, never runs.
    @Test func aCoordinatorWithoutTheSecretCannotMakeAWorkerRunAnything() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let auth = try await initAuth(dir, "auth")
        let other = try await initAuth(dir, "other")
        let marker = dir.file("pwned")
        for (name, security) in [("fake", ["--auth", other]), ("open", ["--insecure"])] {
            let spec = try campaign(dir, name: name, trials: 1, command: "touch \(marker)")
            let port = try NetworkCutEndToEndTests.freePort()
            let fake = try InternBinary.start(
                ["coordinator", spec, "--listen", "tcp://127.0.0.1:\(port)", "--root", dir.file(".intern")] + security, in: dir.path)
            defer { kill(fake.process.processIdentifier, SIGKILL) }
            let worker = try await InternBinary.run(
                ["worker", "--connect", "tcp://127.0.0.1:\(port)", "--auth", auth, "--id", "victim"], in: dir.path, timeout: .seconds(30))
            #expect(worker.status == 1, "\(name): \(worker.stderr)")
            #expect(worker.stderr.contains("refused this worker"), "\(name): \(worker.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    /// Over tls+tcp:// the campaign's CA authenticates both ends before any message: the
    /// campaign completes; a worker with another campaign's certificates never joins: its
    /// handshake fails inside TLS and it stops saying so.
    @Test func aCampaignRunsOverMutualTLS_andAnotherCampaignsCertificatesGetNowhere() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let auth = try await initAuth(dir, "auth")
        let other = try await initAuth(dir, "other")
        let spec = try campaign(dir, name: "tls", trials: 4)
        let port = try NetworkCutEndToEndTests.freePort()
        let url = "tls+tcp://127.0.0.1:\(port)"
        let coordinator = try InternBinary.start(
            ["coordinator", spec, "--listen", url, "--auth", auth, "--root", dir.file(".intern")], in: dir.path)
        let intruder = try await InternBinary.run(
            ["worker", "--connect", url, "--auth", other, "--id", "intruder", "--give-up-after", "2"], in: dir.path, timeout: .seconds(30))
        #expect(intruder.status == 1 && intruder.stderr.contains("TLS handshake"), "\(intruder.stderr)")
        let worker = try await InternBinary.run(["worker", "--connect", url, "--auth", auth, "--id", "w", "--slots", "2"], in: dir.path, timeout: .seconds(60))
        #expect(worker.status == 0, "\(worker.stderr)")
        let result = try await coordinator.finish(timeout: .seconds(30))
        #expect(result.status == 0, "\(result.stderr)")
        let store = try CampaignStore(directory: dir.file(".intern/tls"), create: false, readOnly: true)
        #expect(try store.trials().allSatisfy { $0.status == .completed })
        #expect(try store.workers().map(\.id.rawValue) == ["w"])
    }

    /// A worker given the secret in its environment (INTERN_SECRET) joins over tcp://, and its
    /// jobs never see it: a job that prints its environment stores no secret in the logs.
    @Test func theSecretInAWorkersEnvironmentNeverReachesItsJobs() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let auth = try await initAuth(dir, "auth")
        let secret = try String(contentsOfFile: auth + "/secret", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let spec = try campaign(dir, name: "env", trials: 1, command: "env; echo METRIC loss=0.1")
        let port = try NetworkCutEndToEndTests.freePort()
        let url = "tcp://127.0.0.1:\(port)"
        let coordinator = try InternBinary.start(
            ["coordinator", spec, "--listen", url, "--auth", auth, "--root", dir.file(".intern")], in: dir.path)
        let worker = try await InternBinary.run(
            ["worker", "--connect", url, "--id", "w"], in: dir.path, timeout: .seconds(60),
            environment: ["INTERN_SECRET": secret, "INTERN_AUTH_DIR": ""])
        #expect(worker.status == 0, "\(worker.stderr)")
        #expect(try await coordinator.finish(timeout: .seconds(30)).status == 0)
        let store = try CampaignStore(directory: dir.file(".intern/env"), create: false, readOnly: true)
        let attempt = try #require(try store.attempts().first)
        let log = String(decoding: try store.readLog(trial: 1, attempt: attempt.id, stream: .stdout), as: UTF8.self)
        #expect(log.contains("INTERN_TRIAL=1"), "the job's environment was printed")
        #expect(!log.contains(secret) && !log.contains("INTERN_SECRET"), "the secret reached the job")
        #expect(!worker.stderr.contains(secret))
    }
}
