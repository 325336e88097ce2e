import InternCore
import InternStore
import Synchronization

/// What a reader that makes many digests of one store keeps between them (`intern-mcp`, one per
/// open store; the command, which makes one, keeps none): the decoded parameters of the trials
/// whose parameters importance is computed from (a trial's parameters never change once it is
/// drawn), and the last importance with the exact inputs it was computed from (the stage, its
/// space, every completed trial's id and objective, in order). A digest made with a memo is the
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
    }

    private let state = Mutex(State())

    public init() {}

    /// ``ImportanceAnalysis/compute(points:space:resamples:seed:)`` of the completed trials of
    /// `stage` (``CampaignStore/completedParameters(stage:)``), reading only what changed.
    func importance(store: CampaignStore, stage: Int, space: ParameterSpace) throws -> [ParameterImportance] {
        let completed = try store.completedObjectives(stage: stage)
        let inputs = Inputs(stage: stage, space: space, ids: completed.map(\.id), objectives: completed.map(\.objective))
        if let last = state.withLock({ $0.last }), last.inputs == inputs { return last.importance }
        let known = state.withLock { $0.parameters }
        let fetched = try store.parameters(ids: completed.lazy.map(\.id).filter { known[$0] == nil })
        let points = completed.map { (parameters: known[$0.id] ?? fetched[$0.id] ?? Parameters(), objective: $0.objective) }
        let importance = ImportanceAnalysis.compute(points: points, space: space)
        state.withLock { state in
            state.parameters.merge(fetched) { _, new in new }
            state.last = (inputs, importance)
        }
        return importance
    }
}
