import Foundation
import InternStore
import InternTestKit
import Testing

/// The TPE sampler in a real campaign: its first `startup` trials are the random sampler's, the
/// rest are its own, and every trial completes once.
@Suite(.serialized) struct SamplerEndToEndTests {
    @Test func aTPECampaignStartsRandom_thenDrawsItsOwnTrials() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        func spec(_ name: String, _ sampler: String) throws -> String {
            try dir.write("\(name).yaml", """
                name: \(name)
                command: [python3, -c, "import sys; x = float(sys.argv[1]); print('METRIC loss=%f' % ((x - 0.3) ** 2))", "{x}"]
                space:
                  x: {type: uniform, low: 0, high: 1}
                sampler: \(sampler)
                trials: 12
                parallel: 1
                metrics: {prefix: METRIC}
                objective: {metric: loss, direction: minimize}
                """)
        }
        for (name, sampler) in [("tpe", "{type: tpe, seed: 5, startup: 4}"), ("random", "{type: random, seed: 5}")] {
            let result = try await InternBinary.run(
                ["run", try spec(name, sampler), "--workers", "1", "--quiet", "--root", dir.file(".intern")], in: dir.path, timeout: .seconds(120))
            #expect(result.status == 0, "\(name): \(result.stderr)")
        }
        let tpe = try CampaignStore(directory: dir.file(".intern/tpe"), create: false, readOnly: true).trials()
        let random = try CampaignStore(directory: dir.file(".intern/random"), create: false, readOnly: true).trials()
        #expect(tpe.count == 12 && tpe.allSatisfy { $0.status == .completed && $0.objective != nil })
        #expect(tpe.prefix(4).map(\.parameters) == random.prefix(4).map(\.parameters))
        #expect(zip(tpe.dropFirst(4), random.dropFirst(4)).allSatisfy { $0.parameters != $1.parameters })
    }
}
