import ArgumentParser
import Foundation
import InternCore
import InternLab
import InternReport
import InternStore

/// `intern status`: where a campaign stands, read from its store.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show where a campaign stands: trials by status, workers, best trial, recent events.")

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @Option(name: .long, help: "How many recent events to show.")
    var events: Int = CampaignStatus.defaultEvents

    func run() async throws {
        if try await remote.forward() { return }
        try show()
    }

    /// Prints the view from the campaign directory here (``CampaignStatus``, which `intern-mcp`
    /// answers its `status` tool with).
    func show() throws {
        let store = try location.open()
        guard let info = try store.info() else { throw ValidationError("the campaign directory is empty") }
        let view = try StageView(info: info)
        print(try CampaignStatus.render(store: store, info: info, view: view, events: events, now: unixMillisNow()), terminator: "")
        // Failures an earlier campaign under the root had, and their notes (the lab, docs/lab.md).
        print(LabLookup.statusSection(store: store, createdAt: info.createdAt), terminator: "")
    }
}
