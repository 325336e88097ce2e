import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

/// The link between a worker and the coordinator drops (a TCP proxy in between closes every
/// connection and refuses new ones) and comes back: the worker's attempt continues and counts
/// once, and its log is whole, whether the cut was shorter than the lease or longer.
@Suite(.serialized) struct NetworkCutEndToEndTests {
    static func freePort() throws -> Int {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        probe.arguments = ["-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"]
        let pipe = Pipe()
        probe.standardOutput = pipe
        try probe.run()
        probe.waitUntilExit()
        return Int(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Starts a proxy of Fixtures (`cutproxy.py`, `tamperproxy.py`) forwarding `listen` to
    /// `target` (in `mode`, if given) and waits until it listens; its standard output stays
    /// readable.
    static func startProxy(_ script: String, listen: Int, target: Int, mode: String? = nil) throws -> (Process, Pipe) {
        let proxy = Process()
        proxy.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        proxy.arguments = [CampaignEndToEndTests.fixtures + "/" + script, String(listen), String(target)] + (mode.map { [$0] } ?? [])
        let output = Pipe()
        proxy.standardOutput = output
        proxy.standardError = FileHandle.nullDevice
        try proxy.run()
        _ = output.fileHandleForReading.availableData  // "ready"
        return (proxy, output)
    }

    @Test func aCutShorterThanTheLease_changesNothing_andALongerOne_reattachesTheRunningAttempt() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("c.yaml", """
            name: cut
            shell: "i=1; while [ $i -le 60 ]; do echo line $i; i=$((i+1)); sleep 0.1; done"
            trials: 1
            """)
        let coordinatorPort = try Self.freePort()
        let proxyPort = try Self.freePort()
        let coordinator = try InternBinary.start(
            ["coordinator", spec, "--listen", "tcp://127.0.0.1:\(coordinatorPort)", "--insecure", "--root", dir.file(".intern"),
             "--heartbeat-ms", "200", "--lease-ms", "1500"], in: dir.path)
        let (proxy, _) = try Self.startProxy("cutproxy.py", listen: proxyPort, target: coordinatorPort)
        defer { kill(proxy.processIdentifier, SIGKILL) }
        let worker = try InternBinary.start(["worker", "--connect", "tcp://127.0.0.1:\(proxyPort)", "--insecure", "--id", "w"], in: dir.path)

        let store = try await waitForStore(dir.file(".intern/cut"))
        try await eventually("the attempt runs", timeout: .seconds(20)) {
            try store.attempts().contains(where: { $0.status == .running })
        }
        try await Task.sleep(for: .milliseconds(500))
        // A short cut: under the 1.5 s lease.
        kill(proxy.processIdentifier, SIGUSR1)
        try await Task.sleep(for: .milliseconds(500))
        kill(proxy.processIdentifier, SIGUSR2)
        try await Task.sleep(for: .milliseconds(800))
        #expect(try store.attempts().first?.status == .running)
        #expect(try !store.events(limit: 1_000).contains { $0.kind == "worker.lost" })
        // A long cut: the worker is declared lost, its attempt lost, its trial pending (no other
        // worker to run it). The job goes on meanwhile.
        kill(proxy.processIdentifier, SIGUSR1)
        try await Task.sleep(for: .milliseconds(2_500))
        #expect(try store.attempts().first?.status == .lost)
        kill(proxy.processIdentifier, SIGUSR2)

        let result = try await coordinator.finish(timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let workerResult = try await worker.finish(timeout: .seconds(20))
        #expect(workerResult.status == 0)
        let attempts = try store.attempts()
        let events = try store.events(limit: 1_000).map { "\($0.at) \($0.kind) \($0.message)" }
        #expect(attempts.count == 1, "\(attempts.map { ($0.id, $0.status) })\n\(events)\nworker: \(workerResult.stderr)\ncoordinator: \(result.stderr)")
        #expect(attempts.first?.status == .succeeded)
        let log = try store.readLog(trial: 1, attempt: attempts[0].id, stream: .stdout)
        #expect(String(decoding: log, as: UTF8.self) == (1...60).map { "line \($0)\n" }.joined())
        let kinds = try store.events(limit: 1_000).map(\.kind)
        #expect(kinds.contains("worker.lost") && kinds.contains("attempt.reattached"), "\(kinds)")
        #expect(try store.trials().first?.status == .completed)
        #expect(try store.trials().first?.retriesUsed == 0)
    }

    /// The link drops just as the coordinator tells the worker the campaign is finished, and
    /// stays down for a second: the coordinator, which handed "finished" to a connection that
    /// then dropped, lingers until the worker has heard it (the worker asks again once the link
    /// is back, and says goodbye); the worker exits at once instead of waiting for a coordinator
    /// that is gone.
    @Test func aFinishedReplyLostWithTheLink_isToldAgain_andTheWorkerExits() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("c.yaml", """
            name: ending
            shell: "echo trial {trial}; echo METRIC loss=0.{trial}"
            trials: 3
            objective: {metric: loss, direction: minimize}
            metrics: {prefix: METRIC}
            """)
        let coordinatorPort = try Self.freePort()
        let proxyPort = try Self.freePort()
        let coordinator = try InternBinary.start(
            ["coordinator", spec, "--listen", "tcp://127.0.0.1:\(coordinatorPort)", "--insecure", "--root", dir.file(".intern")],
            in: dir.path)
        let (proxy, proxyOutput) = try Self.startProxy("cutproxy.py", listen: proxyPort, target: coordinatorPort, mode: "drop-finished:1000")
        defer { kill(proxy.processIdentifier, SIGKILL) }
        let worker = try InternBinary.start(
            ["worker", "--connect", "tcp://127.0.0.1:\(proxyPort)", "--insecure", "--slots", "2", "--id", "w"], in: dir.path)

        let result = try await coordinator.finish(timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let workerResult = try await worker.finish(timeout: .seconds(10))
        #expect(workerResult.status == 0, "\(workerResult.stderr)")
        kill(proxy.processIdentifier, SIGKILL)
        let said = String(decoding: proxyOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(said.contains("dropped finished"), "the proxy never saw the finished reply: \(said)")
        let store = try CampaignStore(directory: dir.file(".intern/ending"), create: false, readOnly: true)
        #expect(try store.trials().allSatisfy { $0.status == .completed })
    }
}
