import ArgumentParser
import Foundation
import InternCore
import InternStore

/// Where the admin commands find a campaign: `--dir`, or `--campaign NAME` under `--root`, or
/// the only campaign under `--root`.
struct CampaignLocation: ParsableArguments {
    @Option(name: .long, help: "The campaign directory (holds campaign.db and logs/).")
    var dir: String?

    @Option(name: .long, help: "The campaign's name, under --root.")
    var campaign: String?

    @Option(name: .long, help: "Where campaign directories live.")
    var root: String = ".intern"

    func validate() throws {
        // A name, never a path: `--campaign ../x` would reach outside --root.
        if let campaign, !CampaignSpec.isValidName(campaign) {
            throw ValidationError("--campaign takes a campaign's name (1 to 64 letters, digits, '.', '_' or '-'), not a path: '\(campaign)'; use --dir for a directory")
        }
    }

    /// The campaign directory, or a usage error that lists what exists.
    func resolve() throws -> String {
        if let dir { return dir }
        if let campaign { return (root as NSString).appendingPathComponent(campaign) }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { name in
            FileManager.default.fileExists(atPath: "\(root)/\(name)/\(CampaignStore.databaseName)")
        }.sorted()
        switch names.count {
        case 0: throw ValidationError("no campaign under \(root)/: run `intern run CAMPAIGN.yaml` first, or pass --dir")
        case 1: return "\(root)/\(names[0])"
        default: throw ValidationError("several campaigns under \(root)/ (\(names.joined(separator: ", "))): pick one with --campaign")
        }
    }

    /// Opens the campaign read-only (admin commands never write while a coordinator runs).
    func open() throws -> CampaignStore {
        let directory = try resolve()
        let store: CampaignStore
        do {
            store = try CampaignStore(directory: directory, create: false, readOnly: true)
        } catch let error as StoreError where error.code == .notFound {
            throw ValidationError(error.message)  // a wrong --dir: usage
        } catch let error as StoreError {
            throw CampaignDatabaseError(message: error.message)  // damaged: not usage (exit 1)
        }
        guard (try? store.holdsCampaign()) == true else {
            throw CampaignDatabaseError(message: "\(directory)/\(CampaignStore.databaseName) holds no intern campaign (empty, damaged, or another program's database)")
        }
        return store
    }
}

/// Which attempt of a trial an admin command shows: `number`, or the latest.
struct AttemptChoice {
    var trial: Int
    var number: Int?

    /// The chosen attempt among the trial's attempts, if it exists.
    func pick(from attempts: [AttemptRecord]) -> AttemptRecord? {
        number.map { n in attempts.first { $0.number == n } } ?? attempts.last
    }

    /// The usage error when `pick` finds nothing.
    func missing(in attempts: [AttemptRecord]) -> ValidationError {
        ValidationError(attempts.isEmpty ? "trial \(trial) has not run (yet)" : "trial \(trial) has no attempt \(number!)")
    }
}

/// A campaign database that exists but cannot be used: the command fails with exit status 1
/// (64 is kept for usage errors).
struct CampaignDatabaseError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
