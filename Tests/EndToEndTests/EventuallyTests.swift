import InternTestKit
import Testing

/// The helper the end-to-end tests wait with: it returns once the condition holds, and otherwise
/// fails saying what was awaited, for how long and where.
@Suite struct EventuallyTests {
    @Test func conditionThatComesTrue_returnsOnceItHolds() async throws {
        var checks = 0
        try await eventually("the third check", timeout: .seconds(5), every: .milliseconds(1)) {
            checks += 1
            return checks == 3
        }
        #expect(checks == 3)
    }

    @Test func conditionThatNeverHolds_throwsSayingWhatWasAwaitedForHowLongAndWhere() async throws {
        let started = ContinuousClock.now
        var checks = 0
        do {
            try await eventually("the sky is green (checked \(checks) times)", timeout: .milliseconds(100), every: .milliseconds(10)) {
                checks += 1
                return false
            }
            Issue.record("eventually returned although its condition never held")
        } catch let error as TimeoutError {
            #expect(ContinuousClock.now - started >= .milliseconds(100))
            // Checked at once, then after each interval, the last time at or past the deadline.
            #expect(checks >= 2)
            #expect(error.message.contains("EventuallyTests.swift:"), "\(error.message)")
            #expect(error.message.contains("waiting until the sky is green (checked \(checks) times)"), "\(error.message)")
            #expect(error.message.contains("not within 0.1 seconds"), "\(error.message)")
        }
    }

    @Test func deadlineInThePast_checksOnceThenThrows() async throws {
        var checks = 0
        await #expect(throws: TimeoutError.self) {
            try await eventually("a past deadline", before: ContinuousClock.now - .seconds(1)) {
                checks += 1
                return false
            }
        }
        #expect(checks == 1)
    }

    @Test func conditionThatThrows_endsTheWaitWithItsError() async throws {
        struct Broken: Error {}
        var checks = 0
        await #expect(throws: Broken.self) {
            try await eventually("a broken condition", timeout: .seconds(5)) {
                checks += 1
                throw Broken()
            }
        }
        #expect(checks == 1)
    }
}
