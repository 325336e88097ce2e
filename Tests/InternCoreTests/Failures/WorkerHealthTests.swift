import InternCore
import Testing

@Suite struct WorkerHealthTests {
    @Test func quarantinedWhenItsFailuresSucceedElsewhere() {
        var health = WorkerHealth(threshold: 3)
        for trial in [4, 7] {
            health.recordFailure(worker: "gpu-3", trial: trial, failure: .infra)
            #expect(health.recordSuccess(worker: "gpu-1", trial: trial).isEmpty)
        }
        health.recordFailure(worker: "gpu-3", trial: 9, failure: .oom)
        #expect(!health.isQuarantined("gpu-3"))
        #expect(health.recordSuccess(worker: "gpu-2", trial: 9) == ["gpu-3"])
        #expect(health.isQuarantined("gpu-3") && !health.isQuarantined("gpu-1"))
        #expect(health.quarantined == ["gpu-3": "3 trials (4, 7, 9) failed here with infra or oom failures and then succeeded on another worker"])
        // Already quarantined: not reported again.
        health.recordFailure(worker: "gpu-3", trial: 12, failure: .infra)
        #expect(health.recordSuccess(worker: "gpu-2", trial: 12).isEmpty)
        health.release("gpu-3")
        #expect(!health.isQuarantined("gpu-3"))
    }

    @Test func aJobThatFailsEverywhereBlamesNobody() {
        var health = WorkerHealth(threshold: 1)
        for trial in 1...5 {
            for worker: WorkerID in ["a", "b", "c"] {
                health.recordFailure(worker: worker, trial: trial, failure: .oom)
            }
        }
        #expect(health.quarantined.isEmpty)
        // Success on the worker where it failed: transient, nobody is blamed.
        health.recordFailure(worker: "a", trial: 6, failure: .infra)
        #expect(health.recordSuccess(worker: "a", trial: 6).isEmpty)
        // Other classes do not count.
        for failure in [FailureClass.user, .unknown, .timeout, .lost, .preempted, .diverged] {
            health.recordFailure(worker: "b", trial: 7, failure: failure)
        }
        #expect(health.recordSuccess(worker: "c", trial: 7).isEmpty)
        // The same trial failing twice on one worker counts once.
        var once = WorkerHealth(threshold: 2)
        once.recordFailure(worker: "a", trial: 1, failure: .infra)
        once.recordFailure(worker: "a", trial: 1, failure: .infra)
        #expect(once.recordSuccess(worker: "b", trial: 1).isEmpty)
        // Off.
        var off = WorkerHealth(threshold: 0)
        off.recordFailure(worker: "a", trial: 1, failure: .infra)
        #expect(off.recordSuccess(worker: "b", trial: 1).isEmpty)
    }

    @Test func severalWorkersBlamedAtOnceAreSorted() {
        var health = WorkerHealth(threshold: 1)
        health.recordFailure(worker: "z", trial: 1, failure: .infra)
        health.recordFailure(worker: "m", trial: 1, failure: .oom)
        #expect(health.recordSuccess(worker: "a", trial: 1) == ["m", "z"])
    }
}
