import Foundation
import InternStore
import InternTestKit
import Testing

/// Three "hosts" (network namespaces joined by veth links): the coordinator on one, a worker on
/// each of the other two, over authenticated TCP. One worker's link goes down mid-trial for
/// longer than the lease and comes back: every trial completes exactly once with its whole log.
/// A worker with another campaign's credentials, on one of the hosts, is rejected.
@Suite(.serialized, .enabled(if: NetworkNamespaces.available, "needs root and iproute2 for network namespaces"))
struct MultiHostEndToEndTests {
    static let trials = 10
    static let lines = 20

    @Test func aCampaignAcrossHosts_survivesALinkDown_andRejectsAStranger() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let hosts = try NetworkNamespaces(spokes: 2)
        defer { hosts.remove() }
        #expect(try await InternBinary.run(["init-auth", dir.file("auth")], in: dir.path).status == 0)
        #expect(try await InternBinary.run(["init-auth", dir.file("stranger")], in: dir.path).status == 0)
        let spec = try dir.write("hosts.yaml", """
            name: hosts
            shell: "i=1; while [ $i -le \(Self.lines) ]; do echo trial {trial} line $i; i=$((i+1)); sleep 0.1; done; echo METRIC loss=0.{trial}"
            trials: \(Self.trials)
            metrics: {prefix: METRIC}
            objective: {metric: loss, direction: minimize}
            """)
        let coordinator = try InternBinary.start(
            ["coordinator", spec, "--listen", "tcp://0.0.0.0:7700", "--auth", dir.file("auth"), "--root", dir.file(".intern"),
             "--heartbeat-ms", "200", "--lease-ms", "1500"], in: dir.path, namespace: hosts.hub)
        func worker(_ n: Int, id: String, auth: String, extra: [String] = []) throws -> ChildProcess {
            try InternBinary.start(
                ["worker", "--connect", "tcp://\(hosts.hubAddress(forSpoke: n)):7700", "--auth", auth, "--id", id, "--slots", "2"] + extra,
                in: dir.path, namespace: hosts.spokes[n - 1])
        }
        let stranger = try worker(2, id: "stranger", auth: dir.file("stranger"))
        let first = try worker(1, id: "w1", auth: dir.file("auth"))
        let second = try worker(2, id: "w2", auth: dir.file("auth"))

        // w1's link goes down while it runs attempts, for twice the lease, then comes back.
        let store = try await waitForStore(dir.file(".intern/hosts"))
        try await eventually("w1 runs an attempt", timeout: .seconds(30)) {
            try store.attempts().contains(where: { $0.worker.rawValue == "w1" && $0.status == .running })
        }
        try await Task.sleep(for: .milliseconds(500))
        try hosts.setLink(spoke: 1, up: false)
        try await Task.sleep(for: .seconds(3))
        try hosts.setLink(spoke: 1, up: true)

        let result = try await coordinator.finish(timeout: .seconds(120))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        for (name, process) in [("w1", first), ("w2", second)] {
            let ended = try await process.finish(timeout: .seconds(30))
            #expect(ended.status == 0, "\(name): \(ended.stderr)")
        }
        let refused = try await stranger.finish(timeout: .seconds(10))
        #expect(refused.status == 1 && refused.stderr.contains("hung up 5 times in a row without answering"), "\(refused.stderr)")
        #expect(result.stderr.contains("rejected a peer") && result.stderr.contains("peer=tcp://10.77.2.2:"), "\(result.stderr)")

        let kinds = try store.events(limit: 10_000).map(\.kind)
        #expect(kinds.contains("worker.lost"), "the link was down longer than the lease: \(kinds)")
        let trials = try store.trials()
        #expect(trials.count == Self.trials && trials.allSatisfy { $0.status == .completed }, "\(trials.map(\.status))")
        for trial in trials {
            let attempts = try store.attempts(trial: trial.id)
            let succeeded = attempts.filter { $0.status == .succeeded }
            #expect(succeeded.count == 1, "trial \(trial.id): \(attempts.map { ($0.worker.rawValue, $0.status) })")
            guard let attempt = succeeded.first else { continue }
            let log = String(decoding: try store.readLog(trial: trial.id, attempt: attempt.id, stream: .stdout), as: UTF8.self)
            #expect(log == (1...Self.lines).map { "trial \(trial.id) line \($0)\n" }.joined() + "METRIC loss=0.\(trial.id)\n",
                    "trial \(trial.id)'s log")
            #expect(trial.objective == Double("0.\(trial.id)"))
        }
        #expect(Set(try store.workers().map(\.id.rawValue)) == ["w1", "w2"])
    }
}
