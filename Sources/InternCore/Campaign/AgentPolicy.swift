/// What an agent may do to a campaign, set by a person: in the spec (`agent:`) or by the flags of
/// `intern mcp` / `intern agent`. Where both set a limit the tighter one holds; where neither does,
/// the default is the cautious one (``resolved(specTrials:)``). intern enforces it, not the
/// prompt: the coordinator refuses an agent's `add` beyond it, naming the limit; the MCP server
/// refuses a cancel or a start the policy does not allow.
public struct AgentPolicy: Sendable, Hashable, Codable {
    /// The most trials agents may add in all (configurations proposed and trials to draw).
    public var maxTrials: Int?
    /// The most hours agents may add to `budget.hours` in all.
    public var maxHours: Double?
    /// The most GPU-hours agents may add to `budget.gpu_hours` in all.
    public var maxGPUHours: Double?
    /// Whether agents may cancel trials.
    public var mayCancel: Bool?

    public init(maxTrials: Int? = nil, maxHours: Double? = nil, maxGPUHours: Double? = nil, mayCancel: Bool? = nil) {
        self.maxTrials = maxTrials
        self.maxHours = maxHours
        self.maxGPUHours = maxGPUHours
        self.mayCancel = mayCancel
    }

    /// Whether the policy sets nothing.
    public var isEmpty: Bool { self == AgentPolicy() }

    /// The tighter of two policies, field by field (a field one of them leaves unset is the other's).
    public func tightened(by other: AgentPolicy) -> AgentPolicy {
        func least<T: Comparable>(_ a: T?, _ b: T?) -> T? {
            switch (a, b) {
            case (let a?, let b?): min(a, b)
            default: a ?? b
            }
        }
        return AgentPolicy(
            maxTrials: least(maxTrials, other.maxTrials), maxHours: least(maxHours, other.maxHours),
            maxGPUHours: least(maxGPUHours, other.maxGPUHours),
            mayCancel: mayCancel.map { $0 && (other.mayCancel ?? true) } ?? other.mayCancel)
    }

    /// The policy with its defaults where nothing set a field: agents may add as many trials as
    /// the spec has (doubling the campaign at most), add no budget, and cancel nothing.
    public func resolved(specTrials: Int) -> AgentPolicy {
        AgentPolicy(maxTrials: maxTrials ?? specTrials, maxHours: maxHours ?? 0, maxGPUHours: maxGPUHours ?? 0, mayCancel: mayCancel ?? false)
    }

    /// Why adding `trials`, `hours` and `gpuHours` on top of what agents added so far (`used`)
    /// goes beyond the policy, naming the limit; `nil` when it does not. Call on a resolved policy.
    public func refusal(trials: Int, hours: Double, gpuHours: Double, used: CampaignAdjustments) -> String? {
        if let limit = maxTrials, trials > 0, used.agentTrials + trials > limit {
            return "agents may add at most \(limit) trials to this campaign (agent.max_trials); \(used.agentTrials) added so far, this asks for \(trials)"
        }
        if let limit = maxHours, hours > 0, used.agentHours + hours > limit {
            return "agents may add at most \(Budget.text(limit)) budget hours (agent.max_hours); \(Budget.text(used.agentHours)) added so far, this asks for \(Budget.text(hours))"
        }
        if let limit = maxGPUHours, gpuHours > 0, used.agentGPUHours + gpuHours > limit {
            return "agents may add at most \(Budget.text(limit)) GPU-hours (agent.max_gpu_hours); \(Budget.text(used.agentGPUHours)) added so far, this asks for \(Budget.text(gpuHours))"
        }
        return nil
    }

    /// Whether an actor's name says it is an agent (`agent:NAME`): its requests are held to the policy.
    public static func isAgent(_ actor: String?) -> Bool { actor?.hasPrefix("agent:") == true }

    /// A valid actor name: 1 to 64 printable ASCII characters, no spaces.
    public static func isValidActor(_ actor: String) -> Bool {
        !actor.isEmpty && actor.utf8.count <= 64 && actor.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
