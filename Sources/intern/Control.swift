import ArgumentParser
import Foundation
import InternStore

/// `intern cancel`: cancels a trial of a running campaign.
struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancel a trial: a pending one never runs, a running one is terminated on its worker (SIGTERM, then SIGKILL).")

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @Argument(help: "The trial number.")
    var trial: Int

    func run() async throws {
        if try await remote.forward() { return }
        try await submitControl(location: location, kind: .cancelTrial, target: String(trial))
    }
}

/// `intern drain`: stops giving work to one worker.
struct Drain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drain a worker: it finishes what it runs, takes nothing new, and exits when idle.")

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @Argument(help: "The worker's id (see `intern status`).")
    var worker: String

    func run() async throws {
        if try await remote.forward() { return }
        try await submitControl(location: location, kind: .drainWorker, target: worker)
    }
}

/// `intern pause`: stops dispatching new attempts; running attempts go on.
struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pause a running campaign: no new attempts start (running ones go on) until `intern resume`; survives a coordinator restart.")

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    func run() async throws {
        if try await remote.forward() { return }
        try await submitControl(location: location, kind: .pauseCampaign, target: "")
    }
}

/// Queues a request in the campaign's store and waits (up to 10 s) for the coordinator to handle it.
func submitControl(location: CampaignLocation, kind: ControlRequest.Kind, target: String) async throws {
    let store: CampaignStore
    do {
        store = try CampaignStore(directory: try location.resolve(), create: false)
    } catch let error as StoreError {
        throw ValidationError(error.message)
    }
    let id = try store.submit(kind, target: target, now: unixMillisNow())
    for _ in 0..<100 {
        if let outcome = try store.controlOutcome(id) {
            print(outcome)
            return
        }
        try await Task.sleep(for: .milliseconds(100))
    }
    print("queued; no coordinator handled it within 10 s (it is applied when the coordinator runs)")
    throw ExitCode(ExitCodes.failure)
}
