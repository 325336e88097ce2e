import Foundation
import InternCore
@testable import InternReport
import InternStore
import InternTestKit
import Testing

/// The report and the digest over synthetic campaigns written straight into a store.
@Suite(.serialized) struct ReportTests {
    static func campaign(trials: Int, failures: Int, logBytes: Int = 0) throws -> (TemporaryDirectory, CampaignStore) {
        let dir = try TemporaryDirectory(prefix: "intern-report")
        try SyntheticCampaign.create(directory: dir.file("synth"), trials: trials, failures: failures, logBytes: logBytes)
        return (dir, try CampaignStore(directory: dir.file("synth"), create: false, readOnly: true))
    }

    @Test(arguments: [10, 1_000, 10_000])
    func theDigestNeverExceedsItsBudget(trials: Int) throws {
        let (dir, store) = try Self.campaign(trials: trials, failures: trials / 20)
        defer { dir.remove() }
        let report = try CampaignReport.build(store: store, now: 1_790_000_000_000)
        for budget in [24, 40, 100, 400, 2_000] {
            let digest = CampaignDigest.make(report: report, changes: nil, cursor: "12.1790000000000", budget: budget)
            let counted = digest.text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().reduce(0) { $0 + CampaignDigest.tokens(String($1)) }
            #expect(counted <= max(budget, CampaignDigest.tokens("cursor 12.1790000000000")), "budget \(budget): \(counted)\n\(digest.text)")
            #expect(digest.tokens == counted)
            if budget >= 400 {
                #expect(digest.text.contains("## Best") && digest.text.contains("## State"), "\(digest.text)")
            }
        }
        // Deterministic: the same store and cursor give the same text.
        let again = try CampaignReport.build(store: store, now: 1_790_000_000_000)
        #expect(CampaignDigest.make(report: again, changes: nil, cursor: "1.2", budget: 400).text
                == CampaignDigest.make(report: report, changes: nil, cursor: "1.2", budget: 400).text)
    }

    @Test func fiveHundredIdenticalFailuresAreOneClusterLine() throws {
        let (dir, store) = try Self.campaign(trials: 2_000, failures: 500)
        defer { dir.remove() }
        let report = try CampaignReport.build(store: store, now: 1_790_000_000_000)
        #expect(report.failures.count == 1 && report.failures[0].attempts == 500)
        let digest = CampaignDigest.make(report: report, changes: nil, cursor: "0.0", budget: 2_000)
        let section = try #require(digest.sections.first { $0.title == "Failure clusters" })
        #expect(section.lines.count == 1, "\(section.lines)")
        #expect(section.lines[0].hasPrefix("oom ×500 on 500 trials"), "\(section.lines[0])")
        #expect(digest.text.components(separatedBy: "CUDA out of memory").count == 2, "the error appears once: \(digest.text)")
        #expect(!digest.text.contains("Traceback"))
    }

    @Test func theReportFindsWhatTheSyntheticCampaignHides() throws {
        let (dir, store) = try Self.campaign(trials: 600, failures: 30, logBytes: 600 * 4_000)
        defer { dir.remove() }
        let report = try CampaignReport.build(store: store, now: 1_790_000_000_000)
        #expect(report.importance.first?.parameter == "lr", "\(report.importance.map(\.parameter))")
        #expect(report.best.count == 1 && report.best[0].feasible == true)
        #expect(report.counts["failed"] == 30 && report.counts["pruned"] == 30)
        #expect(report.cost.total.gpu > 0 && report.cost.wastedShare > 0.05)
        #expect(report.curves.count == CampaignReport.curveTrials)
        #expect(report.logRawBytes >= 600 * 4_000)
        // Every section renders; the HTML carries its charts inline and nothing from elsewhere.
        let markdown = report.markdown()
        for title in ["Summary", "Best", "Progress", "Parameter importance", "Failures", "Cost", "Metric curves"] {
            #expect(markdown.contains("## \(title)"), "\(title)")
        }
        let html = report.html()
        for chart in ["progress-trials", "progress-time", "importance", "objective-vs-lr", "parallel-coordinates", "curves", "cost"] {
            #expect(html.contains("data-chart=\"\(chart)\""), "\(chart)")
        }
        // Only the charts asked for are drawn (the dashboard's), the same as in the whole report.
        let some = report.charts(named: ["importance", "curves"])
        #expect(some.values.flatMap { $0 }.count == 2 && some["Parameter importance"]?.first.map(html.contains) == true && some["Metric curves"]?.first.map(html.contains) == true)
        #expect(!html.lowercased().contains("<script"))
        #expect(!html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "").contains("http"))
        let json = try report.json()
        let decoded = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(decoded?["campaign"] as? String == "synth" && decoded?["importance"] != nil)
    }

    @Test func changesSinceACursorAreSummarisedByKind() throws {
        let (dir, store) = try Self.campaign(trials: 100, failures: 5)
        defer { dir.remove() }
        let report = try CampaignReport.build(store: store, now: 1_790_000_000_000)
        let events = try store.events(after: 0)
        #expect(events.count == 5, "synthetic pruned trials log an event each")
        let changes = CampaignDigest.Changes(events: events.map(\.event), ended: [(trial: 99, status: "completed", objective: 0.4)], since: 0)
        let digest = CampaignDigest.make(report: report, changes: changes, cursor: "5.1", budget: 1_000)
        let section = try #require(digest.sections.first { $0.title == "Changed since the cursor" })
        #expect(section.lines == ["1 trials ended: 1 completed", "trial.pruned ×5: trial 87 pruned: ASHA rung 0"], "\(section.lines)")
    }

    @Test func grepFindsEveryMatchWithItsLineInParallel() throws {
        let (dir, store) = try Self.campaign(trials: 300, failures: 30, logBytes: 300 * 8_000)
        defer { dir.remove() }
        let oom = LogSearch(pattern: .fixed("CUDA out of memory", ignoreCase: false))
        let result = try oom.run(store: store, threads: 4)
        #expect(result.matches.count == 30 && result.more == 0)
        #expect(result.logs == 300 && result.bytes >= 300 * 8_000)
        for match in result.matches.prefix(5) {
            let log = try store.readLog(trial: match.trial, attempt: match.attempt, stream: .stdout)
            let line = String(decoding: log, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)[match.line - 1]
            #expect(line.contains("CUDA out of memory") && match.text == String(line), "\(match)")
        }
        // The same matches in the same order whatever the number of threads.
        #expect(try oom.run(store: store, threads: 1).matches == result.matches)
        let failed = try oom.run(store: store) { $0.status == .failed }
        #expect(failed.matches.count == 30 && failed.logs == 30)
        #expect(try oom.run(store: store) { $0.status == .completed }.matches.isEmpty)
        let folded = try LogSearch(pattern: .fixed("cuda OUT of memory", ignoreCase: true)).run(store: store)
        #expect(folded.matches.count == 30)
        let regex = try LogSearch(pattern: .regex(#"allocate [0-9.]+ GiB"#, ignoreCase: false)).run(store: store, limit: 10)
        #expect(regex.matches.count == 10 && regex.more == 20)
        // Past the limit matches are counted, not kept; the kept ones are the first in order.
        let common = try LogSearch(pattern: .fixed("loss", ignoreCase: false)).run(store: store, limit: 50, threads: 3)
        #expect(common.matches.count == 50 && common.more > 10_000)
        #expect(common.matches == (try LogSearch(pattern: .fixed("loss", ignoreCase: false)).run(store: store, limit: 50, threads: 1)).matches)
        #expect(try oom.run(store: store, streams: [.stderr]).matches.isEmpty)
        #expect(throws: ReportError.self) { try LogSearch(pattern: .regex("(", ignoreCase: false)).run(store: store) }
    }
}

/// The charts' coordinates.
struct ChartNumberTests {
    @Test func oneDecimalWritesWhatPrintfWrites() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            // Halves aside (printf rounds the binary value, to even), where the two may differ in the last digit.
            let value = Double.random(in: -5_000...5_000, using: &random)
            guard abs((value * 10).truncatingRemainder(dividingBy: 1)).distance(to: 0.5).magnitude > 1e-6 else { continue }
            let expected = String(format: "%.1f", value)
            #expect(SVGChart.oneDecimal(value) == (expected == "-0.0" ? "0.0" : expected), "\(value)")
        }
        #expect(SVGChart.oneDecimal(0) == "0.0" && SVGChart.oneDecimal(12.04) == "12.0" && SVGChart.oneDecimal(-3.96) == "-4.0")
        #expect(SVGChart.oneDecimal(.infinity) == String(format: "%.1f", Double.infinity))
    }
}
