/// Waits until `condition` holds: checks it at once, then again every `interval`, until it holds or
/// `timeout` has passed since the call.
///
/// When the time is up with `condition` still false, throws a ``TimeoutError`` that says what was
/// awaited (`what`, worded as the condition: "w1 runs an attempt"; it is evaluated only then, so it
/// may describe the state at that moment), for how long, and where the wait is written (the test
/// fails with it, and the rest of the test is not run). `condition` is checked once more after the
/// last interval, so a condition that holds at the deadline counts. An error thrown by `condition`
/// ends the wait at once and is rethrown (catch it inside `condition` to keep polling instead).
///
/// For the end-to-end tests, which wait on real processes and files: use a manual clock in logic tests.
public func eventually(
    _ what: @autoclosure () -> String,
    timeout: Duration,
    every interval: Duration = .milliseconds(50),
    fileID: String = #fileID,
    line: Int = #line,
    isolation: isolated (any Actor)? = #isolation,
    _ condition: () async throws -> Bool
) async throws {
    let started = ContinuousClock.now
    try await poll(what(), until: started + timeout, every: interval, started: started, limit: "within \(timeout)",
                   at: "\(fileID):\(line)", condition)
}

/// ``eventually(_:timeout:every:fileID:line:isolation:_:)`` with a deadline instead of a timeout: for
/// a bound that started before the wait (an action that must take effect within 5 s of a signal).
public func eventually(
    _ what: @autoclosure () -> String,
    before deadline: ContinuousClock.Instant,
    every interval: Duration = .milliseconds(50),
    fileID: String = #fileID,
    line: Int = #line,
    isolation: isolated (any Actor)? = #isolation,
    _ condition: () async throws -> Bool
) async throws {
    try await poll(what(), until: deadline, every: interval, started: ContinuousClock.now, limit: "by its deadline",
                   at: "\(fileID):\(line)", condition)
}

/// The loop of both: `limit` says what the bound was, `at` where the wait is written.
private func poll(
    _ what: @autoclosure () -> String,
    until deadline: ContinuousClock.Instant,
    every interval: Duration,
    started: ContinuousClock.Instant,
    limit: String,
    at place: String,
    isolation: isolated (any Actor)? = #isolation,
    _ condition: () async throws -> Bool
) async throws {
    while try await !condition() {
        let now = ContinuousClock.now
        guard now < deadline else {
            throw TimeoutError(
                message: "\(place): timed out waiting until \(what()): not \(limit) (waited \(now - started), checking every \(interval))")
        }
        try await Task.sleep(for: interval)
    }
}
