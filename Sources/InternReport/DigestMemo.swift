import InternCore
import InternSpec
import InternStore
import Synchronization

/// What a reader that makes many digests of one store keeps between them (`intern-mcp`, one per
/// open store; the command, which makes one, keeps none): the decoded parameters of the trials
/// whose parameters it read (those importance is computed from, those failures hit: a trial's
/// parameters never change once it is drawn), the last importance with the exact inputs it was
/// computed from (the stage, its space, every completed trial's id and objective, in order), and
/// the campaign's spec parsed from the exact text the store holds. A digest made with a memo is the
/// same, byte for byte, as one made without: the memo answers only for the same inputs, and the
/// store is read at every digest (a trial that ends changes the inputs and the analysis reruns).
public final class DigestMemo: Sendable {
    private struct Inputs: Equatable {
        var stage: Int
        var space: ParameterSpace
        var ids: [TrialID]
        var objectives: [Double]
    }

    private struct State {
        var parameters: [TrialID: Parameters] = [:]
        var last: (inputs: Inputs, importance: [ParameterImportance])?
        var spec: (yaml: String, path: String, spec: CampaignSpec)?
    }

    private let state = Mutex(State())

    public init() {}

    /// ``ImportanceAnalysis/compute(points:space:resamples:seed:)`` of the completed trials of
    /// `stage` (``CampaignStore/completedParameters(stage:)``), reading only what changed.
    func importance(store: CampaignStore, stage: Int, space: ParameterSpace) throws -> [ParameterImportance] {
        let completed = try store.completedObjectives(stage: stage)
        let inputs = Inputs(stage: stage, space: space, ids: completed.map(\.id), objectives: completed.map(\.objective))
        if let last = state.withLock({ $0.last }), last.inputs == inputs { return last.importance }
        let (known, fetched) = try knownAndFetched(store: store, ids: completed.map(\.id))
        let points = completed.map { (parameters: known[$0.id] ?? fetched[$0.id] ?? Parameters(), objective: $0.objective) }
        let importance = ImportanceAnalysis.compute(points: points, space: space)
        state.withLock { $0.last = (inputs, importance) }
        return importance
    }

    /// ``CampaignStore/parameters(ids:)``, reading only the trials not read before.
    func parameters(store: CampaignStore, ids: [TrialID]) throws -> [TrialID: Parameters] {
        let (known, fetched) = try knownAndFetched(store: store, ids: ids)
        var out: [TrialID: Parameters] = [:]
        for id in ids { if let parameters = known[id] ?? fetched[id] { out[id] = parameters } }
        return out
    }

    /// What was known of these trials' parameters before, and those read now (the rest).
    private func knownAndFetched(store: CampaignStore, ids: [TrialID]) throws -> (known: [TrialID: Parameters], fetched: [TrialID: Parameters]) {
        let known = state.withLock { $0.parameters }
        let fetched = try store.parameters(ids: ids.lazy.filter { known[$0] == nil })
        if !fetched.isEmpty { state.withLock { $0.parameters.merge(fetched) { _, new in new } } }
        return (known, fetched)
    }

    /// The campaign's spec: `parse()` of the spec's text and path as the store holds them, parsed
    /// again only when either differs from the last.
    func spec(yaml: String, path: String, parse: () throws -> CampaignSpec) rethrows -> CampaignSpec {
        if let last = state.withLock({ $0.spec }), last.yaml == yaml, last.path == path { return last.spec }
        let spec = try parse()
        state.withLock { $0.spec = (yaml, path, spec) }
        return spec
    }
}
