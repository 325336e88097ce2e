import Foundation
import InternTestKit
import Testing

/// The lab with three real campaigns run by the real binary under one root: the second fails
/// the way the first did and is shown the note written on the first; the third fails another
/// way and is told nothing.
@Suite(.serialized) struct LabEndToEndTests {
    /// `broken` fails as a missing package does; `odd` with another error; anything else reports a score.
    static let job = """
        import sys
        x = sys.argv[1]
        if x == "broken":
            import transfomers
        if x == "odd":
            raise ValueError("the tokenizer's vocabulary is empty")
        print("METRIC score=%.3f" % {"a": 0.5, "b": 0.7, "c": 0.6}.get(x, 0.1))
        """

    static func spec(_ name: String, _ values: [String]) -> String {
        """
        name: \(name)
        command: [python3, job.py, "{x}"]
        space: {x: [\(values.joined(separator: ", "))]}
        sampler: grid
        objective: {metric: score, direction: maximize}
        metrics: {prefix: METRIC}
        """
    }

    static func run(_ name: String, _ values: [String], in dir: TemporaryDirectory) async throws {
        let spec = try dir.write("\(name).yaml", Self.spec(name, values))
        let result = try await InternBinary.run(["run", spec, "--workers", "2", "--quiet"], in: dir.path, timeout: .seconds(90))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }

    @Test func theSecondCampaignWithTheFirstsFailureSeesItsNote_theThirdWithAnotherFailureDoesNot() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        _ = try dir.write("job.py", Self.job)
        func intern(_ arguments: [String]) async throws -> InternBinary.Result {
            try await InternBinary.run(arguments, in: dir.path, timeout: .seconds(60))
        }

        try await Self.run("sft-1", ["a", "broken"], in: dir)
        let first = try await intern(["failures", "--json", "--campaign", "sft-1"])
        let groups = try #require(try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [[String: Any]], "\(first.stderr)")
        let digest = try #require(groups.first?["signature"] as? String)
        #expect(groups.count == 1 && groups.first?.keys.contains("seen_in") == false, "the first campaign has nothing earlier")
        let noted = try await intern(["note", String(digest.prefix(8)), "fixed by pinning transformers<5"])
        #expect(noted.status == 0, "\(noted.stderr)")
        #expect(noted.stdout.contains("noted on signature \(digest.prefix(8)) (signature \(digest)): fixed by pinning transformers<5"), "\(noted.stdout)")

        try await Self.run("sft-2", ["broken", "b"], in: dir)
        let second = try await intern(["failures", "--campaign", "sft-2"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("  seen in campaign sft-1 (1 trial, "), "\(second.stdout)")
        #expect(second.stdout.contains("on signature \(digest.prefix(8))): fixed by pinning transformers<5"), "\(second.stdout)")
        let status = try await intern(["status", "--campaign", "sft-2"])
        #expect(status.stdout.contains("seen before\n  \(digest.prefix(8)) ModuleNotFoundError: No module named 'transfomers'\n    seen in campaign sft-1 (1 trial, "), "\(status.stdout)")
        let report = try await intern(["report", "--campaign", "sft-2"])
        #expect(report.stdout.contains("## Failures seen in earlier campaigns\n\n- `\(digest.prefix(8))` ModuleNotFoundError"), "\(report.stdout)")
        #expect(report.stdout.contains("- ↳ seen in campaign sft-1 (1 trial, "), "\(report.stdout)")
        let html = try await intern(["report", "--campaign", "sft-2", "--format", "html"])
        #expect(html.stdout.contains("<h2>Failures seen in earlier campaigns</h2>") && html.stdout.contains("↳ seen in campaign sft-1"), "\(html.stdout.suffix(3000))")
        let reportJSON = try await intern(["report", "--campaign", "sft-2", "--format", "json"])
        let seenBefore = (try JSONSerialization.jsonObject(with: Data(reportJSON.stdout.utf8)) as? [String: Any])?["seen_before"] as? [String] ?? []
        #expect(seenBefore.first?.hasPrefix("`\(digest.prefix(8))` ModuleNotFoundError") == true, "\(seenBefore)")
        // The dashboard's campaign page (its analysis part) says so too, with the note.
        let serve = try InternBinary.start(["serve", "--root", dir.file(".intern"), "--listen", "127.0.0.1:0"], in: dir.path)
        defer { serve.signal(SIGKILL) }
        let url = try await DashboardEndToEndTests.dashboardURL(of: serve)
        let analysis = try await ProcessRunner.run(
            ["/usr/bin/python3", "-c", "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())", url + "c/sft-2/analysis"],
            timeout: .seconds(30))
        #expect(analysis.stdout.contains("<h2>Failures seen in earlier campaigns</h2>") && analysis.stdout.contains("seen in campaign sft-1 (1 trial, ")
                && analysis.stdout.contains("fixed by pinning transformers&lt;5"), "\(analysis.stdout.suffix(3000))\(analysis.stderr)")
        let digestText = try await intern(["digest", "--campaign", "sft-2", "--tokens", "4000"])
        #expect(digestText.stdout.contains("## seen before\n  \(digest.prefix(8)) ModuleNotFoundError"), "\(digestText.stdout)")
        #expect(digestText.stdout.hasSuffix("\n") && digestText.stdout.split(separator: "\n").last?.hasPrefix("cursor ") == true)
        let json = try await intern(["failures", "--json", "--campaign", "sft-2"])
        let seen = try #require((try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])?.first)
        let seenIn = (seen["seen_in"] as? [[String: Any]])?.first?["campaign"] as? String
        let notes = seen["notes"] as? [String] ?? []
        #expect(seenIn == "sft-1")
        #expect(notes.first?.hasSuffix("fixed by pinning transformers<5") == true, "\(notes)")

        try await Self.run("sft-3", ["odd", "c"], in: dir)
        let third = try await intern(["failures", "--campaign", "sft-3"])
        #expect(third.stdout.contains("ValueError") && !third.stdout.contains("seen in") && !third.stdout.contains("note ("), "\(third.stdout)")

        let campaigns = try await intern(["campaigns"])
        #expect(campaigns.status == 0, "\(campaigns.stderr)")
        let rows = campaigns.stdout.split(separator: "\n")
        #expect(rows.count == 4, "\(campaigns.stdout)")
        #expect(rows.dropFirst().allSatisfy { $0.contains(" finished ") && $0.contains("score ") }, "\(campaigns.stdout)")
        #expect(rows.contains { $0.hasPrefix("sft-2 ") && $0.contains("score 0.7") && $0.contains(" 1/2 ") }, "\(campaigns.stdout)")

        let all = try await intern(["failures", "--all"])
        #expect(all.stdout.contains("\(digest)  ") && all.stdout.contains(" on 2 trials in 2 campaigns\n"), "\(all.stdout)")
        #expect(all.stdout.contains("seen in campaign sft-2 (1 trial, "), "\(all.stdout)")

        let recall = try await intern(["recall", "transformers", "pinning"])
        #expect(recall.status == 0, "\(recall.stderr)")
        #expect(recall.stdout.split(separator: "\n").dropFirst().first?.hasPrefix("[note] note (") == true, "\(recall.stdout)")

        // A proposal in the failure's region is answered with the note; one outside it is not.
        let repeats = try await intern(["failures", "--all", "--proposed", "[{\"x\": \"broken\"}, {\"x\": \"a\"}]"])
        #expect(repeats.stdout.contains("configuration 1 (x=broken) repeats where campaign sft-2 (1 trial, "), "\(repeats.stdout)")
        #expect(repeats.stdout.contains("fixed by pinning transformers<5") && !repeats.stdout.contains("configuration 2"), "\(repeats.stdout)")

        let best = try await intern(["best", "--all"])
        #expect(best.stdout.split(separator: "\n").dropFirst().first?.hasPrefix("sft-2 ") == true, "\(best.stdout)")

        // Lost, the lab is rebuilt from the stores by the next lab command, and the note (kept
        // beside it) is still there; until then, the campaign's commands go on without it.
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: dir.file(".intern/.lab.sqlite" + suffix)) }
        let without = try await intern(["failures", "--campaign", "sft-2"])
        #expect(without.status == 0 && !without.stdout.contains("seen in"), "\(without.stdout)")
        #expect(!FileManager.default.fileExists(atPath: dir.file(".intern/.lab.sqlite")), "status, failures, digest never create a lab")
        #expect(try await intern(["campaigns"]).status == 0)
        let rebuilt = try await intern(["failures", "--campaign", "sft-2"])
        #expect(rebuilt.stdout.contains("fixed by pinning transformers<5"), "\(rebuilt.stdout)")
    }
}
