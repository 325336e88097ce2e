@testable import InternLoad
import Testing

/// The load generator's draws: an attempt's plan and the churn schedule are functions of the
/// seed, within their ranges, at the rates asked for.
@Suite struct ScheduleTests {
    @Test func anAttemptsPlan_dependsOnlyOnItsIdAndTheSeed_andStaysInRange() {
        let profile = LoadProfile(minSeconds: 1, maxSeconds: 60, timeScale: 0.01, logBytesPerSecond: 1_000, failureRate: 0.1, seed: 7)
        #expect(JobPlan(attempt: 42, profile: profile) == JobPlan(attempt: 42, profile: profile))
        #expect(JobPlan(attempt: 42, profile: profile) != JobPlan(attempt: 43, profile: profile))
        var other = profile
        other.seed = 8
        #expect(JobPlan(attempt: 42, profile: profile) != JobPlan(attempt: 42, profile: other))
        let plans = (1...10_000).map { JobPlan(attempt: UInt64($0), profile: profile) }
        #expect(plans.allSatisfy { (1_000...60_000).contains($0.simulatedMillis) })
        for plan in plans where !plan.fails {
            // Scaled: 60 s simulated at 0.01 is 0.6 s real; the log is counted per simulated second.
            let real = Double(plan.realDuration.components.attoseconds) / 1e18 + Double(plan.realDuration.components.seconds)
            #expect(abs(real - Double(plan.simulatedMillis) / 1000 * 0.01) < 1e-3)
            #expect(abs(plan.rawBytes - Int(plan.simulatedMillis)) <= 1)
        }
        let failures = plans.filter(\.fails).count
        #expect((800...1_200).contains(failures), "\(failures) of 10,000 failed, 10 % asked")
        let mean = plans.map { Double($0.simulatedMillis) }.reduce(0, +) / Double(plans.count) / 1000
        #expect(abs(mean - 30.5) < 1, "mean length \(mean) s")
    }

    @Test func aFailingAttempt_diesPartway_printingLess() {
        let profile = LoadProfile(minSeconds: 10, maxSeconds: 10, logBytesPerSecond: 1_000, failureRate: 1)
        let plan = JobPlan(attempt: 1, profile: profile)
        #expect(plan.fails && plan.rawBytes < 10_000 && plan.rawBytes >= 2_000)
        #expect(plan.realDuration < .milliseconds(100))
    }

    @Test func churn_takesTheAskedShareOfWorkersPerHour_spreadOverTheHours() {
        let settings = ChurnSchedule.Settings(workers: 100, perHour: 0.02, hours: 72, timeScale: 0.001, cutShare: 0.5, seed: 3)
        let schedule = ChurnSchedule(settings)
        #expect(schedule == ChurnSchedule(settings))
        // 100 workers x 2 % x 72 h = 144 events, less the few that hit a worker already away.
        #expect((130...144).contains(schedule.events.count), "\(schedule.events.count) events")
        #expect(schedule.events.map(\.at) == schedule.events.map(\.at).sorted())
        #expect(schedule.events.allSatisfy { $0.at >= .zero && $0.at <= .seconds(72 * 3600 * 0.001) && (0..<100).contains($0.worker) })
        let cuts = schedule.events.filter { $0.kind == .cut }.count
        #expect(cuts > schedule.events.count / 4 && cuts < schedule.events.count * 3 / 4)
        // Spread: every quarter of the run has some.
        for quarter in 0..<4 {
            let low = Duration.seconds(72 * 3600 * 0.001 * Double(quarter) / 4), high = Duration.seconds(72 * 3600 * 0.001 * Double(quarter + 1) / 4)
            #expect(schedule.events.contains { $0.at >= low && $0.at < high })
        }
    }

    @Test func churn_neverTakesAWorkerAwayTwiceAtOnce() {
        // Few workers, long absences: many draws collide and are dropped.
        let schedule = ChurnSchedule(.init(workers: 3, perHour: 5, hours: 10, timeScale: 0.01, killDown: 20...30, cutDown: 20...30, seed: 9))
        #expect(!schedule.events.isEmpty)
        for worker in 0..<3 {
            let events = schedule.events(of: worker)
            for (earlier, later) in zip(events, events.dropFirst()) {
                #expect(earlier.at + earlier.downFor <= later.at)
            }
        }
    }

    @Test func noChurn_noEvents() {
        #expect(ChurnSchedule(.init(workers: 1_000, perHour: 0, hours: 72, timeScale: 0.01)).events.isEmpty)
        #expect(ChurnSchedule(.init(workers: 0, perHour: 0.5, hours: 72, timeScale: 0.01)).events.isEmpty)
    }
}
