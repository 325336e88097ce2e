import InternCore
import Testing

/// `intern add` reaches the machine from a person or a peer: amounts at the edges are refused in
/// words, never by a trap that stops the coordinator (and every restart after it).
@Suite struct AddLimitsTests {
    static func machine() throws -> CoordinatorMachine {
        try CoordinatorMachine(spec: CampaignSpec(
            name: "add", command: CommandTemplate(argv: ["/bin/true"]), workdir: "/tmp", space: ParameterSpace(),
            sampler: .random(seed: 1), trials: 2))
    }

    @Test func amountsAtTheEdgesAreRefused() throws {
        var machine = try Self.machine()
        for (trials, hours, gpuHours) in [(Int.max, 0.0, 0.0), (-1, 0, 0), (0, .infinity, 0), (0, .nan, 0), (0, 0, 1e300), (0, -1, 0)] {
            let effects = machine.add(configurations: [], trials: trials, hours: hours, gpuHours: gpuHours, now: 0)
            let said = effects.said ?? ""
            #expect(said.hasPrefix("nothing added"), "\(trials) \(hours) \(gpuHours): \(said)")
            #expect(effects.changes.isEmpty)
        }
        #expect(machine.totalTrials == 2)
    }

    @Test func totalsStayWithinTheBound() throws {
        var machine = try Self.machine()
        let first = machine.add(configurations: [], trials: CampaignLimits.maxTrials - 2, now: 0).said ?? ""
        #expect(!first.hasPrefix("nothing added"), "\(first)")
        #expect(machine.totalTrials == CampaignLimits.maxTrials)
        let second = machine.add(configurations: [], trials: 1, now: 0).said ?? ""
        #expect(second.hasPrefix("nothing added: a campaign has at most"), "\(second)")
        _ = machine.add(configurations: [], hours: CampaignLimits.maxHours, now: 0)
        let third = machine.add(configurations: [], hours: 1, now: 0).said ?? ""
        #expect(third.hasPrefix("nothing added: the budget would exceed"), "\(third)")
    }
}
