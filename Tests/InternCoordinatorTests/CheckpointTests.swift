import Foundation
@testable import InternCoordinator
import InternCore
import InternStore
import InternTestKit
import Logging
import Testing

/// A running coordinator copies its store's write-ahead log into the database file in the
/// background (`WALCheckpointer`), while its own commits leave the log to grow: without it,
/// nothing would reach the database file below `CampaignStore.writerCheckpointPages`.
@Suite(.serialized) struct CheckpointTests {
    @Test func aRunningCoordinator_checkpointsItsStoreInTheBackground() async throws {
        let directory = try TemporaryDirectory(prefix: "intern-checkpoint")
        defer { directory.remove() }
        let spec = ReceiveContextTests.spec()
        let store = try CampaignStore(directory: directory.file("campaign"))
        _ = try store.register(spec: spec, specPath: directory.file("campaign.yaml"), specYAML: "", now: 0)
        let databaseBytes = { (try? FileManager.default.attributesOfItem(atPath: store.databasePath)[.size] as? Int) ?? 0 }
        // About 9 MB of log, well under the 64 MB past which the writer would checkpoint itself.
        let message = String(repeating: "x", count: 6_000)
        for index in 0..<1_500 {
            try store.apply([.event(CampaignEvent(kind: "bulk", message: message, at: Timestamp(index)))])
        }
        #expect(databaseBytes() < 4 << 20, "the writer checkpointed by itself")

        let coordinator = try Coordinator(
            spec: spec, store: store, options: CoordinatorOptions(listen: ["ipc://\(directory.file("c.sock"))"]),
            logger: Logger(label: "test"))
        try await coordinator.listen()
        let running = Task { try await coordinator.run() }
        defer { running.cancel() }
        try await eventually("the log copied into the database file", timeout: .seconds(10)) { databaseBytes() > 8 << 20 }
    }
}
