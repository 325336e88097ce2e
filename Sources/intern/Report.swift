import ArgumentParser
import Foundation
import InternCore
import InternLab
import InternReport
import InternStore

/// `intern report`: what a campaign amounts to, in one self-contained file.
struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the campaign's report: summary, progress, parameter importance, failures, cost, guardrails.",
        discussion: """
            Markdown (the default) and JSON go to standard output unless --output names a file; HTML is \
            one self-contained file with inline SVG charts and no script (write it with --output).
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case md, html, json
    }

    @Argument(help: "The campaign directory (default: see --dir, --campaign, --root).")
    var directory: String?

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @Option(name: .long, help: "md, html or json.")
    var format: Format = .md

    @Option(name: .shortAndLong, help: "Write the report to this file.")
    var output: String?

    func run() async throws {
        if try await remote.forward() { return }
        var location = location
        if let directory { location.dir = directory }
        let store = try location.open()
        var report: CampaignReport
        do {
            report = try CampaignReport.build(store: store, now: unixMillisNow())
        } catch let error as ReportError {
            throw ValidationError(error.description)
        }
        report.seenBefore = LabLookup.reportLines(store: store)
        let text = switch format {
        case .md: report.markdown()
        case .html: report.html()
        case .json: try report.json()
        }
        try emit(text, to: output)
    }
}

/// `intern digest`: the campaign within a token budget, for an agent's or a person's working memory.
struct Digest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest",
        abstract: "Summarise the campaign within a token budget: state, best, failure clusters, changes, open questions.",
        discussion: """
            Tokens are counted as ⌈UTF-8 bytes / 4⌉ + 1 per line, and the digest never exceeds --tokens. \
            It ends with a cursor: pass it to --since to see what changed after this digest.
            """)

    @Argument(help: "The campaign directory (default: see --dir, --campaign, --root).")
    var directory: String?

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @Option(name: .long, help: "The most tokens the digest's text may take (at least 24).")
    var tokens: Int = CampaignDigest.defaultTokens

    @Option(name: .long, help: "A cursor from an earlier digest: also say what changed since.")
    var since: String?

    @Flag(name: .long, help: "Print JSON (sections, cursor, tokens used).")
    var json = false

    func validate() throws {
        // The cursor line and one heading must fit.
        if tokens < 24 { throw ValidationError("--tokens must be >= 24 (the cursor line alone takes about 10)") }
        if let since, DigestCursor(since) == nil { throw ValidationError("--since \(since) is not a digest cursor (it looks like 42.1700000000000)") }
    }

    func run() async throws {
        if try await remote.forward() { return }
        var location = location
        if let directory { location.dir = directory }
        let store = try location.open()
        do {
            // ``CampaignDigest/render``: what `intern-mcp` answers its `digest` tool with.
            var text = try CampaignDigest.render(store: store, now: unixMillisNow(), tokens: tokens, since: since.flatMap(DigestCursor.init), json: json)
            if !json, let info = try store.info() {
                text = LabLookup.adding(LabLookup.lines(store: store, createdAt: info.createdAt), toDigest: text, tokens: tokens)
            }
            print(text, terminator: "")
        } catch let error as ReportError {
            throw ValidationError(error.description)
        }
    }
}

/// Writes `text` to `path`, or to standard output.
func emit(_ text: String, to path: String?) throws {
    guard let path else {
        print(text, terminator: "")
        return
    }
    do {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    } catch {
        throw ValidationError("cannot write \(path): \(error.localizedDescription)")
    }
    print("wrote \(path)")
}
