import ArgumentParser
import Foundation
import InternCore
import InternReport
import InternStore

/// `intern samples`: a data campaign's audit sample, per reason.
struct Samples: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "samples",
        abstract: "Show the audit sample: records the shards' filters dropped or kept, a seeded sample per reason.",
        discussion: """
            Jobs print {"intern_sample": {"reason": "toxicity", "record": {...}}} lines; intern keeps a seeded, \
            stratified sample of at most --per-reason records per reason across all shards (reservoir sampling; \
            a record over 2 KiB is cut), from the attempt that completed each shard. The same seed gives the \
            same sample. Without --reason, every reason with its count; --json prints the records as JSON lines.
            """)

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @Option(name: .long, help: "Only this reason's records.")
    var reason: String?

    @Option(name: .long, help: "The sample's seed (a different seed draws a different sample).")
    var seed: UInt64 = 0

    @Option(name: .customLong("per-reason"), help: "The most records kept per reason.")
    var perReason: Int = 20

    @Flag(name: .long, help: "One JSON object per record: reason, trial, item, truncated, record.")
    var json = false

    func validate() throws {
        if perReason < 1 { throw ValidationError("--per-reason must be at least 1, got \(perReason)") }
    }

    func run() async throws {
        if try await remote.forward() { return }
        let store = try location.open()
        let sample = try AuditSample.read(store: store, seed: seed, perReason: perReason)
        var reasons = sample.reasons
        if let reason {
            reasons = reasons.filter { $0.reason == reason }
            if reasons.isEmpty {
                let known = sample.reasons.map(\.reason)
                throw ValidationError("no shard printed a sample with reason '\(reason)'" + (known.isEmpty ? "" : " (reasons: \(known.joined(separator: ", ")))"))
            }
        }
        for group in reasons {
            if json {
                for record in group.samples {
                    print("{\"reason\":\(Self.quoted(group.reason)),\"trial\":\(record.trial),\"item\":\(Self.quoted(record.item)),\"truncated\":\(record.truncated),\"record\":"
                          + (record.truncated ? Self.quoted(record.record) : record.record) + "}")
                }
            } else {
                print("\(group.reason): \(group.seen) seen, \(group.samples.count) kept (seed \(seed))")
                for record in group.samples {
                    print("  \(record.item) (trial \(record.trial))\(record.truncated ? " [cut]" : ""): \(record.record)")
                }
            }
        }
        if sample.reasons.isEmpty, !json { print("no shard printed an intern_sample line") }
    }

    /// `text` as a JSON string.
    static func quoted(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
