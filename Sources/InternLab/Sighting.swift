import Foundation
import InternCore

/// One campaign's record of a failure signature, as the lab indexed it.
public struct Sighting: Sendable, Equatable, Codable {
    public var campaign: String
    /// The campaign's directory (two roots may each hold a campaign of the same name).
    public var directory: String
    /// When the campaign was created (which of two campaigns is the earlier).
    public var campaignCreatedAt: Timestamp
    public var digest: String
    public var failureClass: String
    public var attempts: Int
    public var trials: Int
    public var firstSeen: Timestamp
    public var lastSeen: Timestamp
    /// The signature's normalised text and the last attempt's excerpt.
    public var signatureText: String
    public var excerpt: String
    public var region: FailureRegion

    public init(
        campaign: String, directory: String, campaignCreatedAt: Timestamp, digest: String, failureClass: String, attempts: Int, trials: Int,
        firstSeen: Timestamp, lastSeen: Timestamp, signatureText: String, excerpt: String, region: FailureRegion
    ) {
        self.campaign = campaign
        self.directory = directory
        self.campaignCreatedAt = campaignCreatedAt
        self.digest = digest
        self.failureClass = failureClass
        self.attempts = attempts
        self.trials = trials
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.signatureText = signatureText
        self.excerpt = excerpt
        self.region = region
    }

    /// `campaign sft-3 (12 trials, 2026-11-30)`: the campaign, how many of its trials failed this
    /// way, and the day (UTC) it first did.
    public var text: String {
        "campaign \(campaign) (\(trials) trial\(trials == 1 ? "" : "s"), \(LabDate.day(firstSeen)))"
    }
}

/// What was learned about a failure, a trial or a campaign (`intern note`).
public struct LabNote: Sendable, Equatable, Codable {
    /// What the note is about.
    public enum Subject: Sendable, Equatable, Codable {
        /// A failure signature's digest (16 hexadecimal digits): shown with every campaign's match.
        case signature(String)
        /// A trial of a campaign; with the signature its last failed attempt had, if any, so that
        /// the note is shown with every later match of that failure too.
        case trial(campaign: String, trial: Int, signature: String?)
        /// A campaign.
        case campaign(String)
    }

    public var subject: Subject
    public var text: String
    public var at: Timestamp
    /// Who wrote it (`$USER`, or `agent:NAME`).
    public var author: String

    public init(subject: Subject, text: String, at: Timestamp, author: String) {
        self.subject = subject
        self.text = text
        self.at = at
        self.author = author
    }

    /// The signature whose matches the note goes with, if any.
    public var signature: String? {
        switch subject {
        case .signature(let digest): digest
        case .trial(_, _, let digest): digest
        case .campaign: nil
        }
    }

    /// The campaign the note names, if any.
    public var campaign: String? {
        switch subject {
        case .signature: nil
        case .trial(let campaign, _, _), .campaign(let campaign): campaign
        }
    }

    /// `signature 3fa2b9c1`, `trial 7 of sft-3`, `campaign sft-3`.
    public var subjectText: String {
        switch subject {
        case .signature(let digest): "signature \(digest.prefix(8))"
        case .trial(let campaign, let trial, _): "trial \(trial) of \(campaign)"
        case .campaign(let campaign): "campaign \(campaign)"
        }
    }

    /// `note (2026-12-01, ana, on trial 7 of sft-3): fixed by pinning transformers<5`.
    public var line: String {
        "note (\(LabDate.day(at)), \(author), on \(subjectText)): \(text)"
    }
}

/// A failure of one campaign seen again: where else its signature was seen and what was noted.
public struct Recurrence: Sendable, Equatable {
    /// The other campaigns' sightings, the earliest first.
    public var earlier: [Sighting]
    /// Notes on the signature (or on a trial that failed with it), the oldest first.
    public var notes: [LabNote]

    /// The recurrence of `digest` in the campaign at `directory` (created at `createdAt`), from
    /// every sighting and note of it the lab has: the campaigns created before it. Nil when there
    /// is nothing to say.
    public static func of(
        digest: String, directory: String, createdAt: Timestamp, sightings: [Sighting], notes: [LabNote]
    ) -> Recurrence? {
        let earlier = sightings.filter { $0.digest == digest && $0.directory != directory && $0.campaignCreatedAt < createdAt }
            .sorted { ($0.campaignCreatedAt, $0.campaign) < ($1.campaignCreatedAt, $1.campaign) }
        let noted = notes.filter { $0.signature == digest }.sorted { $0.at < $1.at }
        guard !earlier.isEmpty || !noted.isEmpty else { return nil }
        return Recurrence(earlier: earlier, notes: noted)
    }

    /// The lines to show under the failure: `seen in campaign sft-3 (12 trials, 2026-11-30)` (the
    /// most recent three campaigns, then how many more), then each note's line.
    public var lines: [String] {
        var lines: [String] = []
        if !earlier.isEmpty {
            let shown = earlier.suffix(3).reversed().map(\.text)
            let more = earlier.count - shown.count
            lines.append("seen in " + shown.joined(separator: ", ") + (more > 0 ? " and \(more) earlier campaign\(more == 1 ? "" : "s")" : ""))
        }
        lines += notes.map(\.line)
        return lines
    }
}

/// Days as the lab prints them: `2026-11-30`, in UTC.
public enum LabDate {
    public static func day(_ millis: Timestamp) -> String {
        let days = Int((Double(millis) / 86_400_000).rounded(.down))
        // Civil from days (Howard Hinnant's algorithm): no calendar, no time zone database.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return String(format: "%04d-%02d-%02d", year, month, day)
    }

    /// `2026-11-30 14:05`, in UTC.
    public static func minute(_ millis: Timestamp) -> String {
        let ofDay = Int(((millis % 86_400_000) + 86_400_000) % 86_400_000) / 60_000
        return day(millis) + String(format: " %02d:%02d", ofDay / 60, ofDay % 60)
    }
}
