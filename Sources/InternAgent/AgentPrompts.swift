/// The prompts `intern mcp` offers: a person picks one in the client, and it sets the agent to
/// work with intern's tools (not with raw logs).
public struct AgentPrompt: Sendable {
    public let name: String
    public let description: String
    /// The one argument a prompt takes: the campaign (optional when the root holds one).
    public let takesCampaign = true

    /// The message the prompt puts before the agent.
    public func message(campaign: String?) -> String {
        let which = campaign.map { "the campaign `\($0)`" } ?? "the campaign"
        switch name {
        case "review_campaign":
            return """
                Review \(which) with intern's tools, not by reading raw logs.
                1. Call `digest` (tokens: 1500) for its state, best trial, failure clusters and open questions.
                2. Call `failures` and, for the largest cluster, `logs` of one of its trials (condensed).
                3. Call `best`, and `diff` between the best trial and the runner-up.
                Then say, in at most 200 words: whether the campaign is making progress (how many ended trials \
                improved the best), what fails and why, whether the best is a real improvement or could be a lucky \
                seed, and what a person should look at next. Name trials by number.
                """
        default:
            return """
                Propose the next configurations for \(which).
                1. Call `digest` (tokens: 1500) and `trials` to see what was tried and how it scored.
                2. Call `failures`: never propose a configuration like one that failed with a `user` error.
                Then call `propose` with at most 5 configurations, each with every parameter of the space, and say \
                in one line each why (which trend or gap it tests). Do not repeat a configuration that already ran: \
                intern answers one with its trial, and refuses one that failed with a user error or that the circuit \
                breaker blocks, saying why.
                """
        }
    }
}

public enum AgentPrompts {
    public static let all: [AgentPrompt] = [
        AgentPrompt(name: "review_campaign", description: "Review a campaign: progress, failures and their causes, whether the best is real, what to look at next."),
        AgentPrompt(name: "propose_next", description: "Propose the next configurations to try, from what ran and what failed."),
    ]

    public static func named(_ name: String) -> AgentPrompt? { all.first { $0.name == name } }
}
