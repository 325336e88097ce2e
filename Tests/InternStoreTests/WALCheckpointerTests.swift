import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

/// The coordinator's commits leave checkpoints to `WALCheckpointer`: the writer lets its log grow
/// past SQLite's 1,000 pages, and a checkpoint on the checkpointer's own connection copies all of
/// it, after which the writer starts the log over.
@Suite struct WALCheckpointerTests {
    @Test func theWriterLeavesCheckpointsToTheCheckpointer_whichCopiesTheWholeLog() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try CampaignStore(directory: dir.file("c"))
        try store.register(spec: CampaignStoreTests.spec, specPath: "/x.yaml", specYAML: "name: store-test", now: 1)
        let checkpointer = try WALCheckpointer(store: store)
        let message = String(repeating: "x", count: 6_000)
        // 1,500 commits of two pages or more each: well past SQLite's own threshold.
        for index in 0..<1_500 {
            try store.apply([.event(CampaignEvent(kind: "bulk", message: message, at: Timestamp(index)))])
        }
        let walPath = store.databasePath + "-wal"
        let walBytes = try #require(try FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int)
        #expect(walBytes > 1_000 * 4_096, "the writer checkpointed by itself: the log is \(walBytes) bytes")

        let first = try checkpointer.checkpoint()
        #expect(first.walFrames > 1_000 && first.checkpointed == first.walFrames)
        // The next commit starts the log over: a checkpoint then finds only its frames.
        try store.apply([.event(CampaignEvent(kind: "after", message: "m", at: 2_000))])
        let second = try checkpointer.checkpoint()
        #expect(second.walFrames < 10 && second.checkpointed == second.walFrames)
        #expect(try store.events(kinds: ["after"]).count == 1)
        #expect(try store.events(kinds: ["bulk"]).count == 1_500)
    }
}
