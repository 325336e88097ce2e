import Foundation
import InternCore
import Testing

@Suite("Campaign model")
struct CampaignModelTests {
    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    static let spec = CampaignSpec(
        name: "digits-sweep",
        command: CommandTemplate(argv: ["python3", "train.py", "--lr", "{lr}", "--opt", "{opt}"]),
        workdir: "/work/exp",
        environment: ["OMP_NUM_THREADS": "1"],
        space: [
            Parameter(name: "lr", domain: .logUniform(low: 1e-4, high: 0.3)),
            Parameter(name: "opt", domain: .choice([.string("sgd"), .string("adam")])),
            Parameter(name: "epochs", domain: .integer(low: 5, high: 30, step: 5, log: false)),
        ],
        sampler: .random(seed: 7),
        trials: 24,
        parallel: 4,
        objective: Objective(metric: "eval_accuracy", direction: .maximize),
        timeoutSeconds: 600,
        retries: 1,
        metricPrefix: "METRIC")

    @Test func parametersEncodeAsAPlainObject() throws {
        let parameters: Parameters = ["lr": .double(0.001), "hidden": .int(64), "opt": .string("adam"), "bn": .bool(true)]
        let text = try Self.json(parameters)
        #expect(text == #"{"bn":true,"hidden":64,"lr":0.001,"opt":"adam"}"#)
        #expect(try Self.decode(Parameters.self, text) == parameters)
        #expect(parameters.sortedPairs.map(\.name) == ["bn", "hidden", "lr", "opt"])
        #expect(parameters.description == "bn=true hidden=64 lr=0.001 opt=adam")
    }

    @Test func integralDoublesComeBackThroughNormalization() throws {
        let space: ParameterSpace = [
            Parameter(name: "wd", domain: .uniform(low: 0, high: 2)),
            Parameter(name: "mix", domain: .choice([.double(1), .double(0.5)])),
            Parameter(name: "n", domain: .integer(low: 1, high: 3, step: 1, log: false)),
        ]
        let original: Parameters = ["wd": .double(1), "mix": .double(1), "n": .int(2)]
        let decoded = try Self.decode(Parameters.self, try Self.json(original))
        #expect(decoded["wd"] == .int(1)) // JSON cannot tell 1 from 1.0
        #expect(space.normalized(decoded) == original)
        #expect(space.contains(original))
    }

    @Test func specRoundTripsThroughJSON() throws {
        let text = try Self.json(Self.spec)
        #expect(text.contains(#""domain":{"high":0.3,"low":0.0001,"type":"loguniform"}"#))
        #expect(text.contains(#""sampler":{"seed":7,"type":"random"}"#))
        #expect(try Self.decode(CampaignSpec.self, text) == Self.spec)
        #expect(try Self.decode(SamplerKind.self, #"{"type":"grid"}"#) == .grid)
        #expect(try Self.decode(Parameter.Domain.self, #"{"type":"int","low":1,"high":4}"#)
            == .integer(low: 1, high: 4, step: 1, log: false))
    }

    @Test func aValidSpecHasNoProblems() {
        #expect(Self.spec.problems().isEmpty)
    }

    @Test func campaignNames() {
        for name in ["a", "digits-sweep", "v1.2_b", String(repeating: "x", count: 64), "..."] {
            #expect(CampaignSpec.isValidName(name), "\(name)")
        }
        for name in ["", ".", "..", "a/b", "a b", "é", String(repeating: "x", count: 65), "a\0"] {
            #expect(!CampaignSpec.isValidName(name), "\(name)")
        }
    }

    @Test func problemsNameTheKeyPath() {
        var spec = Self.spec
        spec.name = "bad/name"
        spec.workdir = "relative"
        spec.environment["1BAD"] = "x"
        spec.space.parameters[0].domain = .logUniform(low: 0, high: 1)
        spec.space.parameters[2].domain = .integer(low: 5, high: 1, step: 0, log: false)
        spec.space.parameters.append(Parameter(name: "trial", domain: .choice([.int(1)])))
        spec.space.parameters.append(Parameter(name: "opt", domain: .choice([])))
        spec.trials = 0
        spec.parallel = 0
        spec.retries = -1
        spec.timeoutSeconds = 0
        spec.metricPrefix = ""
        spec.objective?.metric = "has space"
        let paths = Set(spec.problems().map(\.keyPath))
        #expect(paths == [
            "name", "workdir", "env.1BAD", "space.lr.low", "space.epochs.step", "space.epochs.high", "space.trial",
            "space.opt", "space.opt.values", "trials", "parallel", "retries", "timeout", "metrics.prefix", "objective.metric",
        ])
    }

    @Test func gridTrialsMustFitTheGrid() {
        var spec = Self.spec
        spec.space.parameters.removeFirst()
        spec.command.argv = ["run", "{opt}", "{epochs}"]
        spec.sampler = .grid
        #expect(spec.space.gridSize == 12)
        spec.trials = 12
        #expect(spec.problems().isEmpty)
        spec.trials = 13
        #expect(spec.problems().map(\.keyPath) == ["trials"])
    }

    @Test func domainProblems() {
        #expect(Parameter.Domain.uniform(low: 1, high: 1).problems(keyPath: "p").map(\.keyPath) == ["p.high"])
        #expect(Parameter.Domain.uniform(low: .nan, high: 1).problems(keyPath: "p").map(\.keyPath) == ["p.low"])
        #expect(Parameter.Domain.logUniform(low: -1, high: 1).problems(keyPath: "p").map(\.keyPath) == ["p.low"])
        #expect(Parameter.Domain.integer(low: 0, high: 10, step: 1, log: true).problems(keyPath: "p").map(\.keyPath) == ["p.low"])
        #expect(Parameter.Domain.choice([.int(1), .int(1)]).problems(keyPath: "p").map(\.keyPath) == ["p.values[1]"])
        #expect(Parameter.Domain.choice([.double(.infinity)]).problems(keyPath: "p").map(\.keyPath) == ["p.values[0]"])
        #expect(Parameter.Domain.integer(low: 3, high: 3, step: 1, log: false).problems(keyPath: "p").isEmpty)
        #expect(Parameter.Domain.integer(low: 0, high: 10, step: 3, log: false).gridCount == 4) // 0 3 6 9
    }

    @Test func objectiveComparesByDirection() {
        let max = Objective(metric: "acc", direction: .maximize)
        let min = Objective(metric: "loss", direction: .minimize, summary: .best)
        #expect(max.isBetter(0.9, than: 0.8))
        #expect(!max.isBetter(0.8, than: 0.8))
        #expect(min.isBetter(0.1, than: 0.2))
        #expect(!min.isBetter(.nan, than: 0.2))
        #expect(min.isBetter(0.2, than: .nan))
        #expect(max.score(of: [0.5, 0.9, 0.7, .nan]) == 0.7)
        #expect(min.score(of: [0.5, 0.2, 0.7]) == 0.2)
        #expect(max.score(of: []) == nil)
    }

    @Test func suggestions() {
        #expect(NameSuggestion.closest(to: "trails", among: ["name", "trials", "retries"]) == "trials")
        #expect(NameSuggestion.closest(to: "learning_rte", among: ["hidden_size", "learning_rate"]) == "learning_rate")
        #expect(NameSuggestion.closest(to: "obj", among: ["objective", "name"]) == "objective")
        #expect(NameSuggestion.closest(to: "xyzzy", among: ["name", "trials"]) == nil)
        #expect(NameSuggestion.closest(to: "a", among: ["b"]) == nil)
        #expect(NameSuggestion.editDistance("kitten", "sitting") == 3)
        #expect(NameSuggestion.editDistance("ab", "ba") == 1)
    }

    @Test func valuesConvert() {
        #expect(ParameterValue.int(3).doubleValue == 3)
        #expect(ParameterValue.string("3").doubleValue == nil)
        #expect(ParameterValue.bool(true).doubleValue == nil)
    }
}
