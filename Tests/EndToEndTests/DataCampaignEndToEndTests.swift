import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

/// Data campaigns with the real binary and examples/data-filter: a map over shards, a reduce over
/// all of them, totals that equal the planted counts, the audit sample; a worker killed mid-shard
/// reruns that shard only and it counts once; a resumed campaign maps over the same shards.
@Suite(.serialized) struct DataCampaignEndToEndTests {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/data-filter").path

    /// A copy of the example in a temporary directory, its corpus generated (`shards` of `rows`),
    /// and the planted counts.
    static func prepare(shards: Int = 16, rows: Int = 500, env: String? = nil) throws -> (TemporaryDirectory, [String: Double]) {
        let dir = try TemporaryDirectory(prefix: "intern-data")
        for file in ["generate.py", "filter.py", "merge.py", "toxic_words.txt", "campaign.yaml"] {
            var text = try String(contentsOfFile: example + "/" + file, encoding: .utf8)
            if file == "campaign.yaml", let env { text = text.replacingOccurrences(of: "retries: 1\n", with: "retries: 1\nenv: \(env)\n") }
            _ = try dir.write(file, text)
        }
        let generate = Process()
        generate.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        generate.arguments = ["python3", "generate.py", "--out", "data", "--shards", String(shards), "--rows", String(rows)]
        generate.currentDirectoryURL = URL(fileURLWithPath: dir.path)
        generate.standardOutput = FileHandle.nullDevice
        try generate.run()
        generate.waitUntilExit()
        let planted = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("data/planted.json")))) as! [String: Double]
        return (dir, planted)
    }

    /// The campaign's totals as `intern report --format json` gives them.
    static func totals(_ dir: TemporaryDirectory) async throws -> [String: Any] {
        let report = try await InternBinary.run(["report", "--format", "json", "--dir", dir.file(".intern/data-filter")], in: dir.path)
        let object = try #require(try JSONSerialization.jsonObject(with: report.stdoutBytes) as? [String: Any], "\(report.stderr)")
        return try #require(object["totals"] as? [String: Any], "\(report.stdout)")
    }

    static let counted = ["rows_in", "rows_kept", "dropped/duplicate", "dropped/near_duplicate", "dropped/toxicity"]

    @Test func theExamplesTotalsEqualThePlantedCounts_andTheReduceMergesEveryShard() async throws {
        let (dir, planted) = try Self.prepare()
        defer { dir.remove() }
        let result = try await InternBinary.run(["run", "campaign.yaml", "--workers", "2", "--quiet"], in: dir.path, timeout: .seconds(180))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let store = try CampaignStore(directory: dir.file(".intern/data-filter"), create: false, readOnly: true)
        let totals = try await Self.totals(dir)
        let values = try #require(totals["values"] as? [String: Double])
        for name in Self.counted {
            #expect(values[name] == planted[name], "\(name): \(values[name] ?? -1) vs planted \(planted[name] ?? -1)")
        }
        #expect(totals["progress"] as? String == "16 shards: 16 completed, 0 failed, 0 to run")
        #expect((totals["shards"] as? [Any])?.count == 16 && (totals["to_run"] as? [Any])?.isEmpty == true)
        // The reduce ran once, fed by all 16 shards, and found every cross-shard copy.
        let merge = try #require(try store.trials().first { $0.stage == 1 })
        #expect(merge.status == .completed && merge.parents.count == 16)
        let attempt = try #require(try store.attempts(trial: merge.id).last)
        let merged = try store.lastMetricValues(attempt: attempt.id, always: ["rows_final", "dropped_global/duplicate"])
        #expect(merged["rows_final"] == planted["rows_final"] && merged["dropped_global/duplicate"] == planted["cross_shard_duplicates"])
        // status, report and samples show it.
        let location = ["--dir", dir.file(".intern/data-filter")]
        let status = try await InternBinary.run(["status"] + location, in: dir.path)
        #expect(status.stdout.contains("totals     rows_in \(Int(planted["rows_in"]!)) ("), "\(status.stdout)")
        #expect(status.stdout.contains("shards     16 shards: 16 completed, 0 failed, 0 to run"), "\(status.stdout)")
        let report = try await InternBinary.run(["report"] + location, in: dir.path)
        #expect(report.stdout.contains("## Totals") && report.stdout.contains("| dropped/toxicity | \(Int(planted["dropped/toxicity"]!)) |"), "\(report.stdout)")
        #expect(report.stdout.contains("## Audit sample") && report.stdout.contains("toxicity: \(Int(planted["dropped/toxicity"]!)) seen, 20 kept"), "\(report.stdout)")
        let samples = try await InternBinary.run(["samples", "--reason", "toxicity", "--json"] + location, in: dir.path)
        let lines = samples.stdout.split(separator: "\n")
        #expect(lines.count == 20, "\(samples.stdout)\(samples.stderr)")
        let toxic = Set(try String(contentsOfFile: dir.file("toxic_words.txt"), encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init))
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let text = try #require((object["record"] as? [String: Any])?["text"] as? String)
            #expect(!toxic.isDisjoint(with: text.split(separator: " ").map(String.init)), "\(text)")
        }
        let again = try await InternBinary.run(["samples", "--reason", "toxicity", "--json"] + location, in: dir.path)
        #expect(again.stdout == samples.stdout)
        let unknown = try await InternBinary.run(["samples", "--reason", "toxic"] + location, in: dir.path)
        #expect(unknown.status != 0 && unknown.stderr.contains("reasons: "), "\(unknown.stderr)")
    }

    @Test func aWorkerKilledMidShard_rerunsOnlyThatShard_andTotalsCountItOnce() async throws {
        let (dir, planted) = try Self.prepare(shards: 4, rows: 200, env: #"{FILTER_SLEEP: "1.5"}"#)
        defer { dir.remove() }
        let url = "ipc://\(dir.file("c.sock"))"
        let coordinator = try InternBinary.start(
            ["coordinator", "campaign.yaml", "--listen", url, "--root", dir.file(".intern"), "--heartbeat-ms", "100", "--lease-ms", "1000"],
            in: dir.path)
        let victim = try InternBinary.start(["worker", "--connect", url, "--id", "victim"], in: dir.path)
        let survivor = try InternBinary.start(["worker", "--connect", url, "--id", "survivor"], in: dir.path)
        let store = try await waitForStore(dir.file(".intern/data-filter"))
        // Killed while its shard sleeps half-way (it has printed its first samples).
        try await eventually("the victim runs a shard", timeout: .seconds(30)) {
            try store.attempts().contains(where: { $0.worker == "victim" && $0.status == .running })
        }
        try await Task.sleep(for: .milliseconds(700))
        victim.signal(SIGKILL)
        _ = try? await victim.finish(timeout: .seconds(5))
        let result = try await coordinator.finish(timeout: .seconds(90))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        _ = try? await survivor.finish(timeout: .seconds(30))
        let attempts = try store.attempts()
        let lost = attempts.filter { $0.status == .lost }
        #expect(lost.count == 1 && lost.first?.worker == "victim", "\(attempts.map { ($0.trial, $0.worker, $0.status) })")
        let rerun = try #require(lost.first?.trial)
        let byTrial = Dictionary(grouping: attempts, by: \.trial)
        #expect(byTrial[rerun]?.count == 2 && byTrial[rerun]?.last?.status == .succeeded)
        #expect(byTrial.filter { $0.key != rerun }.values.allSatisfy { $0.count == 1 }, "only the killed shard ran again")
        let values = try #require(try await Self.totals(dir)["values"] as? [String: Double])
        for name in Self.counted {
            #expect(values[name] == planted[name], "\(name): \(values[name] ?? -1) vs planted \(planted[name] ?? -1)")
        }
        // The audit sample reads the succeeded attempt only: each planted toxic row once.
        let samples = try await InternBinary.run(["samples", "--reason", "toxicity", "--dir", dir.file(".intern/data-filter")], in: dir.path)
        #expect(samples.stdout.hasPrefix("toxicity: \(Int(planted["dropped/toxicity"]!)) seen, 20 kept"), "\(samples.stdout)")
    }

    @Test func aResumedCampaign_mapsOverTheSameShards_evenWhenFilesCameAndWent() async throws {
        let (dir, _) = try Self.prepare(shards: 4, rows: 100, env: #"{FILTER_SLEEP: "0.5"}"#)
        defer { dir.remove() }
        let run = try InternBinary.start(["run", "campaign.yaml", "--workers", "1", "--quiet"], in: dir.path)
        let store = try await waitForStore(dir.file(".intern/data-filter"))
        try await eventually("a shard has completed", timeout: .seconds(60)) {
            try store.trials().contains(where: { $0.stage == 0 && $0.status == .completed })
        }
        run.signal(SIGKILL)
        _ = try? await run.finish(timeout: .seconds(5))
        let stored = try #require(try store.info()?.mapItems)
        #expect(stored.count == 4)
        // A new shard appears and one that was mapped is renamed: the campaign keeps its list.
        try FileManager.default.copyItem(atPath: dir.file("data/shards/shard-00.jsonl"), toPath: dir.file("data/shards/shard-99.jsonl"))
        let resumed = try await InternBinary.run(["resume", dir.file(".intern/data-filter"), "--workers", "2", "--quiet"], in: dir.path, timeout: .seconds(90))
        #expect(resumed.status == 0, "\(resumed.stdout)\n\(resumed.stderr)")
        let trials = try store.trials()
        let items = trials.filter { $0.stage == 0 }.compactMap { ItemMap.item(of: $0.parameters) }
        #expect(items.sorted() == stored, "\(items)")
        #expect(try store.info()?.mapItems == stored)
        // Running the spec again (not resume) keeps the list too.
        let rerun = try await InternBinary.run(["run", "campaign.yaml", "--workers", "1", "--quiet"], in: dir.path, timeout: .seconds(60))
        #expect(rerun.status == 0, "\(rerun.stdout)\n\(rerun.stderr)")
        #expect(try store.trials().filter { $0.stage == 0 }.count == 4)
    }
}
