/// A pipeline's bookkeeping: by stage, how many trials it has and how many have not ended, which
/// stages it feeds, which trials fed it; which completed trials have not fed their streaming
/// stages yet, and which waiting stages (`top:`, `barrier:`) were fed. It decides when a stage
/// is to be fed and from whom; the machine creates the trials.
struct StageFeeder: Sendable {
    private let stages: [Stage]
    /// By stage: the index of the stage feeding it (`nil` for the first).
    private let feeders: [Int?]
    /// By stage: the later stages it feeds.
    private let consumers: [[Int]]
    /// By stage: how many trials it has (validation repeats apart), and how many of them
    /// (repeats included) have not ended.
    private(set) var created: [Int]
    private(set) var open: [Int]
    /// By stage: how many validation repeats it has (see ``ValidationPolicy``). They keep the
    /// stage open (a stage waiting on it waits for them) but are no draw of its sampler.
    private(set) var repeats: [Int]
    /// By stage: the trials of its feeding stage that have fed it.
    private var fedParents: [Set<TrialID>]
    /// Waiting stages that were fed (or found nothing to be fed with).
    private(set) var fedStages: Set<Int> = []
    /// Completed, feasible trials (with their stage) whose streaming consumers may not have been fed yet.
    private var unfed: [(trial: TrialID, stage: Int)] = []

    init(stages: [Stage]) {
        self.stages = stages
        feeders = stages.map { stage in stage.input.flatMap { input in stages.firstIndex { $0.name == input.stage } } }
        consumers = stages.map { feeder in stages.indices.filter { stages[$0].input?.stage == feeder.name } }
        created = stages.map { _ in 0 }
        open = stages.map { _ in 0 }
        repeats = stages.map { _ in 0 }
        fedParents = stages.map { _ in [] }
    }

    /// Keeps count of a trial's new state (`previous`: its state before, nil when new).
    mutating func recorded(_ trial: TrialRecord, previous: TrialRecord?) {
        // A repeat runs a configuration that fed (or did not feed) already: it feeds nothing itself.
        let completes = trial.status == .completed && trial.feasible != false && previous?.status != .completed && !trial.isRepeat
        if completes, !consumers[trial.stage].isEmpty { unfed.append((trial.id, trial.stage)) }
        if previous == nil, trial.isRepeat {
            repeats[trial.stage] += 1
        } else if previous == nil {
            created[trial.stage] += 1
            if let parent = trial.parent { fedParents[trial.stage].insert(parent) }
        }
        open[trial.stage] += (trial.status.isTerminal ? 0 : 1) - (previous.map { $0.status.isTerminal ? 0 : 1 } ?? 0)
    }

    /// What the store says was fed (restore); a waiting stage with trials was fed, whatever the
    /// store says (its trials and the flag are stored together; a store from before the flag has
    /// only the trials).
    mutating func restore(fedStages stored: Set<Int>) {
        fedStages = stored.filter { stages.indices.contains($0) }
            .union(stages.indices.filter { created[$0] > 0 && stages[$0].input?.waits == true })
    }

    /// A trial that `stage` was fed from (the machine is about to create its trials).
    mutating func feeding(_ stage: Int, from parent: TrialID) { fedParents[stage].insert(parent) }

    /// Takes the streaming feeds due: for each trial completed since, the streaming stages it has
    /// not fed yet, as (stage, parent), in order.
    mutating func takeStreamingFeeds() -> [(stage: Int, parent: TrialID)] {
        var feeds: [(stage: Int, parent: TrialID)] = []
        for (parent, stage) in unfed {
            for consumer in consumers[stage] where stages[consumer].input?.waits == false && !fedParents[consumer].contains(parent) {
                feeds.append((consumer, parent))
            }
        }
        unfed.removeAll()
        return feeds
    }

    /// Takes the first waiting stage whose feeder has ended and that was not fed yet, as (stage,
    /// feeder), marking it fed. One at a time: feeding a stage opens its trials, so a stage
    /// waiting on it is not due until they end.
    mutating func takeWaitingStageDue(totalTrials: Int) -> (stage: Int, feeder: Int)? {
        for index in stages.indices.dropFirst() where !fedStages.contains(index) {
            guard stages[index].input?.waits == true, let feeder = feeders[index], hasEnded(stage: feeder, totalTrials: totalTrials)
            else { continue }
            fedStages.insert(index)
            return (index, feeder)
        }
        return nil
    }

    /// Whether trials wait to feed a later stage: completed ones not yet handed to a streaming
    /// stage, or a waiting stage whose feeder has ended.
    func hasPendingFeeds(totalTrials: Int) -> Bool {
        if unfed.contains(where: { entry in consumers[entry.stage].contains { stages[$0].input?.waits == false } }) { return true }
        return stages.indices.dropFirst().contains { index in
            guard stages[index].input?.waits == true, !fedStages.contains(index), let feeder = feeders[index] else { return false }
            return hasEnded(stage: feeder, totalTrials: totalTrials)
        }
    }

    /// Whether a stage can get no more trials and all it has have ended.
    func hasEnded(stage index: Int, totalTrials: Int) -> Bool {
        guard open[index] == 0 else { return false }
        guard let input = stages[index].input else { return created[0] >= totalTrials }
        guard let feeder = feeders[index], hasEnded(stage: feeder, totalTrials: totalTrials) else { return false }
        return input.waits ? fedStages.contains(index) : !unfed.contains { $0.stage == feeder }
    }

    /// The number of trials each stage will have, as far as known: the first stage's total, a
    /// later stage's trials for every input it may still get (its feeder's, or its `top`), or
    /// what it has once it can get no more.
    func expectedTrials(totalTrials: Int) -> [Int] {
        var expected: [Int] = []
        for (index, stage) in stages.enumerated() {
            guard let input = stage.input, let feeder = feeders[index] else {
                expected.append(max(totalTrials, created[index]) + repeats[index])
                continue
            }
            // A reduce has one input, all of its feeder's trials at once.
            let inputs = min(input.validated || input.reduce ? 1 : input.top ?? Int.max, expected[feeder] - repeats[feeder])
            let settled = hasEnded(stage: feeder, totalTrials: totalTrials) && (!input.waits || fedStages.contains(index))
            expected.append((settled ? created[index] : max(created[index], inputs * stage.trials)) + repeats[index])
        }
        return expected
    }

    /// Whether every stage has drawn all it will and none has a trial open.
    func allEnded(totalTrials: Int) -> Bool {
        created[0] >= totalTrials && open.allSatisfy { $0 == 0 }
    }
}
