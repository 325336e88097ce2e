import InternCore
import InternProtocol
import Testing

/// CPU and memory requests (`cpus:`, `memory:`): an attempt runs only on a worker with that much
/// not taken by its other attempts; sizes are read the way people write them.
@Suite struct ResourcePlacementTests {
    static func spec(cpus: Int = 0, memory: Int = 0) -> CampaignSpec {
        CampaignSpec(name: "r", command: CommandTemplate(argv: ["train"]), workdir: "/tmp", trials: 8, cpus: cpus, memoryBytes: memory)
    }

    func ask(_ machine: inout CoordinatorMachine, _ worker: WorkerID, _ token: UInt64) -> AttemptPlan? {
        GPUPlacementTests.plan(machine.requestWork(token: RequestToken(token), worker: worker, incarnation: 1, requestID: token, now: 0), token)
    }

    @Test func aWorkersCPUsBoundHowManyAttemptsItRuns() throws {
        var machine = try CoordinatorMachine(spec: Self.spec(cpus: 2))
        _ = machine.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 4, gpus: [], cpus: 5, now: 0)
        let first = try #require(ask(&machine, "w", 1))
        #expect(ask(&machine, "w", 2) != nil)
        // 4 slots, but 5 CPUs hold two attempts of 2: the third waits until one ends.
        #expect(ask(&machine, "w", 3) == nil)
        let ended = machine.attemptEnded(
            AttemptResult(attempt: first.attempt, outcome: .exited(0), startedAt: 0, endedAt: 1, wallMillis: 1), worker: "w", incarnation: 1, now: 1)
        let third = try #require(GPUPlacementTests.plan(ended, 3))
        #expect(third.environment.contains { $0 == ("INTERN_CPUS", "2") })
    }

    @Test func memoryBoundsToo_andAWorkerThatSaysNothingHasNoLimit() throws {
        var machine = try CoordinatorMachine(spec: Self.spec(memory: 16 << 30))
        _ = machine.hello(worker: "small", incarnation: 1, hostname: "h", pid: 1, slots: 2, gpus: [], memoryBytes: 40 << 30, now: 0)
        #expect(ask(&machine, "small", 1) != nil)
        #expect(ask(&machine, "small", 2) != nil)
        #expect(ask(&machine, "small", 3) == nil)
        _ = machine.hello(worker: "unsaid", incarnation: 1, hostname: "h2", pid: 1, slots: 3, gpus: [], now: 0)
        for token in UInt64(10)..<13 { #expect(ask(&machine, "unsaid", token) != nil) }
    }

    @Test func aWorkerTooSmallForOneAttemptIsToldAndGetsNone() throws {
        var machine = try CoordinatorMachine(spec: Self.spec(cpus: 8, memory: 64 << 30))
        let joined = machine.hello(worker: "tiny", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], cpus: 4, memoryBytes: 8 << 30, now: 0)
        let event = joined.changes.compactMap { if case .event(let e) = $0, e.kind == "worker.too_small" { e.message } else { nil } }.first
        #expect(event == "worker tiny offers 4 CPUs; each attempt needs 8, 8.0 GiB of memory; each attempt needs 64.0 GiB: it gets none")
        #expect(ask(&machine, "tiny", 1) == nil)
    }

    @Test func sizesParseLikeKubernetes() {
        #expect(ByteSize.parse("16GiB") == 16 << 30)
        #expect(ByteSize.parse("16Gi") == 16 << 30)
        #expect(ByteSize.parse("512MiB") == 512 << 20)
        #expect(ByteSize.parse("2G") == 2_000_000_000)
        #expect(ByteSize.parse("1.5GiB") == 3 << 29)
        #expect(ByteSize.parse(" 1000 ") == 1000)
        #expect(ByteSize.parse("64 GB") == 64_000_000_000)
        for bad in ["", "GiB", "-1G", "12XB", "1e3", "nan"] { #expect(ByteSize.parse(bad) == nil, "\(bad)") }
        #expect(ByteSize.describe(16 << 30) == "16.0 GiB" && ByteSize.describe(900) == "900 B")
    }

    @Test func workersSayWhatTheyOfferInReservedLabels() {
        let offered = WorkerResources(cpus: 12, memoryBytes: 64 << 30)
        let labels = StringPairs(offered.labels + [("zone", "eu")])
        #expect(WorkerResources(labels: labels) == offered)
        #expect(WorkerResources(labels: ["intern.cpus": "lots"]) == WorkerResources(cpus: 0, memoryBytes: 0))
        #expect(WorkerResources(cpus: 0, memoryBytes: 0).labels.isEmpty)
    }
}
