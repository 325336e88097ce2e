import ArgumentParser
import Foundation
import InternCore

/// `intern parse-cost` (hidden; `make bench` runs it): what the worker's per-line metric path
/// costs, in nanoseconds per line, on captured logs. Each file is cut into lines as the worker
/// cuts a stream (`LineSplitter`), then every line goes through `MetricLineParser.parse(_:using:_:)`
/// (the allocation-free path the worker runs), `rounds` times; the median round is reported.
struct ParseCost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parse-cost", abstract: "Time the metric parser per line on log files (benchmark).", shouldDisplay: false)

    @Argument(help: "Log files (a job's stdout, stderr or both merged).")
    var files: [String]

    @Option(name: .long, help: "Rounds per file; the median is reported.")
    var rounds: Int = 15

    @Option(name: .long, help: "Repeat each file's lines until at least this many lines are timed per round.")
    var minLines: Int = 200_000

    func run() throws {
        let parser = MetricLineParser(keyValuePrefix: "METRIC")
        var results: [String] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            var lines: [[UInt8]] = []
            var splitter = LineSplitter()
            data.withUnsafeBytes { raw in splitter.feed(raw) { lines.append(Array($0)) } }
            splitter.finish { lines.append(Array($0)) }
            guard !lines.isEmpty else { continue }
            let repeats = max(1, (minLines + lines.count - 1) / lines.count)
            var buffer = MetricLineParser.Buffer()
            var points = 0
            var checksum = 0.0
            var perLine: [Double] = []
            for _ in 0..<max(1, rounds) {
                points = 0
                let start = ContinuousClock.now
                for _ in 0..<repeats {
                    for line in lines {
                        line.withUnsafeBytes { bytes in
                            parser.parse(bytes, using: &buffer) { name, value, _ in
                                points += 1
                                checksum += Double(name.count) + (value.isFinite ? value : 0)
                            }
                        }
                    }
                }
                let elapsed = ContinuousClock.now - start
                let nanos = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
                perLine.append(nanos / Double(repeats * lines.count))
            }
            perLine.sort()
            let name = (file as NSString).lastPathComponent
            let parent = ((file as NSString).deletingLastPathComponent as NSString).lastPathComponent
            results.append(
                "{\"file\": \"\(parent)/\(name)\", \"lines\": \(lines.count), \"points\": \(points / repeats), "
                    + "\"median_ns_per_line\": \(perLine[perLine.count / 2]), \"min_ns_per_line\": \(perLine[0]), \"checksum\": \(checksum.isFinite ? checksum : 0)}")
        }
        print("[" + results.joined(separator: ",\n ") + "]")
    }
}
