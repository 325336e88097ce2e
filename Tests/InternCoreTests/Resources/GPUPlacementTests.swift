import InternCore
import Testing

/// GPU discovery (parsing `nvidia-smi`, honouring `CUDA_VISIBLE_DEVICES` and `--gpus`) and GPU
/// placement in the coordinator's logic: a trial runs only where its GPUs are free, and attempts
/// on one worker never share a GPU.
@Suite struct GPUPlacementTests {
    static let smi = """
        0, GPU-1b2c3d4e-aaaa-bbbb-cccc-000000000000, NVIDIA H100 80GB HBM3, 81559
        1, GPU-5f6a7b8c-aaaa-bbbb-cccc-111111111111, NVIDIA H100 80GB HBM3, 81559

        2, GPU-9d0e1f2a-aaaa-bbbb-cccc-222222222222, NVIDIA H100 80GB HBM3, 81559
        WARNING: infoROM is corrupted at gpu 0000:41:00.0
        """

    @Test func nvidiaSMIOutput_isParsed_andRestrictedByVisibleDevicesOrAnExplicitList() {
        let all = GPUInventory.parse(nvidiaSMI: Self.smi)
        #expect(all.ids == ["0", "1", "2"])
        #expect(all.gpus[1].name == "NVIDIA H100 80GB HBM3" && all.gpus[1].memoryMiB == 81559)
        #expect(all.restricted(visibleDevices: nil, explicit: nil).ids == ["0", "1", "2"])
        #expect(all.restricted(visibleDevices: "2,0", explicit: nil).ids == ["2", "0"])
        #expect(all.restricted(visibleDevices: "GPU-5f6a7b8c-aaaa-bbbb-cccc-111111111111", explicit: nil).ids == ["1"])
        #expect(all.restricted(visibleDevices: "", explicit: nil).ids.isEmpty)
        #expect(all.restricted(visibleDevices: "-1", explicit: nil).ids.isEmpty)
        #expect(all.restricted(visibleDevices: "7", explicit: nil).ids.isEmpty)
        #expect(all.restricted(visibleDevices: "0", explicit: ["1", "2"]).ids == ["1", "2"])
        // An explicit id nvidia-smi does not know is dropped.
        #expect(all.restricted(visibleDevices: nil, explicit: ["1", "8"]).ids == ["1"])
        // No nvidia-smi: an explicit list is offered as given.
        #expect(GPUInventory(gpus: []).restricted(visibleDevices: nil, explicit: ["0", "1"]).ids == ["0", "1"])
        #expect(GPUInventory.parse(nvidiaSMI: "").ids.isEmpty)
    }

    static func spec(gpus: Int, trials: Int = 6) -> CampaignSpec {
        CampaignSpec(name: "g", command: CommandTemplate(argv: ["train"]), workdir: "/tmp", trials: trials, gpus: gpus)
    }

    static func plan(_ effects: Effects, _ token: UInt64) -> AttemptPlan? {
        for reply in effects.replies where reply.token == RequestToken(token) {
            if case .assignment(let plan) = reply.reply { return plan }
        }
        return nil
    }

    @Test func trialsGetDisjointGPUs_andWaitForOnesToFree() throws {
        var machine = try CoordinatorMachine(spec: Self.spec(gpus: 2))
        _ = machine.hello(worker: "g", incarnation: 1, hostname: "h", pid: 1, slots: 3, gpus: ["0", "1", "2", "3"], now: 0)
        let a = try #require(Self.plan(machine.requestWork(token: RequestToken(1), worker: "g", incarnation: 1, requestID: 1, now: 0), 1))
        let b = try #require(Self.plan(machine.requestWork(token: RequestToken(2), worker: "g", incarnation: 1, requestID: 2, now: 0), 2))
        #expect(a.gpus == ["0", "1"] && b.gpus == ["2", "3"])
        // A third slot, but no two GPUs free: it waits.
        #expect(Self.plan(machine.requestWork(token: RequestToken(3), worker: "g", incarnation: 1, requestID: 3, now: 0), 3) == nil)
        let ended = machine.attemptEnded(
            AttemptResult(attempt: a.attempt, outcome: .exited(0), startedAt: 0, endedAt: 1, wallMillis: 1), worker: "g", incarnation: 1, now: 1)
        #expect(Self.plan(ended, 3)?.gpus == ["0", "1"])
        #expect(machine.attempts[b.attempt]?.gpus == ["2", "3"])
    }

    @Test func aWorkerWithoutEnoughGPUs_getsNoGPUTrial_andCPUTrialsGetNone() throws {
        var machine = try CoordinatorMachine(spec: Self.spec(gpus: 1))
        let joined = machine.hello(worker: "cpu", incarnation: 1, hostname: "h", pid: 1, slots: 2, gpus: [], now: 0)
        #expect(joined.changes.contains { if case .event(let e) = $0 { e.kind == "worker.too_small" } else { false } })
        #expect(Self.plan(machine.requestWork(token: RequestToken(1), worker: "cpu", incarnation: 1, requestID: 1, now: 0), 1) == nil)
        _ = machine.hello(worker: "gpu", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: ["3"], now: 0)
        let plan = try #require(Self.plan(machine.requestWork(token: RequestToken(2), worker: "gpu", incarnation: 1, requestID: 1, now: 0), 2))
        #expect(plan.gpus == ["3"])
        #expect(machine.parkedCount == 1)  // the CPU worker still waits

        var cpu = try CoordinatorMachine(spec: Self.spec(gpus: 0))
        _ = cpu.hello(worker: "gpu", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: ["0", "1"], now: 0)
        #expect(Self.plan(cpu.requestWork(token: RequestToken(1), worker: "gpu", incarnation: 1, requestID: 1, now: 0), 1)?.gpus == [])
    }

    @Test func twoWorkersOnOneHost_neverGetTheSameGPU() throws {
        var machine = try CoordinatorMachine(spec: Self.spec(gpus: 1))
        _ = machine.hello(worker: "local-1", incarnation: 1, hostname: "node7", pid: 1, slots: 1, gpus: ["0", "1"], now: 0)
        _ = machine.hello(worker: "local-2", incarnation: 1, hostname: "node7", pid: 2, slots: 1, gpus: ["0", "1"], now: 0)
        _ = machine.hello(worker: "other", incarnation: 1, hostname: "node8", pid: 3, slots: 1, gpus: ["0"], now: 0)
        let a = try #require(Self.plan(machine.requestWork(token: RequestToken(1), worker: "local-1", incarnation: 1, requestID: 1, now: 0), 1))
        let b = try #require(Self.plan(machine.requestWork(token: RequestToken(2), worker: "local-2", incarnation: 1, requestID: 1, now: 0), 2))
        let c = try #require(Self.plan(machine.requestWork(token: RequestToken(3), worker: "other", incarnation: 1, requestID: 1, now: 0), 3))
        #expect(a.gpus == ["0"] && b.gpus == ["1"] && c.gpus == ["0"])
    }

    @Test func anAttemptWhoseGPUWentToAnotherMeanwhile_isNotReattached() throws {
        var machine = try CoordinatorMachine(spec: Self.spec(gpus: 1))
        _ = machine.hello(worker: "g", incarnation: 1, hostname: "h", pid: 1, slots: 2, gpus: ["0"], now: 0)
        let a = try #require(Self.plan(machine.requestWork(token: RequestToken(1), worker: "g", incarnation: 1, requestID: 1, now: 0), 1))
        _ = machine.heartbeat(worker: "g", incarnation: 1, running: [a.attempt], now: 0)
        _ = machine.tick(now: 10_001)  // lease expired: a lost, its trial pending
        _ = machine.hello(worker: "g", incarnation: 1, hostname: "h", pid: 1, slots: 2, gpus: ["0"], now: 10_002)
        // The worker's idle slot asks first and, while the lost trial waits out its backoff, gets
        // a new trial on GPU 0.
        let b = try #require(Self.plan(machine.requestWork(token: RequestToken(2), worker: "g", incarnation: 1, requestID: 2, now: 10_500), 2))
        #expect(b.gpus == ["0"] && b.trial != a.trial)
        let answer = try #require(machine.heartbeat(worker: "g", incarnation: 1, running: [a.attempt, b.attempt], now: 10_501).heartbeatAnswer)
        #expect(machine.attempts[a.attempt]?.status == .lost)
        #expect(answer.cancel == [a.attempt])
    }
}
