import Foundation
import InternStore
import InternTestKit
import Testing

/// `cpus:` with real processes: a worker offering 4 CPUs and 4 slots runs at most two attempts
/// of 2 CPUs at once, and each job is told its share (INTERN_CPUS).
@Suite(.serialized) struct ResourcesEndToEndTests {
    @Test func aWorkersCPUsBoundItsConcurrentAttempts() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("cpus.yaml", """
            name: cpus
            shell: "echo cpus=$INTERN_CPUS; sleep 0.6"
            trials: 6
            cpus: 2
            memory: 1GiB
            """)
        let coordinator = try InternBinary.start(["coordinator", spec, "--root", dir.file(".intern")], in: dir.path)
        let store = try await waitForStore(dir.file(".intern/cpus"))
        let url = try #require(try store.info()?.coordinatorURL)
        let worker = try await InternBinary.run(
            ["worker", "--connect", url, "--id", "w", "--slots", "4", "--cpus", "4", "--memory", "64GiB"], in: dir.path, timeout: .seconds(60))
        #expect(worker.status == 0, "\(worker.stderr)")
        #expect(try await coordinator.finish(timeout: .seconds(30)).status == 0)

        let attempts = try store.attempts()
        #expect(attempts.count == 6 && attempts.allSatisfy { $0.status == .succeeded })
        // The most attempts running at any instant.
        let edges = attempts.flatMap { [($0.startedAt ?? 0, 1), ($0.endedAt ?? 0, -1)] }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
        var running = 0, most = 0
        for (_, delta) in edges { running += delta; most = max(most, running) }
        #expect(most == 2, "at most two attempts of 2 CPUs on a worker offering 4 (seen \(most))")
        let log = String(decoding: try store.readLog(trial: 1, attempt: attempts[0].id, stream: .stdout), as: UTF8.self)
        #expect(log == "cpus=2\n")
        let offered = try #require(try store.workers().first)
        #expect(offered.cpus == 4 && offered.memoryBytes == 64 << 30)
    }
}
