import InternCore
import Testing

@Suite struct CircuitBreakerTests {
    static let missing = "0123456789abcdef"

    /// The trip a `record` returned, failing the test if it returned none.
    static func tripped(_ trip: CircuitTrip?, sourceLocation: SourceLocation = #_sourceLocation) throws -> CircuitTrip {
        try #require(trip, sourceLocation: sourceLocation)
    }

    @Test func tripsAtNDistinctTrials() throws {
        var breaker = CircuitBreaker(threshold: 3)
        #expect(breaker.record(failure: .user, signature: Self.missing, trial: 3, parameters: [("lr", "0.1")]) == nil)
        // The same trial twice counts once.
        #expect(breaker.record(failure: .user, signature: Self.missing, trial: 3, parameters: [("lr", "0.1")]) == nil)
        #expect(breaker.record(failure: .user, signature: Self.missing, trial: 5, parameters: [("lr", "0.01")]) == nil)
        #expect(breaker.trips.isEmpty)
        let trip = try Self.tripped(breaker.record(
            failure: .user, signature: Self.missing, trial: 9, parameters: [("lr", "0.001")],
            summary: "ModuleNotFoundError: No module named 'transfomers'"))
        #expect(trip.trials == [3, 5, 9] && trip.blocksAll)
        #expect(trip.reason == "signature 01234567 (ModuleNotFoundError: No module named 'transfomers') failed trials 3, 5, 9: dispatch paused for every configuration")
        #expect(breaker.trips == [trip])
        #expect(breaker.blocks(parameters: [("lr", "0.5")]) == trip)
        // A fourth failure changes nothing it blocks: nothing new to report.
        #expect(breaker.record(failure: .user, signature: Self.missing, trial: 11, parameters: [("lr", "0.2")]) == nil)
        #expect(breaker.trips.first?.trials == [3, 5, 9, 11])
    }

    @Test func onlyUserFailuresCount() {
        var breaker = CircuitBreaker(threshold: 2)
        for (trial, failure) in [(1, FailureClass.oom), (2, .infra), (3, .unknown), (4, .diverged), (5, .lost)] {
            #expect(breaker.record(failure: failure, signature: Self.missing, trial: trial, parameters: []) == nil)
        }
        #expect(breaker.trips.isEmpty)
        var off = CircuitBreaker(threshold: 0)
        for trial in 1...10 { off.record(failure: .user, signature: Self.missing, trial: trial, parameters: []) }
        #expect(off.trips.isEmpty && off.blocks(parameters: []) == nil)
    }

    @Test func parameterDependentTripBlocksOnlyThatValue() throws {
        var breaker = CircuitBreaker(threshold: 3)
        breaker.recordSuccess(trial: 1, parameters: [("opt", "sgd"), ("lr", "0.1")])
        breaker.record(failure: .user, signature: "aa", trial: 2, parameters: [("opt", "adamw"), ("lr", "0.1")])
        breaker.record(failure: .user, signature: "aa", trial: 4, parameters: [("opt", "adamw"), ("lr", "0.01")])
        let trip = try Self.tripped(breaker.record(failure: .user, signature: "aa", trial: 6, parameters: [("opt", "adamw"), ("lr", "0.001")]))
        #expect(trip.blocking == [ParameterPair(name: "opt", value: "adamw")])
        #expect(trip.reason.hasSuffix("dispatch paused for configurations with opt=adamw"))
        #expect(breaker.blocks(parameters: [("lr", "0.5"), ("opt", "adamw")]) == trip)
        #expect(breaker.blocks(parameters: [("lr", "0.5"), ("opt", "sgd")]) == nil)
    }

    @Test func aValueSeenSucceedingIsNeverBlamed() throws {
        var breaker = CircuitBreaker(threshold: 2)
        breaker.recordSuccess(trial: 1, parameters: [("opt", "adamw"), ("bs", "32")])
        breaker.record(failure: .user, signature: "bb", trial: 2, parameters: [("opt", "adamw"), ("bs", "64")])
        let trip = try Self.tripped(breaker.record(failure: .user, signature: "bb", trial: 3, parameters: [("opt", "adamw"), ("bs", "64")]))
        #expect(trip.blocking == [ParameterPair(name: "bs", value: "64")])
        // All pairs the failures share also succeeded: not the parameters' fault, so everything pauses.
        var global = CircuitBreaker(threshold: 2)
        global.recordSuccess(trial: 1, parameters: [("opt", "adamw")])
        global.record(failure: .user, signature: "cc", trial: 2, parameters: [("opt", "adamw")])
        #expect(try Self.tripped(global.record(failure: .user, signature: "cc", trial: 3, parameters: [("opt", "adamw")])).blocksAll)
    }

    @Test func severalSharedPairsBlockOnlyTheirCombination() throws {
        var breaker = CircuitBreaker(threshold: 2)
        breaker.record(failure: .user, signature: "dd", trial: 1, parameters: [("opt", "adamw"), ("bs", "64"), ("lr", "0.1")])
        let trip = try Self.tripped(breaker.record(failure: .user, signature: "dd", trial: 2, parameters: [("opt", "adamw"), ("bs", "64"), ("lr", "0.2")]))
        #expect(trip.blocking == [ParameterPair(name: "bs", value: "64"), ParameterPair(name: "opt", value: "adamw")])
        #expect(breaker.blocks(parameters: [("opt", "adamw"), ("bs", "64"), ("lr", "9")]) != nil)
        #expect(breaker.blocks(parameters: [("opt", "adamw"), ("bs", "32"), ("lr", "9")]) == nil)
        // A later success with bs=64 clears it; opt=adamw alone stays suspect.
        let changed = breaker.recordSuccess(trial: 3, parameters: [("opt", "sgd"), ("bs", "64"), ("lr", "0.3")])
        #expect(changed.map(\.blocking) == [[ParameterPair(name: "opt", value: "adamw")]])
        #expect(breaker.blocks(parameters: [("opt", "adamw"), ("bs", "32"), ("lr", "9")]) != nil)
        // A failure outside the blocked values widens the trip.
        let widened = try Self.tripped(breaker.record(failure: .user, signature: "dd", trial: 4, parameters: [("opt", "sgd"), ("bs", "32"), ("lr", "0.1")]))
        #expect(widened.blocksAll)
    }

    @Test func replayGivesTheSameState() {
        var events: [(Bool, TrialID, [(name: String, value: String)])] = []
        for trial in 1...30 {
            events.append((trial % 3 != 0, trial, [("opt", trial % 2 == 0 ? "adamw" : "sgd"), ("seed", "\(trial % 5)")]))
        }
        func replay() -> CircuitBreaker {
            var breaker = CircuitBreaker(threshold: 3)
            for (failed, trial, parameters) in events {
                if failed {
                    breaker.record(failure: .user, signature: trial % 2 == 0 ? "even" : "odd", trial: trial, parameters: parameters)
                } else {
                    breaker.recordSuccess(trial: trial, parameters: parameters)
                }
            }
            return breaker
        }
        #expect(replay() == replay())
        var reset = replay()
        reset.reset(signature: "even")
        #expect(reset.trips.map(\.digest) == ["odd"])
    }

    @Test func parametersAsRenderedPairs() {
        let parameters: Parameters = ["lr": .double(0.001), "hidden": .int(64)]
        #expect(parameters.renderedPairs.map { "\($0.name)=\($0.value)" } == ["hidden=64", "lr=0.001"])
    }
}
