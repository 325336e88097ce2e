import ArgumentParser
import Foundation
import InternCore
import InternLab
import InternStore

/// `intern note SUBJECT TEXT`: attaches what was learned to a failure signature, a trial or a
/// campaign; the lab shows it with every later match.
struct Note: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "note",
        abstract: "Attach what was learned to a failure signature, a trial or a campaign; shown with every later match.",
        discussion: """
            intern note 3fa2b9c1 "fixed by pinning transformers<5" notes a signature (8 to 16 hex digits, as intern \
            failures shows them): every campaign that fails that way shows the note (status, failures, digest, recall). \
            intern note 7 "node gpu-7 has a bad HBM" --campaign sft-3 notes a trial (and the signature of its last \
            failure, if it failed); intern note sft-3 "lr above 3e-4 diverges" notes a campaign. Notes are appended \
            to <root>/lab-notes.jsonl, which the lab never rebuilds: keep it (docs/lab.md).
            """)

    @Argument(help: "A signature (hex digits), a trial (a number, in --campaign), or a campaign's name.")
    var subject: String

    @Argument(help: "What was learned.")
    var text: String

    @OptionGroup var location: CampaignLocation

    @OptionGroup var lab: LabRoots

    @Option(name: .long, help: "Who writes it (default: $USER).")
    var author: String?

    func validate() throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 4_000 else { throw ValidationError("a note is 1 to 4000 bytes of text") }
        if let author, !AgentPolicy.isValidActor(author) {
            throw ValidationError("--author takes 1 to 64 printable characters without spaces, not '\(author)'")
        }
    }

    func run() async throws {
        let root = location.dir.map { (Lab.canonical($0) as NSString).deletingLastPathComponent } ?? location.root
        let lab = try lab.open(primary: root)
        let writer = author ?? ProcessInfo.processInfo.environment["USER"] ?? "someone"
        let note: LabNote
        do {
            let names = try lab.campaigns().map(\.name)
            let parsed = try NoteSubject.parse(subject, campaigns: names, digests: { (try? lab.digests(startingWith: $0)) ?? [] })
            let now = unixMillisNow()
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            switch parsed {
            case .campaign(let name):
                note = LabNote(subject: .campaign(name), text: trimmed, at: now, author: writer)
            case .signature(let digest):
                note = LabNote(subject: .signature(digest), text: trimmed, at: now, author: writer)
            case .trial(let id):
                let store = try location.open()
                guard let info = try store.info() else { throw ValidationError("\(store.directory) holds no campaign") }
                guard try store.trial(id) != nil else { throw ValidationError("campaign \(info.name) has no trial \(id)") }
                let failed = try store.attempts(trial: id).last { $0.failureSignature != nil }
                note = LabNote(subject: .trial(campaign: info.name, trial: id, signature: failed?.failureSignature), text: trimmed, at: now, author: writer)
            }
            try lab.add(note)
        } catch let error as LabError {
            throw error.code == .unknownSubject ? ValidationError(error.message) : CampaignDatabaseError(message: error.message)
        }
        print("noted on \(note.subjectText)\(note.signature.map { " (signature \($0))" } ?? ""): \(note.text)")
    }
}
