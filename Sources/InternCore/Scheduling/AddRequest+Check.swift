/// What a person's `add` may ask, checked before it is queued (all or nothing): `intern add` and
/// the dashboard's add check it the same way. An agent's configurations are reviewed one by one
/// by the coordinator instead.
extension AddRequest {
    /// Why the request cannot be queued against `space`, or nil when it can. `names` words the
    /// amounts as the caller's user gives them (`--trials`, or the JSON keys), and what to give
    /// when there is nothing to add.
    public func problem(
        space: ParameterSpace, checkConfigurations: Bool = true, names: (trials: String, hours: String, gpuHours: String, nothing: String)
    ) -> String? {
        if checkConfigurations, let problem = Self.configurationProblem(configurations, space: space) { return problem }
        guard trials >= 0, trials <= CampaignLimits.maxTrials else { return "\(names.trials) must be 0 to \(CampaignLimits.maxTrials)" }
        guard CampaignLimits.isAmount(hours, atMost: CampaignLimits.maxHours) else {
            return "\(names.hours) must be a number from 0 to \(Int(CampaignLimits.maxHours))"
        }
        guard CampaignLimits.isAmount(gpuHours, atMost: CampaignLimits.maxGPUHours) else {
            return "\(names.gpuHours) must be a number from 0 to \(Int(CampaignLimits.maxGPUHours))"
        }
        guard !configurations.isEmpty || trials > 0 || hours > 0 || gpuHours > 0 else { return "nothing to add: \(names.nothing)" }
        return nil
    }

    /// The first configuration `space` does not hold, and why (missing or unknown parameters, or a
    /// value outside its domain).
    static func configurationProblem(_ configurations: [Parameters], space: ParameterSpace) -> String? {
        for (index, configuration) in configurations.enumerated() {
            let normalized = space.normalized(configuration)
            guard !space.contains(normalized) else { continue }
            let names = space.parameters.map(\.name)
            let missing = names.filter { configuration[$0] == nil }, unknown = configuration.names.filter { !names.contains($0) }
            var why: [String] = []
            if !missing.isEmpty { why.append("missing \(missing.joined(separator: ", "))") }
            if !unknown.isEmpty { why.append("not in the space: \(unknown.joined(separator: ", "))") }
            if why.isEmpty { why.append("a value outside its domain") }
            return "configuration \(index + 1) (\(configuration)): \(why.joined(separator: "; "))"
        }
        return nil
    }
}
