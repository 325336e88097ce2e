import InternCore
import InternTestKit
import Testing

/// The TPE sampler: it must find better trials than random search for the same budget, start as
/// random search does, account for trials in flight, and be a pure function of its inputs, so a
/// resumed campaign continues exactly as the original would have.
@Suite struct TreeParzenEstimatorTests {
    /// Four kinds of parameter; the optimum is lr = 1e-3, x = 0.7, layers = 6, act = "gelu".
    static let space: ParameterSpace = [
        Parameter(name: "lr", domain: .logUniform(low: 1e-5, high: 1e-1)),
        Parameter(name: "x", domain: .uniform(low: -2, high: 2)),
        Parameter(name: "layers", domain: .integer(low: 1, high: 16, step: 1, log: false)),
        Parameter(name: "act", domain: .choice([.string("relu"), .string("gelu"), .string("tanh"), .string("silu")])),
    ]

    static func loss(_ p: Parameters) -> Double {
        guard case .double(let lr)? = p["lr"], case .double(let x)? = p["x"], case .int(let layers)? = p["layers"],
              case .string(let act)? = p["act"] else { return .infinity }
        var decades = 0.0, v = lr
        while v < 1e-3 { v *= 10; decades -= 1 }
        while v >= 1e-2 { v /= 10; decades += 1 }
        decades += (v - 1e-3) / 9e-3  // piecewise-linear log10(lr) + 3
        let l = Double(layers - 6)
        return decades * decades + (x - 0.7) * (x - 0.7) + l * l / 25 + (act == "gelu" ? 0 : 0.5)
    }

    /// Runs `budget` trials one at a time and returns the best loss found.
    static func bestFound(_ kind: SamplerKind, budget: Int) throws -> Double {
        let sampler = try Sampler(space: space, kind: kind, direction: .minimize)
        var history = SearchHistory(space: space, direction: .minimize)
        var best = Double.infinity
        for index in 0..<budget {
            let parameters = sampler.parameters(forTrial: index, history: history)
            #expect(space.contains(parameters))
            history.record(parameters, objective: loss(parameters), endedAt: Int64(index), trial: index + 1)
            best = min(best, loss(parameters))
        }
        return best
    }

    @Test func findsBetterTrialsThanRandomSearchForTheSameBudget() throws {
        let seeds: [UInt64] = Array(1...8)
        let tpe = try seeds.map { try Self.bestFound(.tpe(seed: $0, startup: 10), budget: 60) }
        let random = try seeds.map { try Self.bestFound(.random(seed: $0), budget: 60) }
        let tpeMean = tpe.reduce(0, +) / Double(seeds.count), randomMean = random.reduce(0, +) / Double(seeds.count)
        #expect(tpeMean < randomMean * 0.6, "mean best loss: TPE \(tpeMean), random \(randomMean)")
        #expect(zip(tpe, random).filter { $0 < $1 }.count >= 6, "TPE \(tpe), random \(random)")
    }

    @Test func startsAsRandomSearchDoes_andIsAPureFunctionOfItsInputs() throws {
        let tpe = try Sampler(space: Self.space, kind: .tpe(seed: 4, startup: 5))
        let random = try Sampler(space: Self.space, kind: .random(seed: 4))
        var history = SearchHistory(space: Self.space, direction: .minimize)
        for index in 0..<5 {
            #expect(tpe.parameters(forTrial: index, history: history) == random.parameters(forTrial: index))
            history.record(random.parameters(forTrial: index), objective: Double(index), endedAt: Int64(index), trial: index + 1)
        }
        let next = tpe.parameters(forTrial: 5, history: history)
        #expect(next != random.parameters(forTrial: 5))
        let again = try Sampler(space: Self.space, kind: .tpe(seed: 4, startup: 5))
        #expect(again.parameters(forTrial: 5, history: history) == next)
        #expect(tpe.parameters(forTrial: 6, history: history) != next)
        // The order trials are recorded in does not matter (a restored campaign records them in another).
        var shuffled = SearchHistory(space: Self.space, direction: .minimize)
        for index in [3, 0, 4, 1, 2] {
            shuffled.record(random.parameters(forTrial: index), objective: index == 3 ? 0 : Double(index), endedAt: Int64(index), trial: index + 1)
        }
        var ordered = SearchHistory(space: Self.space, direction: .minimize)
        for index in 0..<5 {
            ordered.record(random.parameters(forTrial: index), objective: index == 3 ? 0 : Double(index), endedAt: Int64(index), trial: index + 1)
        }
        #expect(tpe.parameters(forTrial: 5, history: shuffled) == tpe.parameters(forTrial: 5, history: ordered))
    }

    @Test func trialsInFlightKeepNewDrawsAway() throws {
        // One choice parameter: "a" is the best so far, so TPE picks it; once many trials with "a"
        // are in flight (counted as bad: the constant liar), the next draw goes elsewhere.
        let space: ParameterSpace = [Parameter(name: "c", domain: .choice([.string("a"), .string("b")]))]
        let sampler = TreeParzenEstimator(space: space, seed: 1, direction: .maximize, startup: 2)
        var history = SearchHistory(space: space, direction: .maximize)
        for i in 0..<10 { history.record(["c": .string(i < 3 ? "a" : "b")], objective: i < 3 ? 1 : 0, endedAt: Int64(i), trial: i + 1) }
        #expect(sampler.suggest(index: 10, history: history)["c"] == .string("a"))
        history.setPending(Array(repeating: ["c": .string("a")], count: 50))
        #expect(sampler.suggest(index: 10, history: history)["c"] == .string("b"))
    }

    @Test func goodGroupSize() {
        #expect(TreeParzenEstimator.goodCount(10) == 1)
        #expect(TreeParzenEstimator.goodCount(11) == 2)
        #expect(TreeParzenEstimator.goodCount(1_000) == 25)
    }
}
