import InternProtocol

/// What a simulated worker has produced and the coordinator has not acknowledged, kept as a real
/// worker's outbox keeps it: frames, samples and ends in production order, sent oldest first in
/// reports of at most a budget of bytes, an attempt's end only in a report that carries all of
/// its frames and samples, and forgotten only when a `ReportAck` says they are stored (or that
/// the coordinator takes nothing more for that attempt). In memory only (a simulated worker has
/// no spool): a killed worker loses it, as a real one without a state directory does.
struct LoadOutbox: Sendable {
    private(set) var frames: [LogFrame] = []
    private(set) var samples: [MetricSample] = []
    private(set) var ends: [AttemptEnd] = []

    var isEmpty: Bool { frames.isEmpty && samples.isEmpty && ends.isEmpty }
    var hasEnds: Bool { !ends.isEmpty }
    /// Attempts whose end waits for its acknowledgement (a hello names them as held).
    var endedAttempts: [UInt64] { ends.map(\.attemptId) }

    /// What an acknowledgement settled, for the load generator's counts.
    struct Settled: Equatable {
        /// Raw log bytes of the frames now stored.
        var rawBytes: UInt64 = 0
        /// Ends now stored, or refused (the coordinator takes nothing more for their attempts).
        var ends: [AttemptEnd] = []
        var refused: [UInt64] = []
    }

    mutating func add(frames newFrames: [LogFrame], samples newSamples: [MetricSample]) {
        frames.append(contentsOf: newFrames)
        samples.append(contentsOf: newSamples)
    }

    mutating func add(end: AttemptEnd) {
        ends.append(end)
    }

    /// The oldest items that fit in `budget` bytes (at least one frame, however large); an end
    /// only when none of its attempt's frames or samples is left behind.
    func nextBatch(budget: Int) -> (frames: [LogFrame], samples: [MetricSample], ends: [AttemptEnd]) {
        var size = 0
        // An attempt with an item that did not fit sends none of its later ones (order per attempt).
        var leftBehind: Set<UInt64> = []
        func fits(_ attempt: UInt64, _ cost: Int, first: Bool) -> Bool {
            guard !leftBehind.contains(attempt), size + cost <= budget || first else {
                leftBehind.insert(attempt)
                return false
            }
            size += cost
            return true
        }
        let batchFrames = frames.filter { fits($0.attemptId, $0.encodedSize, first: size == 0) }
        let batchSamples = samples.filter { fits($0.attemptId, $0.encodedSize, first: false) }
        return (batchFrames, batchSamples, ends.filter { !leftBehind.contains($0.attemptId) })
    }

    /// Forgets what `ack` says is stored, and everything of the attempts it refuses.
    mutating func acknowledge(_ ack: ReportAck) -> Settled {
        var settled = Settled(refused: ack.unknownAttempts)
        // The highest stored seq per (attempt, stream).
        let cursors = Dictionary(ack.stored.map { (StreamKey(attempt: $0.attemptId, stream: $0.stream), $0.seq) }, uniquingKeysWith: max)
        let metricCursors = Dictionary(ack.metricsStored.map { ($0.attemptId, $0.seq) }, uniquingKeysWith: max)
        let refused = Set(ack.unknownAttempts)
        let endsStored = Set(ack.endsStored)
        frames.removeAll { frame in
            if refused.contains(frame.attemptId) { return true }
            guard frame.seq <= cursors[StreamKey(attempt: frame.attemptId, stream: frame.stream), default: 0] else { return false }
            settled.rawBytes += frame.rawLength
            return true
        }
        samples.removeAll { refused.contains($0.attemptId) || $0.seq <= (metricCursors[$0.attemptId] ?? 0) }
        ends.removeAll { end in
            guard endsStored.contains(end.attemptId) || refused.contains(end.attemptId) else { return false }
            if endsStored.contains(end.attemptId) { settled.ends.append(end) }
            return true
        }
        return settled
    }

    private struct StreamKey: Hashable {
        var attempt: UInt64
        var stream: LogStream
    }

    /// Forgets everything (the worker was killed).
    mutating func discardAll() {
        self = LoadOutbox()
    }
}
