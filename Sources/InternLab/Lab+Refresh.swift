import Foundation
import GRDB
import InternCore
import InternReport
import InternStore

extension Lab {
    /// What one refresh did.
    public struct RefreshSummary: Sendable, Equatable {
        /// Campaigns read again because they changed (or were new).
        public var indexed: [String] = []
        /// Campaigns whose stamp had not moved.
        public var unchanged = 0
        /// Campaigns gone from the roots, dropped from the index.
        public var dropped = 0
        /// Campaign directories that could not be read, with why (the rest are indexed all the same).
        public var unreadable: [String] = []

        public init() {}
    }

    /// How many campaigns read again in one refresh make it merge the full-text index.
    static let optimizeAfter = 10

    /// The campaign directories under the roots (each a directory with a campaign database).
    public func campaignDirectories() -> [String] {
        roots.flatMap { root in
            ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted().compactMap { name -> String? in
                let directory = (root as NSString).appendingPathComponent(name)
                return FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(CampaignStore.databaseName)) ? directory : nil
            }
        }
    }

    /// Brings the lab up to date: the notes file copied in if it changed, each campaign under the
    /// roots re-read if its stamp moved (only its state refreshed otherwise), campaigns that are
    /// gone dropped. `rebuild`: forget everything first and read every store again.
    @discardableResult
    public func refresh(now: Timestamp, rebuild: Bool = false) throws(LabError) -> RefreshSummary {
        if rebuild {
            try write { db in
                for table in ["signatures", "findings", "notes", "texts", "lab_fts", "campaigns", "meta"] {
                    try db.execute(sql: "DELETE FROM \(table)")
                }
            }
        }
        try syncNotes()
        var summary = RefreshSummary()
        let directories = campaignDirectories()
        for directory in directories {
            do {
                if try refresh(campaign: directory, now: now) { summary.indexed.append(directory) } else { summary.unchanged += 1 }
            } catch {
                summary.unreadable.append("\(directory): \(error)")
            }
        }
        summary.dropped = try write { db in
            let known = try String.fetchAll(db, sql: "SELECT directory FROM campaigns")
            let gone = Set(known).subtracting(directories)
            for directory in gone { try Self.forget(directory: directory, db) }
            return gone.count
        }
        // After many documents were written, FTS5's index segments are merged into one: queries
        // then read one b-tree per term instead of one per batch written.
        if rebuild || summary.indexed.count >= Self.optimizeAfter {
            try write { db in try db.execute(sql: "INSERT INTO lab_fts(lab_fts) VALUES ('optimize')") }
        }
        return summary
    }

    /// Brings one campaign up to date (it need not be under the roots: `intern status --dir`).
    /// True when it was read again, false when only its state was.
    @discardableResult
    public func refresh(campaign directory: String, now: Timestamp) throws(LabError) -> Bool {
        let directory = Self.canonical(directory)
        let known: (stamp: String, files: String, summary: String)? = try read { db in
            try Row.fetchOne(db, sql: "SELECT stamp, file_stamp, summary FROM campaigns WHERE directory = ?", arguments: [directory])
                .map { (stamp: $0["stamp"] as String, files: $0["file_stamp"] as String, summary: $0["summary"] as String) }
        }
        // Every write to a store changes its database file or its write-ahead log: when neither
        // changed, the store is not even opened. (A running campaign's state changes with the
        // clock alone, when its coordinator stops answering: it is read all the same.)
        let files = CampaignReading.fileStamp(directory)
        if let known, known.files == files, let campaign = try? Self.decode(LabCampaign.self, known.summary),
           campaign.state != "running", campaign.state != "paused"
        {
            return false
        }
        let reading: CampaignReading
        do {
            reading = try CampaignReading.read(directory: directory, now: now, knownStamp: known?.stamp)
        } catch let error as LabError {
            throw error
        } catch {
            throw LabError(code: .database, message: "cannot read the campaign in \(directory): \(error)", underlying: error)
        }
        switch reading {
        case .unchanged(let state, let lastActivity):
            guard let known, var campaign = try? Self.decode(LabCampaign.self, known.summary) else { return false }
            guard campaign.state != state || campaign.lastActivity != lastActivity || known.files != files else { return false }
            campaign.state = state
            campaign.lastActivity = lastActivity
            let summary = try? Self.encode(campaign)
            try write { db in
                try db.execute(sql: "UPDATE campaigns SET summary = ?, file_stamp = ? WHERE directory = ?", arguments: [summary, files, directory])
            }
            return false
        case .changed(let index):
            try write { db in
                try Self.store(index, db)
                try db.execute(sql: "UPDATE campaigns SET file_stamp = ? WHERE directory = ?", arguments: [files, directory])
            }
            return true
        }
    }

    /// Records a note: appended to the notes file (which survives the lab), then indexed.
    public func add(_ note: LabNote) throws(LabError) {
        try notes.append(note)
        try syncNotes()
    }

    /// Copies the notes file into the index when it changed since the last copy.
    func syncNotes() throws(LabError) {
        let stamp = notes.stamp()
        let copied: String? = try read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'notes'") }
        guard copied != stamp else { return }
        let all = try notes.read()
        try write { db in
            try db.execute(sql: "DELETE FROM lab_fts WHERE rowid IN (SELECT id FROM texts WHERE kind = 'note')")
            try db.execute(sql: "DELETE FROM texts WHERE kind = 'note'")
            try db.execute(sql: "DELETE FROM notes")
            for (number, note) in all.enumerated() {
                try db.execute(sql: "INSERT INTO notes (signature, campaign, note) VALUES (?, ?, ?)", arguments: [note.signature, note.campaign, Self.encode(note)])
                try Self.insertText(
                    kind: .note, campaignID: 0, campaign: note.campaign ?? "", key: String(number + 1), at: note.at, shown: [note.line],
                    title: note.subjectText, body: "\(note.text) \(note.signature ?? "") \(note.author)", db)
            }
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('notes', ?)", arguments: [stamp])
        }
    }

    // MARK: - Writing one campaign

    static func forget(directory: String, _ db: Database) throws {
        guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM campaigns WHERE directory = ?", arguments: [directory]) else { return }
        try db.execute(sql: "DELETE FROM lab_fts WHERE rowid IN (SELECT id FROM texts WHERE campaign_id = ?)", arguments: [id])
        try db.execute(sql: "DELETE FROM texts WHERE campaign_id = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM signatures WHERE campaign_id = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM findings WHERE campaign_id = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM campaigns WHERE id = ?", arguments: [id])
    }

    static func store(_ index: CampaignIndex, _ db: Database) throws {
        try forget(directory: index.campaign.directory, db)
        let campaign = index.campaign
        try db.execute(
            sql: "INSERT INTO campaigns (directory, name, created_at, stamp, summary) VALUES (?, ?, ?, ?, ?)",
            arguments: [campaign.directory, campaign.name, campaign.createdAt, index.stamp, encode(campaign)])
        let id = db.lastInsertedRowID
        for sighting in index.sightings {
            try db.execute(sql: "INSERT INTO signatures (campaign_id, digest, sighting) VALUES (?, ?, ?)", arguments: [id, sighting.digest, encode(sighting)])
            let shown = [
                "\(campaign.name) \(sighting.digest.prefix(8)) \(sighting.failureClass): \(sighting.excerpt)",
                "\(sighting.attempts) attempt\(sighting.attempts == 1 ? "" : "s") on \(sighting.trials) trial\(sighting.trials == 1 ? "" : "s"), "
                    + "\(LabDate.day(sighting.firstSeen))…\(LabDate.day(sighting.lastSeen))"
                    + (sighting.region.extents.isEmpty ? "" : "; \(sighting.region.summary)"),
            ]
            try insertText(
                kind: .failure, campaignID: id, campaign: campaign.name, key: sighting.digest, at: sighting.lastSeen, shown: shown,
                title: sighting.excerpt, body: "\(sighting.signatureText) \(sighting.failureClass) \(index.reasons[sighting.digest] ?? "") \(sighting.digest)", db)
        }
        if let finding = campaign.best {
            try db.execute(sql: "INSERT INTO findings (campaign_id, finding) VALUES (?, ?)", arguments: [id, encode(finding)])
            try insertText(
                kind: .finding, campaignID: id, campaign: campaign.name, key: finding.stage, at: campaign.lastActivity,
                shown: ["\(campaign.name): best \(finding.line)"],
                title: "\(finding.metric) \(finding.validated ? "validated" : "")",
                body: "\(campaign.name) \(finding.stage) " + finding.parameters.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: " "), db)
        }
        if let digest = index.digest {
            let lines = digest.split(separator: "\n").map(String.init)
            try insertText(
                kind: .digest, campaignID: id, campaign: campaign.name, key: "digest", at: campaign.lastActivity,
                shown: ["campaign \(campaign.name) (\(campaign.state)), its digest:"] + lines.prefix(12), title: campaign.name, body: digest, db)
        }
    }

    static func insertText(
        kind: Recall.Kind, campaignID: Int64, campaign: String, key: String, at: Timestamp, shown: [String], title: String, body: String, _ db: Database
    ) throws {
        try db.execute(
            sql: "INSERT INTO texts (kind, campaign_id, campaign, key, at, shown) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [kind.rawValue, campaignID, campaign, key, at, encode(shown)])
        try db.execute(sql: "INSERT INTO lab_fts (rowid, title, body) VALUES (?, ?, ?)", arguments: [db.lastInsertedRowID, title, body])
    }
}

/// What the lab reads of one campaign store.
enum CampaignReading {
    /// The stamp has not moved: only the state (which the clock changes) and the last activity.
    case unchanged(state: String, lastActivity: Timestamp)
    case changed(CampaignIndex)

    static func read(directory: String, now: Timestamp, knownStamp: String?) throws -> CampaignReading {
        let store = try CampaignStore(directory: directory, create: false, readOnly: true)
        guard let info = try store.info() else {
            throw LabError(code: .database, message: "\(directory) holds no campaign yet")
        }
        let failed = (try? store.failureCounts().byClass.values.reduce(0, +)) ?? 0
        let lastEnd = (try? store.lastTrialEnd()) ?? 0
        let stamp = "\(try store.lastEventID()).\(lastEnd).\(failed)"
        let state = Self.state(info, now: now)
        let lastActivity = max(info.finishedAt ?? 0, lastEnd, info.coordinatorAliveAt ?? 0, info.createdAt)
        if stamp == knownStamp { return .unchanged(state: state, lastActivity: lastActivity) }
        return .changed(try CampaignIndex.read(store: store, info: info, stamp: stamp, state: state, lastActivity: lastActivity, now: now))
    }

    /// The sizes and modification times of a store's database and write-ahead log.
    static func fileStamp(_ directory: String) -> String {
        let database = (directory as NSString).appendingPathComponent(CampaignStore.databaseName)
        return [database, database + "-wal"].map { path in
            var info = stat()
            guard stat(path, &info) == 0 else { return "-" }
            return "\(info.st_size).\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        }.joined(separator: "/")
    }

    /// The state in a word or two (`intern status` says more).
    static func state(_ info: CampaignInfo, now: Timestamp) -> String {
        if info.finishedAt != nil { return "finished" }
        if info.stoppedReason != nil { return "stopped: breaker" }
        if CampaignStatus.coordinatorRunning(info, now: now) { return info.paused ? "paused" : "running" }
        return "stopped"
    }
}

/// One campaign as the lab indexes it.
struct CampaignIndex {
    var campaign: LabCampaign
    var stamp: String
    var sightings: [Sighting]
    /// Each signature's last reason (`oom: signal 9`), searched but not shown.
    var reasons: [String: String]
    var digest: String?

    static func read(store: CampaignStore, info: CampaignInfo, stamp: String, state: String, lastActivity: Timestamp, now: Timestamp) throws -> CampaignIndex {
        let directory = store.directory
        let counts = (try? store.trialCounts()) ?? []
        let drawn = counts.reduce(0) { $0 + $1.count }
        let notDrawn = max(0, info.trialsInAll - counts.filter { $0.stage == 0 }.reduce(0) { $0 + $1.count })
        var host = info.coordinatorHost ?? ""
        if host.isEmpty {
            var hosts: [String] = []
            for worker in (try? store.workers()) ?? [] where !hosts.contains(worker.hostname) { hosts.append(worker.hostname) }
            host = hosts.prefix(3).joined(separator: ",") + (hosts.count > 3 ? ",…" : "")
        }
        // The report's digest extent: the best, the validation verdict, the cost and the digest
        // from one read. A spec that no longer parses leaves the campaign without them.
        let report = try? CampaignReport.build(store: store, now: now, extent: .digest)
        var best: Finding?
        if let report, let objective = report.objective, !report.pareto {
            let stage = report.selectionStage ?? ""
            var chosen = report.best.first.map { (id: $0.id, objective: $0.objective, parameters: $0.parameters) }
            var validated = false
            if let validation = report.validation, validation.settled, let judged = validation.best {
                validated = validation.validated
                let mean = validation.groups.first { $0.trial == judged }?.mean
                if judged != chosen?.id, let trial = try? store.trial(TrialID(judged)) {
                    chosen = (judged, mean ?? trial.objective, Dictionary(uniqueKeysWithValues: trial.parameters.sortedPairs.map { ($0.0, $0.1.text) }))
                } else if let mean {
                    chosen?.objective = mean
                }
            }
            if let chosen, let value = chosen.objective {
                best = Finding(
                    campaign: info.name, stage: stage, metric: objective.metric, direction: objective.direction.rawValue, trial: chosen.id,
                    objective: value, validated: validated, parameters: chosen.parameters)
            }
        }
        let campaign = LabCampaign(
            name: info.name, directory: directory, state: state, host: host.isEmpty ? "-" : host, trials: drawn + notDrawn,
            completed: counts.filter { $0.status == .completed }.reduce(0) { $0 + $1.count },
            failed: counts.filter { $0.status == .failed }.reduce(0) { $0 + $1.count },
            metric: report?.objective?.metric ?? info.objectiveMetric, direction: report?.objective?.direction.rawValue ?? info.objectiveDirection,
            best: best, gpuHours: report?.cost.total.gpu ?? 0, cpuHours: report?.cost.total.cpu ?? 0, createdAt: info.createdAt,
            lastActivity: lastActivity)
        let digest = report.map { CampaignDigest.make(report: $0, changes: nil, cursor: stamp, budget: 400).text }
        let (sightings, reasons) = try Self.sightings(store: store, campaign: info.name, createdAt: info.createdAt)
        return CampaignIndex(campaign: campaign, stamp: stamp, sightings: sightings, reasons: reasons, digest: digest)
    }

    /// The campaign's failures grouped by signature, with where in the space each happened.
    static func sightings(store: CampaignStore, campaign: String, createdAt: Timestamp) throws -> ([Sighting], [String: String]) {
        let failures = try store.failures()
        guard !failures.isEmpty else { return ([], [:]) }
        let parameters = try store.parameters(ids: failures.map(\.trial))
        var order: [String] = []
        var groups: [String: [FailedAttempt]] = [:]
        for failure in failures {
            if groups[failure.signature] == nil { order.append(failure.signature) }
            groups[failure.signature, default: []].append(failure)
        }
        var reasons: [String: String] = [:]
        let sightings = order.map { digest -> Sighting in
            let members = groups[digest]!
            var classes: [String: Int] = [:]
            for member in members { classes[member.failureClass?.rawValue ?? "unknown", default: 0] += 1 }
            let trials = Set(members.map(\.trial))
            let times = members.map { $0.usage.endedAt ?? $0.usage.assignedAt }
            let last = members.max { ($0.usage.endedAt ?? 0, $0.id) < ($1.usage.endedAt ?? 0, $1.id) }!
            reasons[digest] = last.reason ?? ""
            return Sighting(
                campaign: campaign, directory: store.directory, campaignCreatedAt: createdAt, digest: digest,
                failureClass: classes.max { ($0.value, $1.key) < ($1.value, $0.key) }!.key, attempts: members.count, trials: trials.count,
                firstSeen: times.min()!, lastSeen: times.max()!, signatureText: last.signatureText ?? "", excerpt: last.excerpt ?? "",
                region: FailureRegion(of: trials.sorted().compactMap { parameters[$0] }))
        }
        return (sightings, reasons)
    }
}
