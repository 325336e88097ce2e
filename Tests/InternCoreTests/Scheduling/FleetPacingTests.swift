import InternCore
import Testing

/// How often workers report and heartbeat: the campaign's intervals for a small fleet, stretched so
/// a large fleet sends about 1,000 reports and 500 heartbeats a second in all.
@Suite struct FleetPacingTests {
    let pacing = FleetPacing(reportMillis: 250, heartbeatMillis: 1_000, leaseMillis: 10_000)

    @Test func aSmallFleet_keepsTheCampaignsIntervals() {
        for workers in [0, 1, 100, 250] {
            #expect(pacing.intervals(workers: workers) == (250, 1_000), "\(workers) workers")
        }
    }

    @Test func aLargeFleet_isStretchedToTheFleetsRates() {
        #expect(pacing.intervals(workers: 251) == (251, 1_000))
        #expect(pacing.intervals(workers: 501) == (501, 1_002))
        #expect(pacing.intervals(workers: 1_000) == (1_000, 2_000))
        #expect(pacing.intervals(workers: 4_000).report == 4_000)
        // So the fleet's reports and heartbeats a second stay at or under the rates, whatever its
        // size, until the lease caps the heartbeat.
        for workers in [1, 10, 999, 1_000, 1_001, 1_249] {
            let (report, heartbeat) = pacing.intervals(workers: workers)
            #expect(Double(workers) * 1_000 / Double(report) <= 1_000.5, "\(workers) workers")
            #expect(Double(workers) * 1_000 / Double(heartbeat) <= 500.5, "\(workers) workers")
        }
    }

    @Test func theHeartbeat_staysWithinAQuarterOfTheLease() {
        #expect(pacing.intervals(workers: 1_250).heartbeat == 2_500)
        #expect(pacing.intervals(workers: 100_000).heartbeat == 2_500)
        // A campaign whose own interval is longer keeps it.
        #expect(FleetPacing(reportMillis: 250, heartbeatMillis: 4_000, leaseMillis: 10_000).intervals(workers: 100_000).heartbeat == 4_000)
    }

    @Test func otherRates_andAbsurdSizes() {
        #expect(FleetPacing(reportMillis: 100, heartbeatMillis: 1_000, leaseMillis: 60_000, reportsPerSecond: 200).intervals(workers: 100).report == 500)
        #expect(FleetPacing(reportMillis: 100, heartbeatMillis: 1_000, leaseMillis: 10_000, reportsPerSecond: 0).intervals(workers: 2).report == 2_000)
        #expect(pacing.intervals(workers: -5) == (250, 1_000))
        #expect(pacing.intervals(workers: .max) == (.max, 2_500))
    }

    /// Each wait lies within ±10 % of the interval, evenly: workers that started together drift
    /// apart, and the fleet's rate stays what the pacing gave.
    @Test func aWaitIsJitteredWithinATenthOfTheInterval() {
        #expect(FleetPacing.jittered(milliseconds: 1_000, unit: 0) == 900)
        #expect(FleetPacing.jittered(milliseconds: 1_000, unit: 0.5) == 1_000)
        #expect(FleetPacing.jittered(milliseconds: 1_000, unit: 0.999_999) == 1_100)
        #expect(FleetPacing.jittered(milliseconds: 1_000, unit: 7) == 1_100)
        #expect(FleetPacing.jittered(milliseconds: 0, unit: 0.5) == 1)
        var generator = SystemRandomNumberGenerator()
        let waits = (0..<10_000).map { _ in FleetPacing.jittered(milliseconds: 2_000, unit: .random(in: 0..<1, using: &generator)) }
        #expect(waits.allSatisfy { (1_800...2_200).contains($0) })
        let mean = Double(waits.reduce(0, +)) / Double(waits.count)
        #expect(abs(mean - 2_000) < 10)
        // Spread, not bunched: each tenth of the range holds some.
        #expect(Set(waits.map { ($0 - 1_800) / 40 }).count >= 10)
    }
}
