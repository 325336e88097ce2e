import Foundation
@testable import InternCore
import InternTestKit
import Testing

/// The report's computations, without IO.
@Suite struct AnalysisTests {
    static let space = ParameterSpace([
        Parameter(name: "lr", domain: .logUniform(low: 1e-4, high: 1)),
        Parameter(name: "noise", domain: .uniform(low: 0, high: 1)),
        Parameter(name: "opt", domain: .choice([.string("sgd"), .string("adam")])),
    ])

    /// 200 trials whose objective depends on lr strongly, on opt a little, on noise not at all.
    static func points(seed: UInt64 = 7, count: Int = 200) -> [(parameters: Parameters, objective: Double)] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let lr = pow(10, Double.random(in: -4...0, using: &generator))
            let noise = Double.random(in: 0...1, using: &generator)
            let opt = Bool.random(using: &generator) ? "sgd" : "adam"
            let distance = log10(lr) + 2
            let objective = distance * distance + (opt == "adam" ? 1.0 : 0) + Double.random(in: -0.1...0.1, using: &generator)
            return (["lr": .double(lr), "noise": .double(noise), "opt": .string(opt)], objective)
        }
    }

    @Test func theParameterThatMattersComesFirstAndNoiseExplainsNothing() {
        let importance = ImportanceAnalysis.compute(points: Self.points(), space: Self.space)
        #expect(importance.map(\.parameter) == ["lr", "opt", "noise"])
        #expect(importance[0].share > 0.6, "\(importance)")
        #expect(importance[1].share > 0.01 && importance[1].share < importance[0].share)
        #expect(importance[2].share < 0.05, "\(importance)")
        #expect(importance.allSatisfy { $0.spread > 0 && $0.spread < 0.2 })
        // Seeded: the same input gives the same output.
        #expect(ImportanceAnalysis.compute(points: Self.points(), space: Self.space) == importance)
        // lr's bins: eight quantile bins, the middle ones best (the optimum is lr = 0.01).
        #expect(importance[0].bins.count == 8)
    }

    @Test func tooFewOrConstantPointsGiveNoImportance() {
        let few = Array(Self.points().prefix(3))
        #expect(ImportanceAnalysis.compute(points: few, space: Self.space).isEmpty)
        let flat = Self.points().map { ($0.parameters, 1.0) }
        #expect(ImportanceAnalysis.compute(points: flat, space: Self.space).isEmpty)
    }

    @Test func theProgressCurveCountsImprovements() {
        let values: [Double] = [0.5, 0.6, 0.55, 0.7, 0.7, 0.65]
        var trials = values.enumerated().map { index, value in
            var trial = TrialRecord(id: index + 1, parameters: [:], status: .completed, objective: value, createdAt: 0, endedAt: Int64(index))
            trial.feasible = true
            return trial
        }
        trials[3].feasible = false  // 0.7 broke a constraint: it is not an improvement
        let curve = ProgressCurve(trials: trials, objective: Objective(metric: "acc", direction: .maximize))
        #expect(curve.points.map(\.best) == [0.5, 0.6, 0.6, 0.7, 0.7])
        #expect(curve.improvements == 3)
        // Every ended trial counts as a task, infeasible ones too.
        #expect(curve.points.map(\.ended) == [1, 2, 3, 5, 6] && curve.ended == 6)
    }

    @Test func identicalFailuresAreOneClusterWithTheRegionTheyHit() {
        var trials: [TrialID: TrialRecord] = [:]
        var attempts: [AttemptRecord] = []
        for id in 1...500 {
            trials[id] = TrialRecord(id: id, parameters: ["lr": .double(0.1 + Double(id % 5) / 10), "opt": .string("sgd")], status: .failed, createdAt: 0)
            var attempt = AttemptRecord(id: UInt64(id), trial: id, number: 1, worker: "w", incarnation: 1, status: .failed, argv: [], assignedAt: 0)
            attempt.failureClass = .user
            attempt.failureSignature = "abc"
            attempt.failureExcerpt = "ModuleNotFoundError: No module named 'flash_attn'"
            attempt.endedAt = Int64(id)
            attempt.wallMillis = 3_600_000
            attempt.gpus = ["0"]
            attempts.append(attempt)
        }
        var other = attempts[0]
        other.id = 9999
        other.failureSignature = "def"
        other.failureClass = .oom
        attempts.append(other)
        let clusters = FailureCluster.clusters(attempts: attempts, trials: trials)
        #expect(clusters.map(\.attempts) == [500, 1])
        #expect(clusters[0].trials == 500 && clusters[0].failureClass == "user")
        #expect(clusters[0].parameterRanges == ["lr": "0.1–0.5", "opt": "sgd"])
        #expect(clusters[0].gpuHours == 500 && clusters[0].firstAt == 1 && clusters[0].lastAt == 500)
    }

    @Test func costSaysWhatWasSpentOnFailedAndPrunedAttempts() {
        let trials: [TrialID: TrialRecord] = [
            1: TrialRecord(id: 1, parameters: [:], status: .completed, createdAt: 0),
            2: TrialRecord(id: 2, parameters: [:], status: .pruned, createdAt: 0),
            3: TrialRecord(id: 3, parameters: [:], status: .failed, createdAt: 0),
        ]
        func attempt(_ id: UInt64, trial: Int, _ status: AttemptStatus, hours: Double) -> AttemptRecord {
            var a = AttemptRecord(id: id, trial: trial, number: 1, worker: "w", incarnation: 1, status: status, argv: [], assignedAt: 0)
            a.wallMillis = UInt64(hours * 3_600_000)
            a.gpus = ["0", "1"]
            return a
        }
        let cost = CostBreakdown(
            attempts: [attempt(1, trial: 1, .succeeded, hours: 2), attempt(2, trial: 2, .cancelled, hours: 1), attempt(3, trial: 3, .failed, hours: 1)],
            trials: trials, stageNames: ["main"], now: 0)
        #expect(cost.total.gpu == 8)
        #expect(cost.byOutcome["pruned"]?.gpu == 2 && cost.byOutcome["failed"]?.gpu == 2 && cost.byOutcome["completed"]?.gpu == 4)
        #expect(cost.wastedShare == 0.5)
        // A lost attempt has no measured wall time: it is priced from its start to its end; a
        // running one to now.
        var lost = attempt(4, trial: 3, .lost, hours: 0)
        lost.wallMillis = nil
        lost.startedAt = 0
        lost.endedAt = 1_800_000
        var running = attempt(5, trial: 3, .running, hours: 0)
        running.wallMillis = nil
        running.startedAt = 0
        let priced = CostBreakdown(attempts: [lost, running], trials: trials, stageNames: ["main"], now: 3_600_000)
        #expect(priced.byOutcome["failed"]?.gpu == 1 && priced.byOutcome["running"]?.gpu == 2)
    }

    /// The explained share as it was computed before its passes were fused: the fused one must
    /// give the same doubles, bit for bit (the report and the digest print them).
    static func referenceShare(bins: [Int], objectives: [Double], binCount: Int, weights: [Double]?) -> Double {
        func variance(_ values: [Double]) -> Double {
            var sum = 0.0, weightSum = 0.0
            for (index, value) in values.enumerated() {
                let w = weights?[index] ?? 1
                sum += w * value
                weightSum += w
            }
            guard weightSum > 0 else { return 0 }
            let mean = sum / weightSum
            var squares = 0.0
            for (index, value) in values.enumerated() {
                let w = weights?[index] ?? 1
                squares += w * (value - mean) * (value - mean)
            }
            return squares / weightSum
        }
        let total = variance(objectives)
        guard total > 0 else { return 0 }
        var sums = [Double](repeating: 0, count: binCount)
        var counts = [Double](repeating: 0, count: binCount)
        var weightSum = 0.0, grand = 0.0
        for index in objectives.indices {
            let w = weights?[index] ?? 1
            sums[bins[index]] += w * objectives[index]
            counts[bins[index]] += w
            weightSum += w
            grand += w * objectives[index]
        }
        guard weightSum > 0 else { return 0 }
        let mean = grand / weightSum
        var between = 0.0
        var used = 0
        for bin in 0..<binCount where counts[bin] > 0 {
            let binMean = sums[bin] / counts[bin]
            between += counts[bin] * (binMean - mean) * (binMean - mean)
            used += 1
        }
        let raw = between / weightSum / total
        let chance = weightSum > 1 ? Double(used - 1) / (weightSum - 1) : 1
        guard chance < 1 else { return 0 }
        return min(1, max(0, (raw - chance) / (1 - chance)))
    }

    @Test func theFusedExplainedShare_isTheSameToTheBit() {
        var generator = SeededGenerator(seed: 42)
        for round in 0..<400 {
            let count = Int.random(in: 1...300, using: &generator)
            let binCount = Int.random(in: 1...9, using: &generator)
            let scale = pow(10, Double.random(in: -6...6, using: &generator))
            let objectives = (0..<count).map { _ in Double.random(in: -1...1, using: &generator) * scale + (round % 3 == 0 ? 1e6 : 0) }
            let bins = (0..<count).map { _ in Int.random(in: 0..<binCount, using: &generator) }
            var weights = [Double](repeating: 0, count: count)
            for _ in 0..<count { weights[Int.random(in: 0..<count, using: &generator)] += 1 }
            for weighting in [nil, weights, [Double](repeating: 0, count: count)] {
                let fused = ImportanceAnalysis.explainedShare(bins: bins, objectives: objectives, binCount: binCount, weights: weighting)
                let reference = Self.referenceShare(bins: bins, objectives: objectives, binCount: binCount, weights: weighting)
                #expect(fused.bitPattern == reference.bitPattern, "round \(round): \(fused) != \(reference)")
            }
        }
    }

    @Test func theRemainderByMultiplication_isTheRemainder() {
        var generator = SeededGenerator(seed: 18)
        var divisors: [UInt64] = [1, 2, 3, 4, 7, 10, 200, 8_000, 10_007, 1 << 32, 1 << 63, UInt64.max - 1, UInt64.max]
        divisors += [(1 << 32) + 1, (1 << 63) + 1]
        for _ in 0..<200 {
            let wide: UInt64 = generator.next()
            let shift = UInt64.random(in: 0...63, using: &generator)
            divisors.append((wide >> shift) | 1)
        }
        for divisor in divisors {
            let remainder = Remainder(divisor: divisor)
            var values: [UInt64] = [0, 1, divisor - 1, divisor, divisor &+ 1, UInt64.max, UInt64.max - 1]
            values.append(UInt64.max / divisor * divisor)
            for _ in 0..<500 { values.append(generator.next()) }
            for value in values {
                #expect(remainder.of(value) == value % divisor, "\(value) % \(divisor)")
            }
        }
    }

    /// The importance computed plainly (a division per draw, passes with bounds checks, each
    /// resample drawn once and every parameter's share computed on it): the same doubles, bit for
    /// bit, on the same seed.
    static func referenceImportance(
        points: [(parameters: Parameters, objective: Double)], space: ParameterSpace, resamples: Int = 100, seed: UInt64 = 1
    ) -> [(parameter: String, share: Double, spread: Double)] {
        let points = points.filter { $0.objective.isFinite }
        guard points.count >= 4 else { return [] }
        let objectives = points.map(\.objective)
        var random = SplitMix64(seed: seed)
        let binned = space.parameters.map { parameter in
            (parameter.name, ImportanceAnalysis.binning(
                parameter, values: points.map { $0.parameters[parameter.name] }, most: min(ImportanceAnalysis.maxBins, max(2, points.count / 4))))
        }.filter { $0.1.1.count > 1 }
        var shares = [[Double]](repeating: [], count: binned.count)
        var weights = [Double](repeating: 0, count: points.count)
        for _ in 0..<(binned.isEmpty ? 0 : resamples) {
            for index in weights.indices { weights[index] = 0 }
            for _ in points.indices { weights[Int(random.next() % UInt64(points.count))] += 1 }
            for (index, (_, bins)) in binned.enumerated() {
                shares[index].append(referenceShare(bins: bins.0, objectives: objectives, binCount: bins.1.count, weights: weights))
            }
        }
        var out: [(parameter: String, share: Double, spread: Double)] = []
        for ((name, bins), shares) in zip(binned, shares) {
            let share = referenceShare(bins: bins.0, objectives: objectives, binCount: bins.1.count, weights: nil)
            let mean = shares.isEmpty ? share : shares.reduce(0, +) / Double(shares.count)
            let spread = shares.isEmpty ? 0 : (shares.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(shares.count)).squareRoot()
            out.append((name, share, spread))
        }
        return out
    }

    @Test func theBootstrap_givesTheSameSharesAndSpreadsToTheBit() {
        for (seed, count) in [(1, 4), (2, 9), (3, 57), (4, 200), (5, 1_003)] as [(UInt64, Int)] {
            let points = Array(Self.points(seed: seed, count: count))
            let fast = ImportanceAnalysis.compute(points: points, space: Self.space, seed: seed)
            let reference = Self.referenceImportance(points: points, space: Self.space, seed: seed)
            #expect(fast.count == reference.count)
            for (item, expected) in zip(fast.sorted { $0.parameter < $1.parameter }, reference.sorted { $0.parameter < $1.parameter }) {
                #expect(item.parameter == expected.parameter && item.share.bitPattern == expected.share.bitPattern
                        && item.spread.bitPattern == expected.spread.bitPattern, "\(count) points: \(item) != \(expected)")
            }
        }
    }
}
