import InternCore
import Testing

/// Conditional parameters: `momentum` exists only when `optimizer` is sgd; random, TPE and GP
/// draws leave it out elsewhere, and the space checks assignments accordingly.
@Suite struct ConditionalParameterTests {
    static let space: ParameterSpace = [
        Parameter(name: "optimizer", domain: .choice([.string("sgd"), .string("adam")])),
        Parameter(name: "momentum", domain: .uniform(low: 0.5, high: 0.99), condition: .init(parameter: "optimizer", values: [.string("sgd")])),
        Parameter(name: "lr", domain: .logUniform(low: 1e-4, high: 1e-1)),
    ]

    @Test func drawsHaveTheParameterExactlyWhenItsConditionHolds() throws {
        #expect(Self.space.problems().isEmpty)
        for kind in [SamplerKind.random(seed: 3), .tpe(seed: 3, startup: 5), .independentTPE(seed: 3, startup: 5), .gp(seed: 3, startup: 5)] {
            let sampler = try Sampler(space: Self.space, kind: kind, direction: .minimize)
            var history = SearchHistory(space: Self.space, direction: .minimize)
            for index in 0..<40 {
                let p = sampler.parameters(forTrial: index, history: history)
                #expect(Self.space.contains(p), "\(p)")
                #expect((p["momentum"] != nil) == (p["optimizer"] == .string("sgd")), "\(p)")
                history.record(p, objective: p["optimizer"] == .string("sgd") ? 0.1 : 1.0, endedAt: Int64(index), trial: index + 1)
            }
        }
    }

    @Test func theSpaceChecksConditions() {
        #expect(Self.space.contains(["optimizer": .string("adam"), "lr": .double(0.01)]))
        #expect(!Self.space.contains(["optimizer": .string("adam"), "momentum": .double(0.9), "lr": .double(0.01)]))
        #expect(!Self.space.contains(["optimizer": .string("sgd"), "lr": .double(0.01)]))
        let bad: ParameterSpace = [
            Parameter(name: "m", domain: .uniform(low: 0, high: 1), condition: .init(parameter: "opt", values: [.string("sgd")])),
            Parameter(name: "opt", domain: .choice([.string("sgd")])),
        ]
        #expect(bad.problems().contains { $0.message.contains("defined before") })
        let wrongValue: ParameterSpace = [
            Parameter(name: "opt", domain: .choice([.string("sgd")])),
            Parameter(name: "m", domain: .uniform(low: 0, high: 1), condition: .init(parameter: "opt", values: [.string("adamw")])),
        ]
        #expect(wrongValue.problems().contains { $0.message.contains("'adamw' is not a value of 'opt'") })
        #expect(!Self.space.problems(for: .grid).isEmpty)
    }
}
