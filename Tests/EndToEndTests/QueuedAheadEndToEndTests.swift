import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

/// End-to-end: `intern run` with two local workers on short trials. Each slot gets its next
/// attempt while the one before runs (`WorkRequest.behind`), and nothing is lost or run twice.
@Suite(.serialized) struct QueuedAheadEndToEndTests {
    @Test func shortTrialsStartBackToBackOnEachSlot_andEveryTrialRunsOnceWithItsMetric() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-ahead")
        defer { dir.remove() }
        let trials = 60
        let spec = try dir.write("campaign.yaml", """
            name: ahead
            command: [/usr/bin/python3, -c, "import sys; print('{{\\"step\\": 1, \\"loss\\": %d}}' % int(sys.argv[1]))", "{trial}"]
            space:
              x: {type: choice, values: [0]}
            sampler: {type: random, seed: 1}
            trials: \(trials)
            parallel: 2
            objective: {metric: loss, direction: minimize}
            """)
        let result = try await InternBinary.run(["run", spec, "--workers", "2", "--quiet"], in: dir.path)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("\(trials) completed"), "\(result.stdout)")

        let store = try CampaignStore(directory: dir.file(".intern/ahead"), create: false, readOnly: true)
        let attempts = try store.attempts()
        #expect(attempts.count == trials)
        #expect(Set(attempts.map(\.trial)).count == trials)
        #expect(attempts.allSatisfy { $0.status == .succeeded })
        for attempt in attempts {
            let loss = try store.metricSeries(attempt: attempt.id).first { $0.name == "loss" }
            #expect(loss?.lastValue == Double(attempt.trial), "trial \(attempt.trial): \(String(describing: loss))")
        }
        // Per worker, in order: how many attempts were assigned before the one before them ended.
        var ahead = 0
        var overlapping = 0
        for (_, mine) in Dictionary(grouping: attempts, by: \.worker) {
            let ordered = mine.sorted { ($0.startedAt ?? 0) < ($1.startedAt ?? 0) }
            for (previous, next) in zip(ordered, ordered.dropFirst()) {
                if next.assignedAt < (previous.endedAt ?? 0) { ahead += 1 }
                // A slot runs one attempt at a time, queued ahead or not.
                if (next.startedAt ?? 0) < (previous.endedAt ?? 0) { overlapping += 1 }
            }
        }
        #expect(overlapping == 0)
        // The first three of a stage set how long its attempts take; most of the rest go ahead.
        #expect(ahead >= trials / 2, "\(ahead) of \(trials) attempts assigned ahead")
    }
}
