import ArgumentParser
import Foundation
import InternCore
import InternReport
import InternStore

/// `--actor`: who asks, recorded with the request and the event it makes; with an agent actor,
/// limits tighter than the spec's agent policy (what `intern mcp` passes from its own flags).
struct ActorOption: ParsableArguments {
    @Option(name: .long, help: "Who asks, recorded with the event (e.g. your name); `agent:NAME` holds the request to the campaign's agent policy (docs/agents.md).")
    var actor: String?

    @Option(name: .customLong("agent-max-trials"), help: "With an agent actor: the most trials agents may add in all, if tighter than the spec's agent.max_trials.")
    var maxTrials: Int?

    @Option(name: .customLong("agent-max-hours"), help: "With an agent actor: the most budget hours agents may add in all, if tighter than the spec's.")
    var maxHours: Double?

    @Option(name: .customLong("agent-max-gpu-hours"), help: "With an agent actor: the most GPU-hours agents may add in all, if tighter than the spec's.")
    var maxGPUHours: Double?

    @Option(name: .customLong("agent-may-cancel"), help: "With an agent actor: whether agents may cancel trials (true or false), if the spec does not forbid it.")
    var mayCancel: Bool?

    /// The request's own limits, `nil` when it sets none.
    var policy: AgentPolicy? {
        let policy = AgentPolicy(maxTrials: maxTrials, maxHours: maxHours, maxGPUHours: maxGPUHours, mayCancel: mayCancel)
        return policy.isEmpty ? nil : policy
    }

    func validate() throws {
        if let actor, !AgentPolicy.isValidActor(actor) {
            throw ValidationError("--actor takes 1 to 64 printable characters without spaces, not '\(actor)'")
        }
        if policy != nil, !AgentPolicy.isAgent(actor) {
            throw ValidationError("--agent-max-trials, --agent-max-hours, --agent-max-gpu-hours and --agent-may-cancel go with --actor agent:NAME")
        }
        if let maxTrials, maxTrials < 0 { throw ValidationError("--agent-max-trials must be >= 0") }
        for (name, value) in [("--agent-max-hours", maxHours), ("--agent-max-gpu-hours", maxGPUHours)] {
            if let value, !(value.isFinite && value >= 0) { throw ValidationError("\(name) must be a number >= 0") }
        }
    }
}

/// `intern cancel`: cancels a trial of a running campaign.
struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a trial: a pending one never runs, a running one is terminated on its worker (SIGTERM, then SIGKILL).")

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @OptionGroup var who: ActorOption

    @Argument(help: "The trial number.")
    var trial: Int

    func run() async throws {
        if try await remote.forward() { return }
        try await submitControl(location: location, kind: .cancelTrial, target: String(trial), who: who)
    }
}

/// `intern drain`: stops giving work to one worker.
struct Drain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Drain a worker: it finishes what it runs, takes nothing new, and exits when idle.")

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @OptionGroup var who: ActorOption

    @Argument(help: "The worker's id (see `intern status`).")
    var worker: String

    func run() async throws {
        if try await remote.forward() { return }
        try await submitControl(location: location, kind: .drainWorker, target: worker, who: who)
    }
}

/// `intern pause`: stops dispatching new attempts; running attempts go on.
struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Pause a running campaign: no new attempts start (running ones go on) until `intern resume`; survives a coordinator restart.")

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @OptionGroup var who: ActorOption

    func run() async throws {
        if try await remote.forward() { return }
        try await submitControl(location: location, kind: .pauseCampaign, target: "", who: who)
    }
}

/// Queues a request in the campaign's store and waits (up to 10 s) for the coordinator to handle
/// it; exits non-zero when it was refused, all or in part.
func submitControl(location: CampaignLocation, kind: ControlRequest.Kind, target: String, who: ActorOption? = nil) async throws {
    let store: CampaignStore
    do {
        store = try CampaignStore(directory: try location.resolve(), create: false)
    } catch let error as StoreError {
        throw ValidationError(error.message)
    }
    // A finished campaign takes no more steering: said at once, not queued for a coordinator
    // that would refuse it.
    if kind == .validate, let info = try store.info(), info.finishedAt != nil, !CampaignStatus.coordinatorRunning(info, now: unixMillisNow()) {
        // A finished campaign is validated when it runs again: its coordinator takes the request first.
        _ = try store.submit(kind, target: target, actor: who?.actor, policy: who?.policy, now: unixMillisNow())
        print("queued: the campaign has finished; `intern resume \(store.directory)` (or `intern coordinator` with its spec) runs the repeats")
        return
    }
    if let finished = try store.info()?.finishedAt {
        print("the campaign finished at \(Format.clock(finished)): nothing to \(kind == .add ? "add to" : kind == .cancelTrial ? "cancel" : kind == .drainWorker ? "drain" : kind == .pauseCampaign ? "pause" : kind == .validate ? "validate now (a stage with validate: validates when it ends)" : "resume")")
        throw ExitCode(ExitCodes.failure)
    }
    let id = try store.submit(kind, target: target, actor: who?.actor, policy: who?.policy, now: unixMillisNow())
    for _ in 0..<100 {
        if case .handled(let outcome, let refused) = try store.controlState(id) {
            print(outcome)
            if refused { throw ExitCode(ExitCodes.failure) }
            return
        }
        try await Task.sleep(for: .milliseconds(100))
    }
    if try store.controlState(id) == .taken {
        print("interrupted: the coordinator took it and has not said what came of it within 10 s (it stopped while applying it, or is stuck); it is not applied again")
    } else {
        print("queued; no coordinator handled it within 10 s (it is applied when the coordinator runs)")
    }
    throw ExitCode(ExitCodes.failure)
}

/// `intern add`: proposes configurations to a running campaign, or gives it more trials or budget.
struct Add: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add to a running campaign: configurations to run next (checked against its space), more trials, more budget.",
        discussion: """
            intern add --param lr=0.001 --param layers=4
            intern add --json '[{"lr": 0.001, "layers": 4}, {"lr": 0.01, "layers": 8}]'
            intern add --trials 20 --hours 12 --gpu-hours 100

            A configuration names every parameter of the space, with a value its domain allows. \
            Configurations run before any new draw, in order, and count as trials.
            """)

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @Option(name: .customLong("param"), help: "NAME=VALUE of one configuration (repeat for each parameter).")
    var params: [String] = []

    @Option(name: .long, help: "Configurations as JSON: one object, or a list of objects.")
    var json: String?

    @Option(name: .long, help: "More trials for the sampler to draw.")
    var trials: Int = 0

    @Option(name: .long, help: "Raise budget.hours by this much.")
    var hours: Double = 0

    @Option(name: .customLong("gpu-hours"), help: "Raise budget.gpu_hours by this much.")
    var gpuHours: Double = 0

    @OptionGroup var who: ActorOption

    func run() async throws {
        if try await remote.forward() { return }
        let store = try location.open()
        guard let info = try store.info() else { throw ValidationError("\(store.directory) holds no campaign") }
        let space = try CampaignFile.parse(stored: info).spec.space
        let agent = AgentPolicy.isAgent(who.actor)
        var configurations: [Parameters] = []
        if !params.isEmpty {
            var values: [String: ParameterValue] = [:]
            for pair in params {
                guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                    throw ValidationError("--param \(pair): write NAME=VALUE")
                }
                let name = String(pair[..<equals]), text = String(pair[pair.index(after: equals)...])
                values[name] = Self.value(text)
            }
            configurations.append(Parameters(values))
        }
        if let json {
            let data = Data(json.utf8)
            if let many = try? JSONDecoder().decode([Parameters].self, from: data) {
                configurations += many
            } else if let one = try? JSONDecoder().decode(Parameters.self, from: data) {
                configurations.append(one)
            } else {
                throw ValidationError("--json must be an object of parameter values, or a list of them")
            }
        }
        let request = AddRequest(configurations: configurations, trials: trials, hours: hours, gpuHours: gpuHours)
        // An agent's configurations are reviewed one by one by the coordinator, which answers
        // each (a person's request is all or nothing, checked here).
        if let problem = request.problem(
            space: space, checkConfigurations: !agent, names: ("--trials", "--hours", "--gpu-hours", "give --param, --json, --trials, --hours or --gpu-hours"))
        {
            throw ValidationError(problem)
        }
        let target = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        try await submitControl(location: location, kind: .add, target: target, who: who)
    }

    /// A command-line value as the domain would read it: integer, number, boolean or text.
    static func value(_ text: String) -> ParameterValue {
        if let int = Int(text) { return .int(int) }
        if let double = Double(text) { return .double(double) }
        if text == "true" || text == "false" { return .bool(text == "true") }
        return .string(text)
    }
}
