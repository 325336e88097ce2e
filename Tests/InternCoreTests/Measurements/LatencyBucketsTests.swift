import InternCore
import Testing

@Suite struct LatencyBucketsTests {
    @Test func aValueFallsInTheFirstBucketWhoseBoundHoldsIt_cumulativeEndsAtTheCount() {
        var buckets = LatencyBuckets(bounds: [0.001, 0.01, 0.1])
        buckets.record(seconds: 0.0005)   // first
        buckets.record(seconds: 0.001)    // on a bound: that bucket (le means "at most")
        buckets.record(seconds: 0.002)    // second
        buckets.record(seconds: 0.5)      // +Inf
        buckets.record(seconds: -1)       // a clock that went back counts as 0: first
        #expect(buckets.counts == [3, 1, 0, 1])
        #expect(buckets.cumulative == [3, 4, 4, 5])
        #expect(buckets.count == 5)
        #expect(abs(buckets.sum - 0.5035) < 1e-12)
    }

    /// A quantile reads as the bound of the bucket its rank falls in: at most that long.
    @Test func aQuantileIsTheBoundOfItsBucket() {
        var buckets = LatencyBuckets(bounds: [0.001, 0.01, 0.1])
        #expect(buckets.bound(ofQuantile: 0.5) == nil)
        for _ in 0..<98 { buckets.record(seconds: 0.0005) }
        buckets.record(seconds: 0.05)
        buckets.record(seconds: 3)
        #expect(buckets.bound(ofQuantile: 0.5) == 0.001)
        #expect(buckets.bound(ofQuantile: 0.98) == 0.001)
        #expect(buckets.bound(ofQuantile: 0.99) == 0.1)
        #expect(buckets.bound(ofQuantile: 1) == .infinity)
        #expect(buckets.bound(ofQuantile: 0) == 0.001)
    }

    @Test func nanosecondsAreSeconds() {
        var buckets = LatencyBuckets(bounds: LatencyBuckets.reportCommitBounds)
        buckets.record(nanoseconds: 3_000_000)  // 3 ms: the 0.005 bucket
        let index = try! #require(LatencyBuckets.reportCommitBounds.firstIndex(of: 0.005))
        #expect(buckets.counts[index] == 1 && buckets.counts.reduce(0, +) == 1)
        #expect(abs(buckets.sum - 0.003) < 1e-12)
    }

    @Test func theRecorderCountsFromManyThreads_andASnapshotIsACopy() async {
        let measurements = CoordinatorMeasurements(campaign: "sweep")
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<1_000 {
                        measurements.reportCommitted(nanoseconds: UInt64(task * 1_000 + index) * 1_000)
                        if index % 2 == 0 { measurements.decided(nanoseconds: 50_000) }
                    }
                }
            }
        }
        let snapshot = measurements.snapshot
        #expect(snapshot.campaign == "sweep")
        #expect(snapshot.reportCommit.count == 8_000 && snapshot.reportCommit.cumulative.last == 8_000)
        #expect(snapshot.decision.count == 4_000 && snapshot.decision.counts[LatencyBuckets.decisionBounds.firstIndex(of: 0.0001)!] == 4_000)
        measurements.decided(nanoseconds: 1)
        #expect(snapshot.decision.count == 4_000 && measurements.snapshot.decision.count == 4_001)
    }
}

@Suite struct DecisionClockTests {
    @Test func anEndIsPairedWithTheNextAssignmentOfItsWorker_oldestFirst() {
        var clock = DecisionClock()
        // The slots' first assignments follow no end: nothing to measure.
        #expect(clock.assigned(worker: "w1", behind: nil, now: 0) == nil)
        #expect(clock.assigned(worker: "w1", behind: nil, now: 0) == nil)
        #expect(clock.ended(attempt: 1, worker: "w1", reported: true, now: 1_000) == nil)
        #expect(clock.ended(attempt: 2, worker: "w1", reported: true, now: 1_500) == nil)
        // Another worker's assignment answers none of w1's ends.
        #expect(clock.assigned(worker: "w2", behind: nil, now: 1_700) == nil)
        #expect(clock.assigned(worker: "w1", behind: nil, now: 2_000) == 1_000)
        #expect(clock.assigned(worker: "w1", behind: nil, now: 2_100) == 600)
        #expect(clock.assigned(worker: "w1", behind: nil, now: 2_200) == nil)
        #expect(clock.waitingCount == 0)
    }

    @Test func anAttemptQueuedAheadWasDecidedBeforeTheEnd_itMeasuresZero() {
        var clock = DecisionClock()
        #expect(clock.assigned(worker: "w1", behind: 7, now: 100) == nil)
        #expect(clock.ended(attempt: 7, worker: "w1", reported: true, now: 900) == 0)
        // That end is answered: a later assignment of w1 pairs with nothing.
        #expect(clock.assigned(worker: "w1", behind: nil, now: 1_000) == nil)
    }

    @Test func endsNotReported_andLostWorkers_measureNothing() {
        var clock = DecisionClock()
        // Lost with its worker, cancelled unseen: no slot was freed by a stored end.
        #expect(clock.ended(attempt: 1, worker: "w1", reported: false, now: 10) == nil)
        #expect(clock.assigned(worker: "w1", behind: nil, now: 20) == nil)
        #expect(clock.assigned(worker: "w1", behind: 3, now: 30) == nil)
        #expect(clock.ended(attempt: 3, worker: "w1", reported: false, now: 40) == nil)
        #expect(clock.ended(attempt: 4, worker: "w2", reported: true, now: 50) == nil)
        clock.lost(worker: "w2")
        #expect(clock.waitingCount == 0)
        #expect(clock.assigned(worker: "w2", behind: nil, now: 60) == nil)
    }

    @Test func aWorkerKeepsAtMostSoManyEndsWaiting() {
        var clock = DecisionClock()
        for attempt in 1...300 { _ = clock.ended(attempt: AttemptID(attempt), worker: "w1", reported: true, now: UInt64(attempt)) }
        #expect(clock.waitingCount == 256)
        // The oldest went: the first answered is the 45th end.
        #expect(clock.assigned(worker: "w1", behind: nil, now: 1_000) == 1_000 - 45)
    }
}
