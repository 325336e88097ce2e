import Foundation
import InternCore
import InternSpec
import Testing

/// `map:` (one trial per item) and `reduce: true` in a spec file.
@Suite struct MapSpecTests {
    /// A directory with `count` shard files (and a directory that the glob must not take).
    static func shardDirectory(count: Int) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("map-spec-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/data/shards/skipped.jsonl", withIntermediateDirectories: true)
        for index in 0..<count {
            try Data("{}\n".utf8).write(to: URL(fileURLWithPath: directory + "/data/shards/" + String(format: "%03d.jsonl", index)))
        }
        return directory
    }

    static let filter = """
        name: data-filter
        stages:
          - name: shards
            map: {over: "data/shards/*.jsonl"}
            command: [python3, filter.py, "{item}"]
            outputs: [kept]
          - name: merge
            from: shards
            reduce: true
            command: [python3, merge.py]
        """

    @Test func aGlobIsResolvedAgainstTheSpecDirectory_intoSortedAbsoluteFiles() throws {
        let base = try Self.shardDirectory(count: 3)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let spec = try CampaignSpecParserTests.parse(Self.filter, base: base)
        let map = try #require(spec.map)
        #expect(map.pattern == "data/shards/*.jsonl")
        #expect(map.items == (0..<3).map { base + "/data/shards/" + String(format: "%03d.jsonl", $0) })
        // A grid over the items: one trial each, no objective needed.
        #expect(spec.stages[0].sampler == .grid && spec.stages[0].trials == 3 && spec.objective == nil)
        #expect(spec.stages[0].space.names == ["item"])
        #expect(spec.stages[1].input == StageInput(stage: "shards", reduce: true))
        #expect(spec.stages[1].input?.waits == true)
    }

    @Test func storedItemsWin_overTheGlobsMatchesNow() throws {
        let base = try Self.shardDirectory(count: 2)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let stored = ["/elsewhere/a.jsonl", "/elsewhere/b.jsonl", "/elsewhere/c.jsonl"]
        let spec = try CampaignSpecParser.parse(yaml: Self.filter, file: "campaign.yaml", baseDirectory: base, mapItems: stored)
        #expect(spec.map?.items == stored && spec.trials == 3)
    }

    @Test func aListOfItems_runsOneTrialEach_inOrder() throws {
        let spec = try CampaignSpecParserTests.parse("""
            name: langs
            map: {items: [en, de, fr]}
            command: [sh, -c, "echo $INTERN_ITEM", "{item}"]
            """)
        #expect(spec.map == ItemMap(items: ["en", "de", "fr"]))
        #expect(spec.trials == 3 && spec.sampler == .grid)
        let sampler = try Sampler(spec: spec)
        #expect((0..<3).map { sampler.parameters(forTrial: $0)["item"]?.text } == ["en", "de", "fr"])
    }

    @Test func mistakesSayWhatToWrite() throws {
        let base = try Self.shardDirectory(count: 1)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let cases: [(yaml: String, path: String, fragment: String)] = [
            (Self.filter.replacingOccurrences(of: "*.jsonl", with: "*.parquet"), "stages[0].map.over", "matches no file"),
            (Self.filter.replacingOccurrences(of: "map: {over: \"data/shards/*.jsonl\"}", with: "map: {over: \"data/*\", items: [a]}"),
             "stages[0].map.items", "not both"),
            (Self.filter.replacingOccurrences(of: "map: {over: \"data/shards/*.jsonl\"}", with: "map: {}"), "stages[0].map.over", "missing key 'over'"),
            (Self.filter.replacingOccurrences(of: "map: {over: \"data/shards/*.jsonl\"}", with: "map: {items: []}"),
             "stages[0].map.items", "non-empty list"),
            (Self.filter.replacingOccurrences(of: "map: {over: \"data/shards/*.jsonl\"}", with: "map: {items: [a, a]}"),
             "stages[0].map.items[1]", "listed twice"),
            (Self.filter.replacingOccurrences(of: "    map: {over: \"data/shards/*.jsonl\"}\n", with: "    map: {over: \"data/shards/*.jsonl\"}\n    trials: 4\n"),
             "stages[0].trials", "has no 'trials'"),
            (Self.filter.replacingOccurrences(of: "    map: {over: \"data/shards/*.jsonl\"}\n", with: "    trials: 4\n")
                .replacingOccurrences(of: "\"{item}\"", with: "\"{trial}\""),
             "stages[1].reduce", "has no map:"),
            (Self.filter.replacingOccurrences(of: "    from: shards\n", with: ""), "stages[1].reduce", "give it from:"),
            (Self.filter.replacingOccurrences(of: "    from: shards\n", with: "    from: {stage: shards, top: 2}\n")
                .replacingOccurrences(of: "    outputs: [kept]\n", with: "    outputs: [kept]\n    objective: {metric: rows_kept, direction: maximize}\n"),
             "stages[1].reduce", "leave top"),
        ]
        for (yaml, path, fragment) in cases {
            do {
                let spec = try CampaignSpecParserTests.parse(yaml, base: base)
                Issue.record("\(path): expected an error, parsed \(spec)")
            } catch {
                #expect(error.keyPath == path && error.message.contains(fragment), "\(path): \(error)")
            }
        }
    }
}
