import Foundation
import InternCore
import Testing

@Suite("Samplers")
struct SamplerTests {
    static let mixed: ParameterSpace = [
        Parameter(name: "lr", domain: .logUniform(low: 1e-4, high: 0.3)),
        Parameter(name: "hidden", domain: .choice([.int(32), .int(64), .int(128)])),
        Parameter(name: "decay", domain: .uniform(low: 0, high: 0.001)),
        Parameter(name: "epochs", domain: .integer(low: 5, high: 30, step: 1, log: false)),
        Parameter(name: "optimizer", domain: .choice([.string("sgd"), .string("adam")])),
    ]

    @Test func gridEnumeratesTheProductOnceInIndexOrder() throws {
        let space: ParameterSpace = [
            Parameter(name: "a", domain: .choice([.string("x"), .string("y")])),
            Parameter(name: "b", domain: .integer(low: 1, high: 7, step: 3, log: false)), // 1, 4, 7
            Parameter(name: "c", domain: .choice([.bool(false), .bool(true)])),
        ]
        #expect(space.gridSize == 12)
        let sampler = try Sampler(space: space, kind: .grid)
        #expect(sampler.trialLimit == 12)
        var expected: [Parameters] = []
        for a in ["x", "y"] {
            for b in [1, 4, 7] {
                for c in [false, true] {
                    expected.append(["a": .string(a), "b": .int(b), "c": .bool(c)])
                }
            }
        }
        let produced = (0..<12).map(sampler.parameters(forTrial:))
        #expect(produced == expected)
        #expect(Set(produced).count == 12)
        #expect(produced.allSatisfy(space.contains))
    }

    @Test func gridOfAnEmptySpaceHasOnePoint() throws {
        let sampler = try Sampler(space: [], kind: .grid)
        #expect(sampler.trialLimit == 1)
        #expect(sampler.parameters(forTrial: 0) == Parameters())
    }

    @Test func gridOverAContinuousParameterIsAnError() {
        #expect(Self.mixed.gridSize == nil)
        #expect(!Self.mixed.isDiscrete)
        #expect {
            _ = try Sampler(space: Self.mixed, kind: .grid)
        } throws: { error in
            guard let problem = error as? CampaignProblem else { return false }
            return problem.keyPath == "space.lr" && problem.message.contains("type: choice")
                && problem.message.contains("sampler: random")
        }
    }

    @Test func gridSizeOverflowIsNil() {
        let huge = ParameterSpace((0..<4).map {
            Parameter(name: "p\($0)", domain: .integer(low: 0, high: 1 << 20, step: 1, log: false))
        })
        #expect(huge.gridSize == nil)
        #expect(huge.isDiscrete)
        #expect(huge.problems(for: .grid).contains { $0.message.contains("more points") })
    }

    @Test func randomIsDeterministicPerIndexInAnyOrder() throws {
        let sampler = try Sampler(space: Self.mixed, kind: .random(seed: 7))
        let forward = (0..<200).map(sampler.parameters(forTrial:))
        let backward = (0..<200).reversed().map(sampler.parameters(forTrial:)).reversed()
        #expect(forward == Array(backward))
        // A second sampler, as in another process, gives the same values.
        let again = try Sampler(space: Self.mixed, kind: .random(seed: 7))
        #expect(again.parameters(forTrial: 123) == forward[123])
        #expect(sampler.parameters(forTrial: 5) == sampler.parameters(forTrial: 5))
        // Trials differ from one another.
        #expect(Set(forward).count == 200)
    }

    @Test func randomValuesArePinned() throws {
        // These exact values are part of the contract: a resumed campaign must regenerate them bit for bit.
        // Changing the generator changes them; that breaks every campaign in flight.
        let sampler = try Sampler(space: Self.mixed, kind: .random(seed: 7))
        let trial = sampler.parameters(forTrial: 3)
        let json = String(decoding: try Self.sortedEncoder.encode(trial), as: UTF8.self)
        #expect(json == Self.pinnedTrial3)
    }

    static let sortedEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()
    static let pinnedTrial3 = #"{"decay":0.00010397155801104874,"epochs":22,"hidden":32,"lr":0.04401478345683163,"optimizer":"sgd"}"#

    @Test func randomValuesStayInBounds() throws {
        let sampler = try Sampler(space: Self.mixed, kind: .random(seed: 1))
        for index in 0..<5_000 {
            let trial = sampler.parameters(forTrial: index)
            #expect(Self.mixed.contains(trial))
            guard case .double(let lr)? = trial["lr"], case .double(let decay)? = trial["decay"],
                  case .int(let epochs)? = trial["epochs"] else {
                Issue.record("wrong value types in \(trial)")
                return
            }
            #expect(lr >= 1e-4 && lr < 0.3)
            #expect(decay >= 0 && decay < 0.001)
            #expect((5...30).contains(epochs))
        }
    }

    @Test func randomCoversEveryChoiceAndIntegerStep() throws {
        let space: ParameterSpace = [
            Parameter(name: "n", domain: .integer(low: 10, high: 50, step: 10, log: false)),
            Parameter(name: "c", domain: .choice([.string("a"), .string("b"), .string("c")])),
        ]
        let sampler = try Sampler(space: space, kind: .random(seed: 3))
        var counts: [ParameterValue: Int] = [:]
        var letters: [ParameterValue: Int] = [:]
        for index in 0..<5_000 {
            let trial = sampler.parameters(forTrial: index)
            counts[trial["n"]!, default: 0] += 1
            letters[trial["c"]!, default: 0] += 1
        }
        #expect(Set(counts.keys) == [.int(10), .int(20), .int(30), .int(40), .int(50)])
        #expect(counts.values.allSatisfy { $0 > 850 && $0 < 1_150 }) // 1000 expected each
        #expect(letters.values.allSatisfy { $0 > 1_500 && $0 < 1_840 }) // 1667 expected each
    }

    @Test func logUniformIsUniformInLogSpace() throws {
        // 1e-4 ... 1e0 spans four decades: each decade should get a quarter of the draws.
        let space: ParameterSpace = [Parameter(name: "lr", domain: .logUniform(low: 1e-4, high: 1))]
        let sampler = try Sampler(space: space, kind: .random(seed: 2024))
        var decades = [0, 0, 0, 0]
        let draws = 20_000
        for index in 0..<draws {
            let value = sampler.parameters(forTrial: index)["lr"]!.doubleValue!
            let decade = Int((log10(value) + 4).rounded(.down))
            decades[min(max(decade, 0), 3)] += 1
        }
        for count in decades {
            #expect(abs(count - draws / 4) < draws / 40, "decade counts \(decades)")
        }
    }

    @Test func logIntegerFavoursSmallValues() throws {
        let space: ParameterSpace = [Parameter(name: "n", domain: .integer(low: 1, high: 1000, step: 1, log: true))]
        let sampler = try Sampler(space: space, kind: .random(seed: 9))
        var small = 0
        for index in 0..<4_000 {
            guard case .int(let n)? = sampler.parameters(forTrial: index)["n"] else {
                Issue.record("not an int")
                return
            }
            #expect((1...1000).contains(n))
            if n <= 31 { small += 1 } // about half of [0.5, 1000.5] in log space
        }
        #expect(small > 1_800 && small < 2_200)
    }

    @Test func integerWithStepLandsOnSteps() throws {
        let space: ParameterSpace = [
            Parameter(name: "batch", domain: .integer(low: 16, high: 256, step: 16, log: false)),
            Parameter(name: "width", domain: .integer(low: 8, high: 512, step: 8, log: true)),
        ]
        let sampler = try Sampler(space: space, kind: .random(seed: 5))
        for index in 0..<2_000 {
            let trial = sampler.parameters(forTrial: index)
            guard case .int(let batch)? = trial["batch"], case .int(let width)? = trial["width"] else {
                Issue.record("not ints")
                return
            }
            #expect(batch % 16 == 0 && (16...256).contains(batch))
            #expect(width % 8 == 0 && (8...512).contains(width))
        }
        #expect(space.parameters[0].domain.gridCount == 16)
    }

    @Test func differentSeedsDiffer() throws {
        let a = try Sampler(space: Self.mixed, kind: .random(seed: 1))
        let b = try Sampler(space: Self.mixed, kind: .random(seed: 2))
        let same = (0..<50).filter { a.parameters(forTrial: $0)["lr"] == b.parameters(forTrial: $0)["lr"] }
        #expect(same.isEmpty)
    }

    @Test func aParameterKeepsItsValuesWhenOthersChange() throws {
        let full = try Sampler(space: Self.mixed, kind: .random(seed: 11))
        let reduced = try Sampler(space: [Self.mixed.parameters[3], Self.mixed.parameters[0]], kind: .random(seed: 11))
        for index in 0..<20 {
            #expect(full.parameters(forTrial: index)["lr"] == reduced.parameters(forTrial: index)["lr"])
            #expect(full.parameters(forTrial: index)["epochs"] == reduced.parameters(forTrial: index)["epochs"])
        }
    }

    @Test func tinyAndHugeRangesStayInBounds() throws {
        let space: ParameterSpace = [
            Parameter(name: "tiny", domain: .logUniform(low: 1e-300, high: 1e-299)),
            Parameter(name: "wide", domain: .uniform(low: -1e308, high: 1e308)),
            Parameter(name: "ints", domain: .integer(low: Int.min / 4, high: Int.max / 4, step: 1, log: false)),
        ]
        #expect(space.problems().isEmpty)
        let sampler = try Sampler(space: space, kind: .random(seed: UInt64.max))
        for index in 0..<500 {
            #expect(space.contains(sampler.parameters(forTrial: index)))
        }
    }
}
