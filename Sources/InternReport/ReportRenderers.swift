import Foundation
import InternCore

extension CampaignReport {
    /// The report as JSON (sorted keys), for tools.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// The sections both text renderers share, in order: a title and Markdown-ish lines.
    var sections: [(title: String, lines: [String])] {
        var sections: [(String, [String])] = []
        var summary = ["state: \(state)", "trials: " + trialCounts]
        if !failureClasses.isEmpty { summary.append("failed attempts by class: " + Self.counted(failureClasses)) }
        summary += goal.map { "goal: \($0)" }
        for stage in stages {
            summary.append("stage \(stage.name)\(stage.from.map { " (from \($0))" } ?? ""): " + Self.counted(stage.counts))
        }
        sections.append(("Summary", summary))
        if !missingMetrics.isEmpty {
            sections.append(("Metrics never reported", missingMetrics))
        }

        if let totals {
            sections.append(("Totals", totals.lines))
        }
        if let samples {
            sections.append(("Audit sample", samples.lines()))
        }

        var bestLines: [String] = []
        if pareto {
            bestLines.append("Pareto front of \(best.count) trial\(best.count == 1 ? "" : "s") (\(objectiveNames.joined(separator: ", "))):")
            bestLines += Self.table(["trial"] + objectiveNames + ["parameters"], best.map { trial in
                [String(trial.id)] + (trial.objectives ?? []).map { ReportText.number($0) } + [ReportText.parameters(trial.parameters)]
            })
        } else if let trial = best.first, let objective {
            bestLines.append("trial \(trial.id)\(selectionStage.map { " (stage \($0))" } ?? ""): \(objective.metric) = \(ReportText.number(trial.objective)) (\(objective.direction.rawValue))")
            if !trial.parameters.isEmpty { bestLines.append("parameters: " + ReportText.parameters(trial.parameters)) }
            if !trial.metrics.isEmpty { bestLines.append("metrics: " + trial.metrics.sorted { $0.key < $1.key }.map { "\($0.key)=\(ReportText.number($0.value))" }.joined(separator: " ")) }
            if let lineage = trial.lineage { bestLines.append("lineage: " + lineage) }
            if let validation {
                bestLines.append("validation: " + validation.summary)
                bestLines.append("test: " + validation.test)
            }
        } else {
            bestLines.append(objective == nil ? "the campaign has no objective" : "no feasible trial completed with the objective yet")
        }
        sections.append(("Best", bestLines))

        if let progress, !progress.points.isEmpty {
            let last = progress.points.last!
            sections.append(("Progress", [
                "\(progress.improvements) of \(progress.ended) ended trials improved the best (problems solved vs tasks completed; \(progress.points.count) completed feasibly)"
                    + (validation == nil ? "" : "; validated improvements: \(progress.validated.count)\(progress.validated.isEmpty ? "" : " (trial \(progress.validated.map(String.init).joined(separator: ", ")))")"),
                "last improvement: trial \(progress.points.last { $0.improved }!.trial) at \(ReportText.time(progress.points.last { $0.improved }!.at)); best now \(ReportText.number(last.best))",
            ]))
        }

        if !importance.isEmpty {
            var lines = ["first-order share of \(importanceObjective?.metric ?? "the objective")'s variance\(importanceStage.map { " in stage \($0)" } ?? "") (binned fANOVA main effects, ± bootstrap sd, \(sweep.count) trials):"]
            lines += Self.table(["parameter", "share", "±", "best bin (mean)"], importance.map { item in
                let bestBin = importanceObjective.flatMap { objective in item.bins.min { objective.isBetter($0.mean, than: $1.mean) } }
                return [item.parameter, ReportText.number(item.share), ReportText.number(item.spread),
                        bestBin.map { "\($0.label) (\(ReportText.number($0.mean)), n=\($0.count))" } ?? "-"]
            })
            sections.append(("Parameter importance", lines))
        }

        if !failures.isEmpty {
            var lines = Self.table(["class", "attempts", "trials", "first", "last", "GPU h", "CPU h", "parameters", "error"], failures.map { cluster in
                [cluster.failureClass, String(cluster.attempts), String(cluster.trials), ReportText.time(cluster.firstAt), ReportText.time(cluster.lastAt),
                 ReportText.hours(cluster.gpuHours), ReportText.hours(cluster.cpuHours), ReportText.parameters(cluster.parameterRanges),
                 Self.oneLine(cluster.excerpt.isEmpty ? cluster.text : cluster.excerpt, limit: 120)]
            })
            lines += quarantined.map { "quarantined: \($0)" }
            lines += blocked.map { "circuit breaker: \($0)" }
            sections.append(("Failures", lines))
        }
        if !seenBefore.isEmpty { sections.append(("Failures seen in earlier campaigns", seenBefore)) }

        var costLines = [
            "total: \(ReportText.hours(cost.total.gpu)) GPU-hours, \(ReportText.hours(cost.total.cpu)) CPU-hours, \(ReportText.hours(cost.total.wall)) attempt-hours over \(cost.total.attempts) attempts",
            "spent on failed and pruned attempts: \(ReportText.number((cost.wastedShare * 1000).rounded() / 10))%",
        ]
        var groups: [(String, CostBreakdown.Hours)] = []
        if cost.byStage.count > 1 { groups += cost.byStage.sorted { $0.key < $1.key }.map { ("stage \($0.key)", $0.value) } }
        groups += cost.byOutcome.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        costLines += Self.table(["by", "attempts", "GPU h", "CPU h", "wall h"], groups.map { name, hours in
            [name, String(hours.attempts), ReportText.hours(hours.gpu), ReportText.hours(hours.cpu), ReportText.hours(hours.wall)]
        })
        costLines.append("logs: \(Self.bytes(logRawBytes)) written by jobs, \(Self.bytes(logStoredBytes)) stored compressed")
        sections.append(("Cost", costLines))

        if !perCheckpoint.isEmpty, let objective {
            let names = Array(Set(perCheckpoint.flatMap { $0.metrics.keys })).filter { $0 != objective.metric }.sorted().prefix(6)
            var lines = ["\(selectionStage ?? "the last stage")'s results per input, best first:"]
            lines += Self.table(["trial", "from", objective.metric] + names, perCheckpoint.map { trial in
                [String(trial.id), trial.lineage ?? "-", ReportText.number(trial.objective)] + names.map { ReportText.number(trial.metrics[$0]) }
            })
            sections.append(("Results per checkpoint", lines))
        }
        if !provenance.isEmpty {
            sections.append(("Provenance", provenance))
        }
        if !steering.isEmpty {
            sections.append(("Steering", ["what people and agents asked of the campaign, and what came of it (the last \(steering.count)):"] + steering))
        }
        if !guardrails.isEmpty, let objective {
            var lines = ["\(guardrails.count) trial\(guardrails.count == 1 ? "" : "s") beat the best feasible on \(objective.metric) but broke a constraint:"]
            lines += Self.table(["trial", objective.metric, "why", "parameters"], guardrails.map {
                [String($0.id), ReportText.number($0.objective), $0.note ?? "", ReportText.parameters($0.parameters)]
            })
            sections.append(("Guardrails", lines))
        }
        return sections
    }

    /// The report as Markdown.
    public func markdown() -> String {
        var out = "# Campaign \(campaign)\n\ngenerated \(ReportText.time(generatedAt))\n"
        for (title, lines) in sections {
            out += "\n## \(title)\n\n"
            var inTable = false
            for (index, line) in lines.enumerated() {
                // A table needs a blank line before it (after a list item it would continue the
                // item's text) and after it (a list item would continue the table).
                let row = line.hasPrefix("|")
                if row != inTable, index > 0 { out += "\n" }
                inTable = row
                out += row ? line + "\n" : "- " + line + "\n"
            }
        }
        if !curves.isEmpty {
            out += "\n## Metric curves\n\n"
            for curve in curves {
                out += "- trial \(curve.trial) \(curve.metric): " + zip(curve.steps, curve.values).suffix(12).map { "\($0)→\(ReportText.number($1))" }.joined(separator: " ") + "\n"
            }
        }
        return out
    }

    /// The report as one self-contained HTML file: inline CSS, inline SVG charts, no script.
    public func html() -> String {
        var body = "<h1>Campaign \(escape(campaign))</h1><p class=\"meta\">generated \(escape(ReportText.time(generatedAt)))</p>"
        let charts = self.charts
        for (title, lines) in sections {
            body += "<section><h2>\(escape(title))</h2>"
            var list = "", table = ""
            // Lists and tables in the order the lines come.
            for line in lines {
                if line.hasPrefix("|") {
                    if !list.isEmpty { body += "<ul>\(list)</ul>"; list = "" }
                    table += line + "\n"
                } else {
                    if !table.isEmpty { body += Self.htmlTable(table); table = "" }
                    list += "<li>\(escape(line))</li>"
                }
            }
            if !list.isEmpty { body += "<ul>\(list)</ul>" }
            if !table.isEmpty { body += Self.htmlTable(table) }
            body += charts[title, default: []].joined()
            body += "</section>"
        }
        if let curves = charts["Metric curves"] {
            body += "<section><h2>Metric curves</h2>" + curves.joined() + "</section>"
        }
        let style = """
            body{font:14px/1.45 system-ui,sans-serif;max-width:1000px;margin:24px auto;padding:0 16px;color:#222}
            h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
            table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
            th{background:#f4f4f4}.meta{color:#666}figure{margin:12px 0}svg.chart{background:#fff;border:1px solid #eee}
            .axis{stroke:#444;stroke-width:1}.grid{stroke:#eee;stroke-width:1}.tick{font-size:10px;fill:#444}.label{font-size:11px;fill:#222}.title{font-size:12px;font-weight:600;fill:#222}
            """
        return "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>intern report: \(escape(campaign))</title><style>\(style)</style></head><body>\(body)</body></html>\n"
    }

    /// The charts, by the section they belong to.
    var charts: [String: [String]] { charts(named: { _ in true }) }

    /// The charts whose name (`data-chart`: `progress-trials`, `objective-vs-lr`, …) `wanted`
    /// accepts, by section; the others are not drawn.
    func charts(named wanted: (String) -> Bool) -> [String: [String]] {
        var charts: [String: [String]] = [:]
        if let progress, !progress.points.isEmpty, let objective, wanted("progress-trials") {
            let byCount = SVGChart(name: "progress-trials", title: "best \(objective.metric) by trials ended")
            charts["Progress", default: []].append(byCount.lines([
                .init(label: "trial", points: Self.thinned(progress.points, to: Self.plotted).map { (Double($0.ended), $0.objective) }, line: false, dots: true),
                .init(label: "best so far", points: Self.corners(progress.points.map { (Double($0.ended), $0.best) }), step: true),
            ], xLabel: "trials ended (any outcome)", yLabel: objective.metric))
        }
        if let progress, !progress.points.isEmpty, let objective, wanted("progress-time") {
            let start = progress.points.first!.at
            let byTime = SVGChart(name: "progress-time", title: "best \(objective.metric) over time")
            charts["Progress", default: []].append(byTime.lines([
                .init(label: "best so far", points: Self.corners(progress.points.map { (Double($0.at - start) / 60_000, $0.best) }), dots: true, step: true),
            ], xLabel: "minutes since the first completed trial", yLabel: objective.metric))
        }
        if !importance.isEmpty, let objective = importanceObjective {
            if wanted("importance") {
                charts["Parameter importance", default: []].append(SVGChart(name: "importance", title: "parameter importance (share of variance ± sd)")
                    .bars(importance.map { ($0.parameter, $0.share, $0.spread) }, valueLabel: "share of \(objective.metric)'s variance"))
            }
            // At most `plotted` trials per chart (every k-th, in trial order): the shape, not 10,000 marks.
            let shown = Self.thinned(sweep, to: Self.plotted)
            for item in importance.prefix(4) where wanted("objective-vs-\(item.parameter)") {
                let numeric = numericParameters[item.parameter]
                let points = shown.compactMap { trial -> (Double, Double)? in
                    guard let objective = trial.objective, let text = trial.parameters[item.parameter] else { return nil }
                    if numeric != nil, let x = Double(text) { return (x, objective) }
                    return nil
                }
                guard points.count >= 2 else { continue }
                charts["Parameter importance", default: []].append(SVGChart(name: "objective-vs-\(item.parameter)", title: "\(objective.metric) vs \(item.parameter)")
                    .lines([.init(label: item.parameter, points: points, line: false, dots: true)], xLabel: item.parameter, yLabel: objective.metric,
                           logX: numeric == true))
            }
            let axes = importance.map(\.parameter).filter { numericParameters[$0] != nil } + [objective.metric]
            if axes.count >= 2, wanted("parallel-coordinates") {
                let sorted = sweep.sorted { a, b in
                    guard let x = a.objective, let y = b.objective else { return a.objective != nil }
                    return x == y ? a.id < b.id : objective.isBetter(x, than: y)
                }
                // The best five, then the rest thinned (in their order, best first).
                let ordered = Array(sorted.prefix(5)) + Self.thinned(Array(sorted.dropFirst(5)), to: Self.plotted)
                let rows = ordered.map { trial in
                    axes.map { axis in axis == objective.metric ? trial.objective : trial.parameters[axis].flatMap(Double.init) }
                }
                charts["Parameter importance", default: []].append(SVGChart(name: "parallel-coordinates", title: "parallel coordinates (best \(min(5, rows.count)) highlighted)", width: 900)
                    .parallelCoordinates(axes: axes, logAxes: Set(numericParameters.filter(\.value).map(\.key)), rows: rows, highlight: 5))
            }
        }
        if !curves.isEmpty, wanted("curves") {
            charts["Metric curves", default: []].append(SVGChart(name: "curves", title: "\(curves[0].metric) of the best \(curves.count) trials").lines(
                curves.map { curve in .init(label: "trial \(curve.trial)", points: zip(curve.steps, curve.values).map { (Double($0), $1) }, dots: curve.steps.count < 40) },
                xLabel: "step", yLabel: curves[0].metric))
        }
        if cost.total.attempts > 0, wanted("cost") {
            let useGPU = cost.total.gpu > 0
            let items = cost.byOutcome.sorted { $0.key < $1.key }.map { entry -> (String, Double, Double) in
                let spent = useGPU ? cost.total.gpu : cost.total.cpu
                let value = useGPU ? entry.value.gpu : entry.value.cpu
                return (entry.key, spent > 0 ? value / spent : 0, 0)
            }
            charts["Cost", default: []].append(SVGChart(name: "cost", title: "share of \(useGPU ? "GPU" : "CPU")-hours by outcome")
                .bars(items, valueLabel: "share of \(useGPU ? "GPU" : "CPU")-hours"))
        }
        return charts
    }

    /// `9000 completed (3999 infeasible), 500 failed, …`.
    var trialCounts: String {
        var text = Self.counted(counts)
        if infeasible > 0, let completed = counts["completed"] {
            text = text.replacingOccurrences(of: "\(completed) completed", with: "\(completed) completed (\(infeasible) infeasible)")
        }
        return text
    }

    /// The most trials one chart draws.
    static let plotted = 1_500

    /// A step line's corners: the first point, each one whose value differs from the one before,
    /// and the last; drawn as steps, the same line as all of them (a best so far over 10,000
    /// trials changes a few dozen times).
    static func corners(_ points: [(Double, Double)]) -> [(Double, Double)] {
        guard points.count > 2 else { return points }
        var kept = [points[0]]
        for point in points.dropFirst().dropLast() where point.1 != kept[kept.count - 1].1 { kept.append(point) }
        return kept + [points[points.count - 1]]
    }

    /// Every k-th element so that at most `limit` remain (the first always).
    static func thinned<T>(_ items: [T], to limit: Int) -> [T] {
        guard items.count > limit else { return items }
        let stride = (items.count + limit - 1) / limit
        return items.enumerated().filter { $0.offset % stride == 0 }.map(\.element)
    }

    static func counted(_ counts: [String: Int]) -> String {
        counts.isEmpty ? "none" : counts.sorted { $0.value == $1.value ? $0.key < $1.key : $0.value > $1.value }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
    }

    /// A Markdown table: a header row, a separator, then rows (pipes in cells escaped).
    static func table(_ header: [String], _ rows: [[String]]) -> [String] {
        func row(_ cells: [String]) -> String { "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |" }
        return [row(header), row(header.map { _ in "---" })] + rows.map(row)
    }

    static func htmlTable(_ markdown: String) -> String {
        let rows = markdown.split(separator: "\n").map { line in
            line.dropFirst(2).dropLast(2).components(separatedBy: " | ").map { $0.replacingOccurrences(of: "\\|", with: "|") }
        }
        guard rows.count >= 2 else { return "" }
        var html = "<table><tr>" + rows[0].map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
        for row in rows.dropFirst(2) { html += "<tr>" + row.map { "<td>\(escape($0))</td>" }.joined() + "</tr>" }
        return html + "</table>"
    }

    static func oneLine(_ text: String, limit: Int) -> String {
        let flat = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ⏎ ")
        return flat.count > limit ? String(flat.prefix(limit - 1)) + "…" : flat
    }

    static func bytes(_ count: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count), unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }
}
