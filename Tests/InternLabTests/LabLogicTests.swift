import InternCore
import InternReport
import Testing

@testable import InternLab

/// The lab's pure pieces: regions, the query, ranking, the budget, "seen in", notes' subjects.
struct LabLogicTests {
    static func sighting(_ campaign: String, created: Int64, digest: String = "00000000000000aa", trials: Int = 3, region: FailureRegion = .init(extents: [:])) -> Sighting {
        Sighting(
            campaign: campaign, directory: "/root/\(campaign)", campaignCreatedAt: created, digest: digest, failureClass: "user", attempts: trials,
            trials: trials, firstSeen: created + 1_000, lastSeen: created + 2_000, signatureText: "ModuleNotFoundError: No module named <str>",
            excerpt: "ModuleNotFoundError: No module named 'transfomers'", region: region)
    }

    @Test func regionHoldsAConfigurationWithinItsRangesAndSets_notOneOutside() {
        let region = FailureRegion(of: [["lr": .double(0.1), "model": .string("a")], ["lr": .double(0.5), "model": .string("b")]])
        #expect(region.holds(["lr": .double(0.3), "model": .string("b")]))
        #expect(region.holds(["lr": .int(0), "model": .string("a")]) == false, "0 is below the failing range")
        #expect(region.holds(["lr": .double(0.3), "model": .string("c")]) == false)
        #expect(region.summary == "lr 0.1…0.5; model {a, b}")
    }

    @Test func regionIgnoresParametersTheProposalDoesNotName_butNeedsOneInCommon() {
        let region = FailureRegion(of: [["lr": .double(0.1), "layers": .int(4)]])
        #expect(region.holds(["lr": .double(0.1), "dropout": .double(0.2)]))
        #expect(region.holds(["dropout": .double(0.2)]) == false)
    }

    @Test func queryQuotesEveryWord_soFTSOperatorsTypedInTheTextAreWords() {
        #expect(Recall.query("No module NAMED transformers<5 AND NEAR(x)*") == "\"no\" OR \"module\" OR \"named\" OR \"transformers\" OR \"5\" OR \"and\" OR \"near\" OR \"x\"")
        #expect(Recall.query("cuda_oom cuda_oom") == "\"cuda_oom\"")
        #expect(Recall.query(" -- ** ") == nil)
    }

    static func hit(_ kind: Recall.Kind, _ campaign: String, _ key: String, bm25: Double, lines: [String] = ["a line"]) -> Recall.Hit {
        Recall.Hit(kind: kind, campaign: campaign, key: key, bm25: bm25, at: 0, lines: lines)
    }

    @Test func rankingWeighsANoteAboveADigestOfTheSameRelevance() {
        let ranked = Recall.ranked([Self.hit(.digest, "a", "digest", bm25: -2), Self.hit(.note, "", "1", bm25: -2), Self.hit(.failure, "b", "f", bm25: -2.5)])
        #expect(ranked.map(\.kind) == [.note, .failure, .digest])
    }

    @Test func oneSignatureInSeveralCampaignsIsFoldedIntoItsBestHit_namingTheOthers() {
        let folded = Recall.folded([
            Self.hit(.failure, "sft-1", "aa", bm25: -1), Self.hit(.failure, "sft-2", "aa", bm25: -3), Self.hit(.failure, "sft-3", "bb", bm25: -2),
        ])
        #expect(folded.map(\.campaign) == ["sft-2", "sft-3"])
        #expect(folded[0].lines.last == "also in campaign sft-1")
    }

    @Test func answerKeepsWholeHitsWithinTheBudget_andSaysHowManyAreLeftOut() {
        let long = String(repeating: "word ", count: 60)
        let hits = (1...10).map { Self.hit(.failure, "c\($0)", "k\($0)", bm25: -Double($0), lines: [long, long]) }
        let answer = Recall.answer(hits, query: "word", tokens: 200)
        let used = answer.split(separator: "\n").reduce(0) { $0 + CampaignDigest.tokens(String($1)) }
        #expect(used <= 200)
        #expect(answer.hasPrefix("10 matches for \"word\", best first:\n[failure] "))
        #expect(answer.contains("… 9 more matches left out to keep within 200 tokens"))
    }

    @Test func aFirstHitThatAloneIsOverTheBudgetIsCut_notDropped() {
        let huge = String(repeating: "x", count: 4_000)
        let answer = Recall.answer([Self.hit(.digest, "a", "digest", bm25: -1, lines: [huge])], query: "x", tokens: 100)
        #expect(answer.contains("[digest] xxx"))
        #expect(answer.split(separator: "\n").reduce(0) { $0 + CampaignDigest.tokens(String($1)) } <= 100)
    }

    @Test func aFailureSeenInAnEarlierCampaignSaysWhere_withTheNoteOnIt() {
        let note = LabNote(subject: .signature("00000000000000aa"), text: "fixed by pinning transformers<5", at: 1_796_083_200_000, author: "ana")
        let earlier = Self.sighting("sft-3", created: 1_795_996_800_000, trials: 12)
        let later = Self.sighting("sft-5", created: 1_796_256_000_000)
        let recurrence = Recurrence.of(
            digest: "00000000000000aa", directory: "/root/sft-4", createdAt: 1_796_169_600_000, sightings: [earlier, later], notes: [note])
        #expect(recurrence?.lines == [
            "seen in campaign sft-3 (12 trials, 2026-11-30)",
            "note (2026-12-01, ana, on signature 00000000): fixed by pinning transformers<5",
        ])
        // The earliest campaign has nothing earlier to point at, and no note: nothing to say.
        #expect(Recurrence.of(digest: "00000000000000aa", directory: "/root/sft-3", createdAt: earlier.campaignCreatedAt, sightings: [earlier, later], notes: []) == nil)
    }

    @Test func labDatesAreCivilDatesInUTC() {
        #expect(LabDate.day(0) == "1970-01-01")
        #expect(LabDate.day(951_782_400_000) == "2000-02-29")
        #expect(LabDate.minute(1_796_083_200_000 + 3_660_000) == "2026-12-01 01:01")
        #expect(LabDate.day(-1) == "1969-12-31")
    }

    @Test func noteSubjectIsACampaignATrialOrASignaturePrefix_orAClearError() throws {
        let digests = ["3fa2b9c100000000", "3fa2b9c1ffff0000", "abcdef0123456789"]
        let lookup = { (prefix: String) in digests.filter { $0.hasPrefix(prefix) } }
        #expect(try NoteSubject.parse("sft-3", campaigns: ["sft-3"], digests: lookup) == .campaign("sft-3"))
        #expect(try NoteSubject.parse("42", campaigns: [], digests: lookup) == .trial(42))
        #expect(try NoteSubject.parse("ABCDEF01", campaigns: [], digests: lookup) == .signature("abcdef0123456789"))
        #expect(throws: LabError.self) { try NoteSubject.parse("3fa2b9c1", campaigns: [], digests: lookup) }
        #expect(throws: LabError.self) { try NoteSubject.parse("deadbeef", campaigns: [], digests: lookup) }
        #expect(throws: LabError.self) { try NoteSubject.parse("what", campaigns: ["sft-3"], digests: lookup) }
    }

    @Test func aProposalInANotedFailuresRegionIsAnsweredWithTheNote_anUnnotedOneIsNot() {
        let region = FailureRegion(of: [["lr": .double(0.3)], ["lr": .double(0.9)]])
        let noted = Self.sighting("sft-3", created: 1, digest: "00000000000000aa", region: region)
        let unnoted = Self.sighting("sft-3", created: 1, digest: "00000000000000bb", region: region)
        let note = LabNote(subject: .trial(campaign: "sft-3", trial: 4, signature: "00000000000000aa"), text: "lr above 0.2 diverges", at: 5, author: "ana")
        let check = ProposalCheck(configurations: [["lr": .double(0.5)], ["lr": .double(0.01)]], sightings: [noted, unnoted], notes: [note])
        #expect(check.matches.count == 1)
        #expect(check.matches.first?.configuration == 1)
        #expect(check.text.contains("configuration 1 (lr=0.5) repeats where campaign sft-3 (3 trials, 1970-01-01) failed: 00000000 ModuleNotFoundError"))
        #expect(check.text.contains("lr above 0.2 diverges"))
        #expect(ProposalCheck(configurations: [["lr": .double(0.01)]], sightings: [noted], notes: [note]).text.isEmpty)
    }

    @Test func findingsRankValidatedFirstThenByTheMetricsDirection() {
        func finding(_ campaign: String, _ value: Double, validated: Bool, direction: String = "minimize") -> Finding {
            Finding(campaign: campaign, stage: "", metric: "loss", direction: direction, trial: 1, objective: value, validated: validated, parameters: ["model": "llama-7b"])
        }
        let ranked = Finding.ranked([finding("a", 0.2, validated: false), finding("b", 0.4, validated: true), finding("c", 0.3, validated: true)])
        #expect(ranked.map(\.campaign) == ["c", "b", "a"])
        #expect(ranked[0].matches(["model": "llama-7b"]) && !ranked[0].matches(["model": "qwen"]))
    }
}
