import ArgumentParser
import Foundation
import InternLab
import InternReport

/// `intern campaigns`: every campaign under the root (and the lab's other roots), from the lab.
struct Campaigns: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaigns",
        abstract: "List every campaign under the root: state, best (validated or not), trials, cost, last activity, host.",
        discussion: """
            Read from the lab (<root>/.lab.sqlite), which this command first brings up to date from the campaign \
            stores: only campaigns that changed since the last look are read again. --rebuild forgets the lab and \
            reads every store again (notes are kept: they live in <root>/lab-notes.jsonl). See docs/lab.md.
            """)

    @Option(name: .long, help: "Where campaign directories live.")
    var root: String = ".intern"

    @OptionGroup var lab: LabRoots

    @Flag(name: .long, help: "One JSON object per campaign, in an array.")
    var json = false

    @Flag(name: .long, help: "Rebuild the lab from the campaign stores first.")
    var rebuild = false

    func run() async throws {
        let lab = try lab.open(primary: root, rebuild: rebuild)
        let campaigns: [LabCampaign]
        do { campaigns = try lab.campaigns() } catch { throw CampaignDatabaseError(message: error.message) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(campaigns), as: UTF8.self))
            return
        }
        guard !campaigns.isEmpty else {
            print("no campaign under \(lab.roots.joined(separator: ", ")): run `intern run CAMPAIGN.yaml` first")
            return
        }
        let rows = campaigns.map { campaign -> [String] in
            let best = campaign.best.map { "\($0.metric) \(Format.value($0.objective))\($0.validated ? " validated" : "")" } ?? "-"
            return [
                campaign.name, campaign.state, best, "\(campaign.completed)/\(campaign.trials)", String(campaign.failed),
                String(format: "%.2f GPU-h", campaign.gpuHours), LabDate.minute(campaign.lastActivity), campaign.host,
            ]
        }
        print(Format.table(["campaign", "state", "best", "completed", "failed", "cost", "last activity (UTC)", "host"], rows))
    }
}
