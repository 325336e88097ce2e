import Foundation
import InternCore
import Testing

/// What the real packages print, replayed through the worker's line path: every capture under
/// Tests/EndToEndTests/Fixtures/ml-stack/captures (made by its generate.sh from real runs of
/// transformers 4 and 5, TRL, accelerate, Lightning and Keras) must give exactly the points its
/// expected.json lists: the names, how many points each, and the last value, which the generator
/// read with Python's own parser and checked against what the framework itself recorded.
@Suite struct CapturedOutputTests {
    static let captures: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("EndToEndTests/Fixtures/ml-stack/captures")

    static var names: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: captures.path)) ?? []).sorted()
    }

    /// One metric of expected.json.
    struct Expected: Decodable, Equatable {
        var count: Int
        var last: String?
    }

    struct Run: Decodable {
        var exit_code: Int
        var metrics: [String: Expected]
    }

    /// A capture's expected.json.
    struct File: Decodable {
        var separate: Run
        var merged: Run
    }

    /// `{name: (count, last)}` as the worker's path reads the streams: each cut into lines by its
    /// own splitter, every line through `parse(_:using:_:)` with one buffer per stream, and through
    /// the stream's `TrainerMetricsBlock`.
    static func read(_ streams: [Data], parser: MetricLineParser) -> [String: Expected] {
        var found: [String: (count: Int, last: Double, streams: Set<Int>)] = [:]
        for (index, data) in streams.enumerated() {
            var splitter = LineSplitter()
            var buffer = MetricLineParser.Buffer()
            var block = TrainerMetricsBlock()
            let take = { (line: UnsafeRawBufferPointer) in
                func add(_ key: String, _ value: Double) {
                    var entry = found[key] ?? (0, 0, [])
                    entry.count += 1
                    entry.last = value
                    entry.streams.insert(index)
                    found[key] = entry
                }
                parser.parse(line, using: &buffer) { name, value, _ in add(String(decoding: name, as: UTF8.self), value) }
                if block.wants(line) { for point in block.read(line) { add(point.name, point.value) } }
            }
            // Chunks of 4 KiB, as a pipe delivers them.
            data.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let end = min(bytes.count, offset + 4096)
                    splitter.feed(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]), take)
                    offset = end
                }
            }
            splitter.finish(take)
        }
        return found.mapValues { Expected(count: $0.count, last: $0.streams.count == 1 ? text($0.last) : nil) }
    }

    /// A value as capture.py writes it: Python's repr of the float, or nan/inf/-inf.
    static func text(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return "\(value)"
    }

    @Test func everyCaptureIsPresent() {
        let names = Set(Self.names)
        for required in [
            "transformers4-trainer", "transformers5-trainer", "transformers5-diverging", "transformers5-api-change",
            "accelerate-2proc", "trl-sft", "trl-dpo", "lightning-fit", "keras-fit",
        ] {
            #expect(names.contains(required), "capture \(required) is missing")
        }
        #expect(names.contains("trl-grpo") || names.contains("trl-kto"))
    }

    @Test(arguments: CapturedOutputTests.names)
    func captureGivesThePointsItsLogShows(_ name: String) throws {
        let directory = Self.captures.appendingPathComponent(name)
        let expected = try JSONDecoder().decode(File.self, from: Data(contentsOf: directory.appendingPathComponent("expected.json")))
        let parser = MetricLineParser(keyValuePrefix: nil)
        for mode in ["separate", "merged"] {
            let files = mode == "separate" ? ["separate.stdout", "separate.stderr"] : ["merged.log"]
            let streams = try files.map { try Data(contentsOf: directory.appendingPathComponent($0)) }
            let found = Self.read(streams, parser: parser)
            let want = (mode == "separate" ? expected.separate : expected.merged).metrics
            for metric in Set(want.keys).union(found.keys).sorted() {
                #expect(found[metric] == want[metric], "\(name) (\(mode)): \(metric)")
            }
        }
    }

    /// Python prints floats with the shortest repr that round-trips, as Swift's description does;
    /// the comparison of `last` relies on it.
    @Test func swiftPrintsFloatsAsPythonDoes() {
        #expect(Self.text(4.703) == "4.703")
        #expect(Self.text(5e-05) == "5e-05")
        #expect(Self.text(-122) == "-122.0")
        #expect(Self.text(1.015e+04) == "10150.0")
    }
}
