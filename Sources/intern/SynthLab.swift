import ArgumentParser
import Foundation
import InternLab

/// `intern synth-lab ROOT`: writes made-up campaigns with many different failures under a root,
/// for the lab's benchmark. Hidden: not for campaigns.
struct SynthLab: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth-lab", abstract: "Write synthetic campaigns under a root for the lab's benchmark.", shouldDisplay: false)

    @Argument(help: "The root to write the campaigns under (synth-1, synth-2, …).")
    var root: String

    @Option(name: .long, help: "Campaigns.")
    var campaigns: Int = 100

    @Option(name: .long, help: "Failed attempts per campaign, each with its own excerpt.")
    var failures: Int = 10_000

    @Option(name: .long, help: "Distinct failure signatures per campaign.")
    var signatures: Int = 1_000

    @Option(name: .long, help: "The pool of signatures campaigns draw theirs from (smaller: more recur across campaigns).")
    var pool: Int = 20_000

    func run() async throws {
        try SyntheticLab.create(root: root, campaigns: campaigns, failures: failures, signatures: signatures, pool: pool)
        print("wrote \(campaigns) campaigns under \(root): \(campaigns * failures) failed attempts over \(signatures) signatures each")
    }
}

/// `intern lab-bench`: times a lab rebuild from the stores under a root and `recall` queries
/// against it, in this process (no process start in the figures). Hidden: for Benchmarks/bench_lab.py.
struct LabBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab-bench", abstract: "Time the lab's rebuild and recall queries.", shouldDisplay: false)

    @Option(name: .long, help: "Where campaign directories live.")
    var root: String = ".intern"

    @Option(name: .long, help: "Each query, as many as wanted.")
    var query: [String] = []

    @Option(name: .long, help: "How many times each query runs.")
    var runs: Int = 20

    @Option(name: .long, help: "The answer's budget, in tokens.")
    var tokens: Int = 800

    func run() async throws {
        let lab = try Lab(roots: [root])
        let clock = ContinuousClock()
        var summary = Lab.RefreshSummary()
        let rebuild = try clock.measure { summary = try lab.refresh(now: unixMillisNow(), rebuild: true) }
        let again = try clock.measure { _ = try lab.refresh(now: unixMillisNow()) }
        var times: [Double] = []
        var matches: [String: Int] = [:]
        for _ in 0..<runs {
            for text in query {
                var count = 0
                let elapsed = try clock.measure {
                    let hits = try lab.recall(text) ?? []
                    count = hits.count
                    _ = Recall.answer(hits, query: text, tokens: tokens)
                }
                matches[text] = count
                times.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
            }
        }
        times.sort()
        func percentile(_ p: Double) -> Double { times.isEmpty ? 0 : times[min(times.count - 1, Int(Double(times.count) * p))] }
        let size = (try? FileManager.default.attributesOfItem(atPath: lab.path)[.size] as? Int) ?? 0
        let object: [String: Any] = [
            "campaigns": summary.indexed.count, "rebuild_seconds": seconds(rebuild), "refresh_unchanged_seconds": seconds(again),
            "recall_p50_ms": percentile(0.5), "recall_p99_ms": percentile(0.99), "recall_queries": times.count, "matches": matches,
            "lab_bytes": size, "unreadable": summary.unreadable.count,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
