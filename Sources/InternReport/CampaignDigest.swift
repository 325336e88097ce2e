import Foundation
import InternCore

/// `intern digest`: the campaign in at most a given number of tokens, for an outside reasoning
/// agent or a person: goal, state, best trials, what runs, parameter effects, failure clusters
/// (one line each), what changed since a cursor, and open questions. Deterministic (the same
/// store and cursor give the same text) and deduplicated (500 identical failures are one line).
///
/// Tokens are counted by one documented approximation, the same for every model: a line costs
/// ⌈other ASCII bytes / 4 + digits / 2 + non-ASCII bytes / 2⌉ + 1 tokens (the 1 for its line
/// break). English prose runs near 4 bytes per token in common tokenizers and digits and
/// non-ASCII text far denser, so the count leans towards too many.
public struct CampaignDigest: Sendable, Codable {
    public struct Section: Sendable, Codable, Equatable {
        public var title: String
        public var lines: [String]
    }

    /// What changed since the cursor, from the store's events and trials.
    public struct Changes: Sendable {
        /// Events after the cursor, oldest first.
        public var events: [CampaignEvent]
        /// Trials that ended after the cursor's time: (trial, status, objective).
        public var ended: [(trial: Int, status: String, objective: Double?)]
        public var since: Int64?

        public init(events: [CampaignEvent], ended: [(trial: Int, status: String, objective: Double?)], since: Int64?) {
            self.events = events
            self.ended = ended
            self.since = since
        }
    }

    public var campaign: String
    /// Pass it as `--since` to get only what changed after this digest.
    public var cursor: String
    public var budget: Int
    public var tokens: Int
    public var sections: [Section]

    /// The cost of one line (see the type's documentation).
    public static func tokens(_ line: String) -> Int {
        var quarters = 0
        for byte in line.utf8 {
            quarters += byte >= 0x80 || (byte >= 0x30 && byte <= 0x39) ? 2 : 1
        }
        return (quarters + 3) / 4 + 1
    }

    /// The digest of `report` within `budget` tokens. Sections are filled in priority order
    /// (state, best, failures, changes, running, effects, questions, cost); a section's lines are
    /// added while they fit, then `… N more` if that fits; a line longer than the budget left is
    /// cut. The total never exceeds `budget`.
    public static func make(report: CampaignReport, changes: Changes?, cursor: String, budget: Int) -> CampaignDigest {
        // The cursor line closes every digest and counts against the budget.
        var left = max(0, budget - tokens("cursor \(cursor)"))
        var sections: [Section] = []
        for (title, lines) in candidates(report: report, changes: changes) {
            guard !lines.isEmpty else { continue }
            let heading = "## \(title)"
            guard left >= tokens(heading) + 2 else { break }
            var kept: [String] = []
            var cost = tokens(heading)
            for (index, line) in lines.enumerated() {
                let more = lines.count - index
                let tail = more > 1 ? "… \(more - 1) more" : nil
                let reserve = tail.map(tokens) ?? 0
                if cost + tokens(line) + reserve <= left || (tail == nil && cost + tokens(line) <= left) {
                    kept.append(line)
                    cost += tokens(line)
                    continue
                }
                // Cut this line to what fits (keeping room for the `more` note), or stop here.
                let room = left - cost - reserve - 1
                if room >= 8, kept.isEmpty || index == 0 {
                    // Cut to what fits: at worst 2 bytes per quarter-token (digits, non-ASCII).
                    var cut = truncate(line, bytes: room * 2 - 4)
                    var bytes = room * 2 - 4
                    while tokens(cut) > room, bytes > 0 { bytes -= 8; cut = truncate(line, bytes: bytes) }
                    kept.append(cut)
                    cost += tokens(cut)
                }
                let note = "… \(lines.count - kept.count) more"
                if kept.count < lines.count, cost + tokens(note) <= left {
                    kept.append(note)
                    cost += tokens(note)
                }
                break
            }
            guard !kept.isEmpty else { break }
            sections.append(Section(title: title, lines: kept))
            left -= cost
        }
        let used = tokens("cursor \(cursor)") + sections.reduce(0) { $0 + tokens("## \($1.title)") + $1.lines.reduce(0) { $0 + tokens($1) } }
        return CampaignDigest(campaign: report.campaign, cursor: cursor, budget: budget, tokens: used, sections: sections)
    }

    /// The digest as text: `## Section` headings and their lines, then the cursor line.
    public var text: String {
        (sections.flatMap { ["## \($0.title)"] + $0.lines } + ["cursor \(cursor)"]).joined(separator: "\n") + "\n"
    }

    static func truncate(_ line: String, bytes: Int) -> String {
        guard line.utf8.count > bytes else { return line }
        var out = ""
        var used = 0
        for character in line {
            let size = String(character).utf8.count
            if used + size > max(0, bytes - 3) { break }
            out.append(character)
            used += size
        }
        return out + "…"
    }

    /// Every section's lines, most important first, before the budget is applied.
    static func candidates(report: CampaignReport, changes: Changes?) -> [(String, [String])] {
        var out: [(String, [String])] = []
        var state = ["campaign \(report.campaign): \(report.state); trials \(report.trialCounts)"]
        state += report.goal.map { "goal: \($0)" }
        // What the campaign counts on and never sees outranks everything after the state.
        state += report.missingMetrics.map { "warning: " + $0 }
        out.append(("State", state))
        if let totals = report.totals {
            var lines = [totals.progress]
            if !totals.names.isEmpty {
                lines.append("totals: " + totals.names.map { name in
                    "\(name) \(ShardTotals.text(totals.values[name] ?? 0))" + (totals.perSecond[name].map { " (\(ShardTotals.text(($0 * 10).rounded() / 10))/s)" } ?? "")
                }.joined(separator: ", "))
            }
            if !totals.toRun.isEmpty { lines.append("still to run: " + totals.toRun.prefix(5).joined(separator: ", ") + (totals.toRun.count > 5 ? ", …" : "")) }
            out.append(("Totals", lines))
        }

        var best: [String] = []
        if report.pareto {
            best.append("Pareto front (\(report.objectiveNames.joined(separator: ", "))): \(report.best.count) trials")
            best += report.best.map { "trial \($0.id): " + ($0.objectives ?? []).map { ReportText.number($0) }.joined(separator: ", ") + "; " + ReportText.parameters($0.parameters) }
        } else if let trial = report.best.first, let objective = report.objective {
            let parts = ["best trial \(trial.id): \(objective.metric) \(ReportText.number(trial.objective))", ReportText.parameters(trial.parameters),
                         trial.lineage.map { "from \($0)" } ?? ""]
            best.append(parts.filter { !$0.isEmpty }.joined(separator: "; "))
            if let validation = report.validation { best.append(validation.summary) }
        }
        if let progress = report.progress, !progress.points.isEmpty {
            best.append("\(progress.improvements) of \(progress.ended) ended trials improved the best"
                + (report.validation == nil ? "" : "; \(progress.validated.count) validated"))
        }
        out.append(("Best", best))

        out.append(("Failure clusters", report.failures.map { cluster in
            let region = ReportText.parameters(cluster.parameterRanges)
            return "\(cluster.failureClass) ×\(cluster.attempts) on \(cluster.trials) trial\(cluster.trials == 1 ? "" : "s")"
                + (region.isEmpty ? "" : " [\(region)]") + ": " + CampaignReport.oneLine(cluster.excerpt.isEmpty ? cluster.text : cluster.excerpt, limit: 100)
        }))

        if let changes {
            var lines: [String] = []
            if !changes.ended.isEmpty {
                var byStatus: [String: Int] = [:]
                for trial in changes.ended { byStatus[trial.status, default: 0] += 1 }
                lines.append("\(changes.ended.count) trials ended: " + CampaignReport.counted(byStatus))
            }
            var kinds: [String: (count: Int, last: String)] = [:]
            var order: [String] = []
            for event in changes.events {
                if kinds[event.kind] == nil { order.append(event.kind) }
                kinds[event.kind] = ((kinds[event.kind]?.count ?? 0) + 1, event.message)
            }
            for kind in order {
                let entry = kinds[kind]!
                lines.append("\(kind) ×\(entry.count)" + ": " + CampaignReport.oneLine(entry.last, limit: 100))
            }
            out.append(("Changed since the cursor", lines.isEmpty ? ["nothing"] : lines))
        }

        // Who steered and what came of it: an agent sees its own refusals here.
        out.append(("Steering", report.steering.suffix(3).map { CampaignReport.oneLine($0, limit: 160) }))

        out.append(("Running", report.running.map { trial in
            "trial \(trial.id)\(report.stages.isEmpty ? "" : " (\(trial.stage))"): \(ReportText.parameters(trial.parameters))"
        }))

        out.append(("Parameter effects", report.importance.prefix(5).map { item in
            let bestBin = report.importanceObjective.flatMap { objective in item.bins.min { objective.isBetter($0.mean, than: $1.mean) } }
            return "\(item.parameter): \(percent(item.share)) ± \(percent(item.spread)) of the variance"
                + (bestBin.map { "; best \($0.label) (mean \(ReportText.number($0.mean)), n=\($0.count))" } ?? "")
        }))

        out.append(("Open questions", questions(report)))

        out.append(("Cost", [
            "\(ReportText.hours(report.cost.total.gpu)) GPU-hours, \(ReportText.hours(report.cost.total.cpu)) CPU-hours; \(percent(report.cost.wastedShare)) on failed and pruned attempts",
        ]))
        return out
    }

    /// What a person or an agent should look at: stalls, failing regions, a best at the edge of
    /// the space, guardrails that keep biting.
    static func questions(_ report: CampaignReport) -> [String] {
        var questions: [String] = []
        for message in report.blocked { questions.append("blocked by the circuit breaker: \(CampaignReport.oneLine(message, limit: 140)) — fix the cause or leave that region out?") }
        let total = max(1, report.counts.values.reduce(0, +))
        for cluster in report.failures where cluster.trials * 5 >= total && cluster.trials >= 3 {
            let region = ReportText.parameters(cluster.parameterRanges)
            questions.append("\(cluster.failureClass) failures hit \(cluster.trials) of \(total) trials" + (region.isEmpty ? "" : " in \(region)") + ": fix, or exclude that region?")
        }
        if let progress = report.progress, progress.points.count >= 10, let last = progress.points.last(where: \.improved) {
            let stale = progress.ended - last.ended
            if stale >= max(10, progress.ended / 4) {
                questions.append("no improvement in the last \(stale) trials that ended: stop, widen the space, or change the sampler?")
            }
        }
        if let best = report.best.first, !report.pareto, !report.importance.isEmpty {
            for item in report.importance.prefix(3) {
                let numeric = item.bins.filter { $0.high != nil }
                guard numeric.count >= 3, let value = best.parameters[item.parameter].flatMap(Double.init),
                      let firstHigh = numeric.first?.high, let lastLow = numeric.last?.low else { continue }
                let edge = value <= firstHigh ? "low" : value >= lastLow ? "high" : nil
                if let edge { questions.append("the best \(item.parameter) (\(best.parameters[item.parameter]!)) is at the \(edge) end of what was tried: widen the space?") }
            }
        }
        if !report.guardrails.isEmpty {
            questions.append("\(report.guardrails.count) trials beat the best feasible but broke a constraint: is the guardrail right?")
        }
        return questions
    }

    static func percent(_ share: Double) -> String { ReportText.number((share * 1000).rounded() / 10) + "%" }
}
