import Foundation
import InternCore
import InternStore

/// `intern status`'s screen: where a campaign stands, read from its store. The command prints
/// it, and `intern-mcp` answers its `status` tool with it from a store it keeps open: the same
/// text, byte for byte.
public enum CampaignStatus {
    /// How many recent events the screen shows unless asked otherwise (`--events`).
    public static let defaultEvents = 8

    /// The screen of the campaign in `store` (`info` its row, `view` its parsed spec) with its
    /// latest `events` events; `now` decides whether its coordinator still counts as running.
    /// Every line ends with a line break.
    public static func render(store: CampaignStore, info: CampaignInfo, view: StageView, events: Int, now: Timestamp) throws -> String {
        var out = ""
        func print(_ line: String) { out += line + "\n" }
        // Counted and picked by the database: a campaign's trials are never loaded whole here.
        // (A store of an older intern, opened read-only before its migration, may lack a column
        // the queries name: then from the trials themselves.)
        let loaded = { () throws -> [TrialRecord] in try store.trials() }
        let tally = try (try? store.trialCounts()) ?? Dictionary(grouping: loaded(), by: { "\($0.stage) \($0.status) \(String(describing: $0.feasible))" })
            .values.map { CampaignStore.TrialCount(stage: $0[0].stage, status: $0[0].status, feasible: $0[0].feasible, count: $0.count) }
        var counts: [TrialStatus: Int] = [:]
        for row in tally { counts[row.status, default: 0] += row.count }
        let drawn = tally.reduce(0) { $0 + $1.count }
        // Trials of the first stage not drawn yet (later stages' trials appear as they are fed).
        let notDrawn = max(0, info.trialsInAll - tally.filter { $0.stage == 0 }.reduce(0) { $0 + $1.count })
        print("campaign   \(info.name)  (\(store.directory))")
        print("state      " + state(info, now: now))
        let infeasible = tally.filter { $0.feasible == false }.reduce(0) { $0 + $1.count }
        print("trials     \(drawn + notDrawn) total: \(counts[.completed] ?? 0) completed\(infeasible > 0 ? " (\(infeasible) infeasible)" : ""), \(counts[.running] ?? 0) running, \(counts[.failed] ?? 0) failed, \(counts[.cancelled] ?? 0) cancelled, \(counts[.pruned].map { "\($0) pruned, " } ?? "")\((counts[.pending] ?? 0) + notDrawn) pending")
        if view.spec.isPipeline {
            let parts = view.stages.enumerated().map { index, stage in
                let mine = tally.filter { $0.stage == index }
                let done = mine.filter { $0.status.isTerminal }.reduce(0) { $0 + $1.count }
                return "\(stage.name) \(done)/\(mine.reduce(0) { $0 + $1.count }) ended"
            }
            print("stages     " + parts.joined(separator: ", ") + "  (later stages grow as earlier ones feed them)")
        }
        if let index = view.spec.selectionStage, let metric = view.stages[index].objective?.metric {
            let best = try (try? store.bestTrial(stage: index, maximize: view.order(stage: index).maximize)) ?? view.best(of: loaded())
            if let best {
                // Its ancestors, read one by one (a pipeline is a few stages deep).
                var byID: [TrialID: TrialRecord] = [best.id: best]
                var next = best.parent
                while let id = next, byID[id] == nil, let parent = try store.trial(id) {
                    byID[id] = parent
                    next = parent.parent
                }
                let lineage = best.parent == nil ? "" : "  (\(view.lineageLine(of: best, among: byID)))"
                print("best       trial \(best.id): \(metric) = \(Format.value(best.objective))  \(Format.parameters(best.parameters))\(lineage)")
            } else {
                print("best       no \(infeasible > 0 ? "feasible " : "")completed trial reported \(metric) yet")
            }
            // Validation repeats (a store from before them has none to read).
            if let repeated = try? store.validationTrials(stage: index), let verdict = view.validation(of: repeated) {
                print("validation " + verdict.summary)
            }
        }
        // A data campaign's totals (`totals:`), summed over its shards.
        if let totals = try ShardTotals.read(store: store, spec: view.spec) {
            for line in totals.statusLines { print(line) }
        }
        // A metric the campaign counts on that no completed trial reported (a misspelt name).
        for metric in (try? store.missingMetrics(stages: view.stages)) ?? [] {
            print("warning    " + metric.message)
        }
        let (classes, signatures) = try (try? store.failureCounts()) ?? {
            let attempts = try store.attempts()
            var classes: [FailureClass: Int] = [:]
            for attempt in attempts { if let failure = attempt.failureClass { classes[failure, default: 0] += 1 } }
            return (classes, Set(attempts.compactMap(\.failureSignature)).count)
        }()
        if !classes.isEmpty {
            print("failures   " + classes.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                  + " in \(signatures) signature\(signatures == 1 ? "" : "s") (intern failures)")
        }
        let workers = try store.workers()
        print("workers    \(workers.filter { $0.state != .lost }.count) active of \(workers.count) seen")
        for worker in workers {
            var offers = ["\(worker.slots) slots"]
            if !worker.gpus.isEmpty { offers.append("GPUs \(worker.gpus.joined(separator: ","))") }
            if worker.cpus > 0 { offers.append("\(worker.cpus) CPUs") }
            if worker.memoryBytes > 0 { offers.append(ByteSize.describe(worker.memoryBytes)) }
            print("  \(worker.id)  \(worker.state.rawValue)  \(worker.hostname) pid \(worker.pid)  \(offers.joined(separator: ", "))  last seen \(Format.clock(worker.lastSeen))")
        }
        let recent = try store.events(limit: events)
        if !recent.isEmpty {
            print("events")
            for event in recent { print("  \(Format.clock(event.at))  \(event.kind)  \(event.message)") }
        }
        return out
    }

    /// Finished, stopped by the breaker, running (its coordinator said so in the last 10 s), or
    /// stopped, cleanly or not.
    public static func state(_ info: CampaignInfo, now: Timestamp) -> String {
        if let finished = info.finishedAt { return "finished \(Format.clock(finished))" }
        if let reason = info.stoppedReason { return "stopped by the circuit breaker: \(reason)" }
        if let pid = info.coordinatorPid, let alive = info.coordinatorAliveAt {
            if coordinatorRunning(info, now: now) {
                let coordinator = "coordinator pid \(pid), alive \(max(0, now - alive) / 1000) s ago"
                return info.paused ? "paused: no new attempts until `intern resume` (\(coordinator))" : "running (\(coordinator))"
            }
            return "stopped: the coordinator (pid \(pid)) was last alive \(Format.clock(alive)) and did not stop cleanly; `intern resume` continues"
        }
        return info.paused ? "stopped while paused (`intern resume` continues)" : "stopped (`intern resume` continues)"
    }

    /// Whether the campaign's coordinator said it was alive in the last 10 s, and, when it runs
    /// on this host, its process still exists (a coordinator killed a second ago is not running).
    public static func coordinatorRunning(_ info: CampaignInfo, now: Timestamp) -> Bool {
        guard let pid = info.coordinatorPid, let alive = info.coordinatorAliveAt, now - alive <= 10_000 else { return false }
        if info.coordinatorHost == ProcessInfo.processInfo.hostName, kill(pid_t(pid), 0) != 0, errno == ESRCH { return false }
        return true
    }
}

extension CampaignStatus {
    /// The screen of the campaign in `store`, its spec parsed from the store: what `intern-mcp`
    /// answers in-process. Throws where `intern status` would fail (an empty directory, a spec
    /// that no longer parses), which then runs the command for its exact error.
    public static func render(store: CampaignStore, events: Int, now: Timestamp) throws -> String {
        let (info, spec) = try CampaignReport.specOf(store)
        return try render(store: store, info: info, view: StageView(spec: spec), events: events, now: now)
    }
}
