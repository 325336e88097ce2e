import Foundation
import InternStore
import InternTestKit
import Testing

/// `intern report` and `intern digest` on a real campaign; the HTML rendered by headless Chromium.
@Suite(.serialized) struct ReportEndToEndTests {
    /// Trial t reports eval_loss per epoch (lower with t near 3) and accuracy; trial 5 fails.
    static let spec = """
        name: rep
        command: [python3, -c, "import sys; t = int(sys.argv[1]); x = float(sys.argv[2]); sys.exit('RuntimeError: boom' if t == 5 else 0) if t == 5 else [print('METRIC step=%d eval_loss=%.4f acc=%.3f' % (e, (x - 0.3) ** 2 + 1.0 / e, 0.9 - (x - 0.3) ** 2)) for e in range(1, 5)]", "{trial}", "{x}"]
        space: {x: {type: uniform, low: 0.0, high: 1.0}, width: {type: choice, values: [8, 16]}}
        sampler: {type: random, seed: 3}
        trials: 12
        metrics: {prefix: METRIC}
        objective: {metric: eval_loss, direction: minimize}
        constraints: ["acc >= 0.5"]
        """

    @Test func theHTMLReportRendersEveryChartInHeadlessChromium() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("rep.yaml", Self.spec)
        let run = try await InternBinary.run(["run", spec, "--workers", "2", "--quiet"], in: dir.path, timeout: .seconds(60))
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let campaign = dir.file(".intern/rep")
        let html = try await InternBinary.run(["report", campaign, "--format", "html", "--output", dir.file("report.html")], in: dir.path)
        #expect(html.status == 0, "\(html.stdout)\(html.stderr)")
        let markdown = try await InternBinary.run(["report", campaign], in: dir.path)
        #expect(markdown.stdout.hasPrefix("# Campaign rep\n") && markdown.stdout.contains("## Failures"), "\(markdown.stdout)")
        // Every table of the Markdown renders as a table in GitHub's CommonMark (cmark-gfm, which
        // `make test` installs): none is swallowed by the list item before it.
        _ = try dir.write("report.md", markdown.stdout)
        let cmark = try #require(["/usr/bin/cmark-gfm", "/usr/local/bin/cmark-gfm"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                 "cmark-gfm is needed: `make test` installs Debian's cmark-gfm")
        let rendered = try await ProcessRunner.run([cmark, "-e", "table", dir.file("report.md")], timeout: .seconds(30))
        let tables = markdown.stdout.components(separatedBy: "\n").filter { $0.hasPrefix("| ---") || $0.hasPrefix("|---") }.count
        #expect(tables >= 3, "\(markdown.stdout)")
        #expect(rendered.stdout.components(separatedBy: "<table>").count - 1 == tables, "\(rendered.stdout)")
        #expect(!rendered.stdout.contains("<li>|"), "\(rendered.stdout)")

        let json = try await InternBinary.run(["report", campaign, "--format", "json"], in: dir.path)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((object?["counts"] as? [String: Int])?["failed"] == 1, "\(json.stdout.prefix(400))")

        // A copy of the report with a probe: for every chart, its marks and their rendered boxes.
        let chromium = try #require(["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                    "headless Chromium is needed: `make test` installs Debian's chromium")
        let probe = """
            <script>
            const out = [...document.querySelectorAll('svg.chart')].map(svg => {
              const marks = [...svg.querySelectorAll('.mark')];
              const drawn = marks.filter(m => { const b = m.getBBox(); return b.width > 0 || b.height > 0; }).length;
              const box = svg.getBoundingClientRect();
              return {chart: svg.dataset.chart, marks: marks.length, drawn: drawn, width: box.width, height: box.height};
            });
            const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
            </script></body>
            """
        let page = try String(contentsOfFile: dir.file("report.html"), encoding: .utf8).replacingOccurrences(of: "</body>", with: probe)
        _ = try dir.write("probe.html", page)
        let renderedPage = try await ProcessRunner.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://\(dir.file("probe.html"))"], timeout: .seconds(90))
        let dump = renderedPage.stdout
        let start = try #require(dump.range(of: "<pre id=\"probe\">"), "\(renderedPage.stderr.suffix(2000))")
        let end = try #require(dump.range(of: "</pre>", range: start.upperBound..<dump.endIndex))
        let text = String(dump[start.upperBound..<end.lowerBound]).replacingOccurrences(of: "&quot;", with: "\"")
        let charts = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        let names = charts.compactMap { $0["chart"] as? String }
        for expected in ["progress-trials", "progress-time", "importance", "objective-vs-x", "curves", "cost"] {
            #expect(names.contains(expected), "\(expected) missing from \(names)")
        }
        for chart in charts {
            #expect((chart["drawn"] as? Int ?? 0) > 0, "chart \(chart["chart"] ?? "?") draws nothing: \(chart)")
            #expect((chart["width"] as? Double ?? 0) > 100 && (chart["height"] as? Double ?? 0) > 50, "\(chart)")
        }
    }

    @Test func theDigestKeepsToItsBudgetAndSaysWhatChanged() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("rep.yaml", Self.spec)
        _ = try await InternBinary.run(["run", spec, "--workers", "2", "--quiet"], in: dir.path, timeout: .seconds(60))
        let campaign = dir.file(".intern/rep")
        let digest = try await InternBinary.run(["digest", campaign, "--tokens", "120"], in: dir.path)
        #expect(digest.status == 0, "\(digest.stderr)")
        // The documented count: ⌈other ASCII bytes / 4 + digits / 2 + non-ASCII bytes / 2⌉ + 1 per line.
        let tokens = digest.stdout.split(separator: "\n").reduce(0) { total, line in
            let quarters = line.utf8.reduce(0) { $0 + ($1 >= 0x80 || ($1 >= 0x30 && $1 <= 0x39) ? 2 : 1) }
            return total + (quarters + 3) / 4 + 1
        }
        #expect(tokens <= 120, "\(tokens): \(digest.stdout)")
        let cursor = try #require(digest.stdout.split(separator: "\n").last.map { String($0.dropFirst("cursor ".count)) })
        let since = try await InternBinary.run(["digest", campaign, "--since", cursor, "--tokens", "400"], in: dir.path)
        #expect(since.stdout.contains("## Changed since the cursor\nnothing\n"), "\(since.stdout)")
        let json = try await InternBinary.run(["digest", campaign, "--json"], in: dir.path)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((object?["tokens"] as? Int ?? .max) <= 800 && object?["cursor"] is String, "\(json.stdout)")
        let again = try await InternBinary.run(["digest", campaign, "--tokens", "120"], in: dir.path)
        #expect(again.stdout == digest.stdout, "the same store gives the same digest")
        let tiny = try await InternBinary.run(["digest", campaign, "--tokens", "5"], in: dir.path)
        #expect(tiny.status == 64)
        let bad = try await InternBinary.run(["digest", campaign, "--since", "yesterday"], in: dir.path)
        #expect(bad.status == 64 && bad.stderr.contains("not a digest cursor"), "\(bad.stderr)")
    }

    @Test func grepCondensedLogsAndExportsReadWhatTheCampaignStored() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("rep.yaml", Self.spec)
        _ = try await InternBinary.run(["run", spec, "--workers", "2", "--quiet"], in: dir.path, timeout: .seconds(60))
        let location = ["--dir", dir.file(".intern/rep")]
        let grep = try await InternBinary.run(["grep", "BOOM", "-i", "--status", "failed"] + location, in: dir.path)
        #expect(grep.status == 0 && grep.stdout == "trial 5 attempt 1 stderr:1: RuntimeError: boom\n", "\(grep.stdout)\(grep.stderr)")
        let none = try await InternBinary.run(["grep", "boom", "--status", "completed"] + location, in: dir.path)
        #expect(none.status == 1 && none.stdout.isEmpty)
        let regex = try await InternBinary.run(["grep", "--regex", "step=4 eval_loss=[0-9.]+"] + location, in: dir.path)
        #expect(regex.stdout.split(separator: "\n").count == 11, "\(regex.stdout)")
        let condensed = try await InternBinary.run(["logs", "1", "--condensed"] + location, in: dir.path)
        #expect(condensed.stdout.hasPrefix("[4 metric lines] eval_loss "), "\(condensed.stdout)")
        let csv = try await InternBinary.run(["trials", "--csv"] + location, in: dir.path)
        let header = csv.stdout.split(separator: "\n").first.map(String.init) ?? ""
        #expect(header.contains("eval_loss.last,eval_loss.min,eval_loss.max,eval_loss.best") && header.contains("acc.best"), "\(header)")
        let json = try await InternBinary.run(["trials", "--json"] + location, in: dir.path)
        let rows = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
        let first = try #require(rows?.first { ($0["status"] as? String) == "completed" })
        let loss = (first["metrics"] as? [String: Any])?["eval_loss"] as? [String: Any]
        #expect(loss?["points"] as? Int == 4 && loss?["best"] as? Double == loss?["min"] as? Double, "\(first)")
    }
}
