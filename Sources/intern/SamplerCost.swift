import ArgumentParser
import Foundation
import InternCore

/// `intern sampler-cost` (hidden; `make bench` runs it): how long the coordinator takes to draw one
/// trial with a sampler when N trials have finished. It builds a campaign in memory (no store, no
/// sockets) with N completed trials of a 4-parameter space, then times the coordinator's logic
/// answering work requests, each of which draws the next trial.
struct SamplerCost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sampler-cost", abstract: "Time one trial draw with N finished trials (benchmark).", shouldDisplay: false)

    @Option(name: .long, help: "Finished trials in the history.")
    var finished: Int = 10_000

    @Option(name: .long, help: "Draws timed.")
    var draws: Int = 50

    @Option(name: .long, help: "tpe, tpe-independent, gp or random.")
    var sampler: String = "tpe"

    func run() throws {
        let space: ParameterSpace = [
            Parameter(name: "lr", domain: .logUniform(low: 1e-5, high: 1e-1)),
            Parameter(name: "x", domain: .uniform(low: -2, high: 2)),
            Parameter(name: "layers", domain: .integer(low: 1, high: 16, step: 1, log: false)),
            Parameter(name: "act", domain: .choice([.string("relu"), .string("gelu"), .string("tanh"), .string("silu")])),
        ]
        let kind: SamplerKind = switch sampler {
        case "tpe": .tpe(seed: 1, startup: 10)
        case "tpe-independent": .independentTPE(seed: 1, startup: 10)
        case "gp": .gp(seed: 1, startup: 10)
        default: .random(seed: 1)
        }
        let spec = CampaignSpec(
            name: "cost", command: CommandTemplate(argv: ["train", "{lr}", "{x}", "{layers}", "{act}"]), workdir: "/tmp", space: space,
            sampler: kind, trials: finished + draws, objective: Objective(metric: "loss", direction: .minimize))
        let random = try Sampler(space: space, kind: .random(seed: 7))
        var trials: [TrialRecord] = []
        for id in 1...finished {
            let parameters = random.parameters(forTrial: id - 1)
            var trial = TrialRecord(id: id, parameters: parameters, createdAt: Int64(id))
            trial.status = .completed
            trial.objective = Self.loss(parameters)
            trial.endedAt = Int64(id)
            trials.append(trial)
        }
        var (machine, _) = try CoordinatorMachine.restore(spec: spec, trials: trials, attempts: [], now: 0)
        _ = machine.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        var timings: [Double] = []
        for n in 1...draws {
            let clock = ContinuousClock.now
            let effects = machine.requestWork(token: RequestToken(UInt64(n)), worker: "w", incarnation: 1, requestID: UInt64(n), now: Int64(n))
            let elapsed = ContinuousClock.now - clock
            timings.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
            guard case .assignment(let plan)? = effects.replies.first?.reply else { throw ValidationError("no trial drawn at draw \(n)") }
            if let parameters = machine.trials[plan.trial]?.parameters {
                _ = machine.metricStored(attempt: plan.attempt, name: "loss", step: 1, value: Self.loss(parameters), now: Int64(n))
            }
            _ = machine.attemptEnded(
                AttemptResult(attempt: plan.attempt, outcome: .exited(0), startedAt: Int64(n), endedAt: Int64(n), wallMillis: 1),
                worker: "w", incarnation: 1, now: Int64(n))
        }
        timings.sort()
        let median = timings[timings.count / 2]
        print("{\"sampler\": \"\(sampler)\", \"finished\": \(finished), \"draws\": \(draws), \"median_ms\": \(median), \"max_ms\": \(timings.last!)}")
    }

    /// The benchmark function of the TPE tests: optimum at lr 1e-3, x 0.7, 6 layers, gelu.
    static func loss(_ p: Parameters) -> Double {
        guard case .double(let lr)? = p["lr"], case .double(let x)? = p["x"], case .int(let layers)? = p["layers"],
              case .string(let act)? = p["act"] else { return .infinity }
        let decades = Foundation.log10(lr) + 3, l = Double(layers - 6)
        return decades * decades + (x - 0.7) * (x - 0.7) + l * l / 25 + (act == "gelu" ? 0 : 0.5)
    }
}
