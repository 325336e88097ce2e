import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

@testable import InternLab

/// The lab over real campaign stores (synthetic, written straight into SQLite) and a real lab database.
@Suite(.serialized) struct LabIndexTests {
    /// Three campaigns a day apart whose failures draw from one small pool of signatures.
    static func root() throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory(prefix: "intern-lab")
        try SyntheticLab.create(root: dir.path, campaigns: 3, failures: 30, signatures: 4, pool: 5, completed: 10)
        return dir
    }

    @Test func everyCampaignUnderTheRootIsIndexed_withItsBestAndItsFailures() throws {
        let dir = try Self.root()
        defer { dir.remove() }
        let lab = try Lab(roots: [dir.path])
        let summary = try lab.refresh(now: 1_900_000_000_000)
        #expect(summary.indexed.count == 3 && summary.unreadable.isEmpty)
        let campaigns = try lab.campaigns()
        #expect(Set(campaigns.map(\.name)) == ["synth-1", "synth-2", "synth-3"])
        for campaign in campaigns {
            #expect(campaign.state == "finished" && campaign.trials == 40 && campaign.completed == 10 && campaign.failed == 30)
            #expect(campaign.host.hasPrefix("gpu-node-"))
            #expect(campaign.best?.metric == "eval_loss" && campaign.best?.validated == false)
        }
        // The pool is small: some signature recurs, and the later campaign is told of the earlier.
        let sightings = try lab.sightings()
        #expect(sightings.reduce(0) { $0 + $1.attempts } == 90)
        let shared = try #require(Dictionary(grouping: sightings, by: \.digest).first { Set($0.value.map(\.campaign)).count >= 2 })
        let latest = shared.value.max { $0.campaignCreatedAt < $1.campaignCreatedAt }!
        let recurrence = try #require(try lab.recurrences(of: [shared.key], directory: latest.directory, createdAt: latest.campaignCreatedAt)[shared.key])
        #expect(recurrence.lines.first?.hasPrefix("seen in campaign synth-") == true)
        #expect(!recurrence.earlier.contains { $0.campaign == latest.campaign })
    }

    @Test func aSecondRefreshReadsNoStoreAgain_untilACampaignChanges() throws {
        let dir = try Self.root()
        defer { dir.remove() }
        let lab = try Lab(roots: [dir.path])
        try lab.refresh(now: 1_900_000_000_000)
        let again = try lab.refresh(now: 1_900_000_000_000)
        #expect(again.indexed.isEmpty && again.unchanged == 3)

        // A new failure in synth-2: only synth-2 is read again, and its new signature is found.
        let store = try CampaignStore(directory: dir.file("synth-2"), create: false)
        var trial = TrialRecord(id: 41, parameters: ["lr": .double(0.01), "model": .string("x")], status: .failed, attemptCount: 1, createdAt: 1, endedAt: 2)
        trial.endedAt = 1_900_000_000_000
        var attempt = AttemptRecord(id: 41, trial: 41, number: 1, worker: "w1", incarnation: 1, status: .failed, argv: ["x"], assignedAt: 1)
        attempt.endedAt = 1_900_000_000_000
        let signature = FailureSignature.make(fromLogTail: "RuntimeError: the flux capacitor melted")!
        attempt.failureClass = .user
        attempt.failureSignature = signature.digest
        attempt.signatureText = signature.text
        attempt.failureExcerpt = signature.excerpt
        try store.apply([.trial(trial), .attempt(attempt)])
        let changed = try lab.refresh(now: 1_900_000_000_000)
        #expect(changed.indexed == [Lab.canonical(dir.file("synth-2"))] && changed.unchanged == 2)
        #expect(try lab.sightings(of: [signature.digest]).map(\.campaign) == ["synth-2"])
        let hits = try #require(try lab.recall("flux capacitor"))
        #expect(hits.first?.kind == .failure && hits.first?.key == signature.digest)
    }

    @Test func aLostLabIsRebuiltFromTheStores_andKeepsItsNotes() throws {
        let dir = try Self.root()
        defer { dir.remove() }
        var lab = try Lab(roots: [dir.path])
        try lab.refresh(now: 1_900_000_000_000)
        let digest = try #require(try lab.sightings().first?.digest)
        try lab.add(LabNote(subject: .signature(digest), text: "fixed by pinning quasar<2", at: 1_900_000_000_000, author: "ana"))
        let before = try lab.sightings().count

        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: lab.path + suffix) }
        lab = try Lab(roots: [dir.path])
        #expect(try lab.campaigns().isEmpty)
        let rebuilt = try lab.refresh(now: 1_900_000_000_000)
        #expect(rebuilt.indexed.count == 3)
        #expect(try lab.sightings().count == before)
        #expect(try lab.allNotes().map(\.text) == ["fixed by pinning quasar<2"])
        let hits = try #require(try lab.recall("quasar"))
        #expect(hits.first?.kind == .note)
        // The note goes with the failure wherever it is found.
        let failure = try #require(try lab.recall(digest)?.first { $0.kind == .failure })
        #expect(failure.lines.contains { $0.contains("fixed by pinning quasar<2") })
    }

    @Test func aDamagedLabIsMovedAsideAndRebuilt() throws {
        let dir = try Self.root()
        defer { dir.remove() }
        try "not a database, not at all".write(toFile: dir.file(Lab.databaseName), atomically: true, encoding: .utf8)
        let lab = try Lab(roots: [dir.path])
        #expect(FileManager.default.fileExists(atPath: dir.file(Lab.databaseName + ".damaged")))
        #expect(try lab.refresh(now: 1_900_000_000_000).indexed.count == 3)
    }

    @Test func aCampaignGoneFromTheRootIsDropped_andANotesFileLineThatIsNoNoteIsAnError() throws {
        let dir = try Self.root()
        defer { dir.remove() }
        let lab = try Lab(roots: [dir.path])
        try lab.refresh(now: 1_900_000_000_000)
        try FileManager.default.removeItem(atPath: dir.file("synth-1"))
        #expect(try lab.refresh(now: 1_900_000_000_000).dropped == 1)
        #expect(try lab.campaigns().map(\.name).sorted() == ["synth-2", "synth-3"])
        #expect(try lab.sightings().allSatisfy { $0.campaign != "synth-1" })

        try "{\"broken\": true}\n{\"also\": 1}\n".write(toFile: dir.file(Lab.notesName), atomically: true, encoding: .utf8)
        #expect(throws: LabError.self) { try lab.refresh(now: 1_900_000_000_000) }
    }
}
