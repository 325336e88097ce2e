import InternProtocol
import Synchronization

/// What a worker has produced and the coordinator has not yet acknowledged: log frames, metric
/// samples and attempt ends, kept in production order until a `ReportAck` says they are stored.
///
/// Filled from the jobs' reader threads, drained by the worker's reporter task. Nothing is
/// removed before its acknowledgement, so a lost connection or a refused report loses nothing.
final class Outbox: Sendable {
    private struct State {
        var frames: [LogFrame] = []
        var metrics: [MetricSample] = []
        var ends: [AttemptEnd] = []
        var pendingBytes = 0
        var waiter: CheckedContinuation<Void, Never>?
        var signalled = false

        mutating func takeWaiter() -> CheckedContinuation<Void, Never>? {
            defer { waiter = nil }
            if waiter == nil { signalled = true }
            return waiter
        }
    }

    private let state = Mutex(State())

    /// Adds a compressed frame and wakes the reporter.
    func add(frame: LogFrame) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.frames.append(frame)
            state.pendingBytes += frame.data.count
            return state.takeWaiter()
        }
        waiter?.resume()
    }

    /// Adds metric samples. They ride along with the next report (no wake-up of their own).
    func add(metrics samples: [MetricSample]) {
        guard !samples.isEmpty else { return }
        state.withLock { $0.metrics.append(contentsOf: samples) }
    }

    /// Adds an attempt's end and wakes the reporter.
    func add(end: AttemptEnd) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.ends.append(end)
            return state.takeWaiter()
        }
        waiter?.resume()
    }

    /// True when everything produced has been acknowledged.
    var isEmpty: Bool {
        state.withLock { $0.frames.isEmpty && $0.metrics.isEmpty && $0.ends.isEmpty }
    }

    /// Whether an attempt's end waits to be sent.
    var hasEnds: Bool { state.withLock { !$0.ends.isEmpty } }

    /// Bytes of compressed log waiting for acknowledgement.
    var pendingBytes: Int { state.withLock { $0.pendingBytes } }

    /// Waits until something is added (returns at once if something was added since the last wait).
    func waitForWork() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.signalled || !state.frames.isEmpty || !state.ends.isEmpty {
                    state.signalled = false
                    return true
                }
                state.waiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Wakes the reporter without adding anything (shutdown).
    func wake() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.signalled = true
            return state.takeWaiter()
        }
        waiter?.resume()
    }

    /// The oldest pending items that fit in `budget` bytes of message. An attempt's end is
    /// included only when every frame and sample of that attempt is included too, so the
    /// coordinator never sees an end before the output it covers.
    func nextBatch(budget: Int) -> (frames: [LogFrame], metrics: [MetricSample], ends: [AttemptEnd]) {
        state.withLock { state in
            var size = 0
            var frames: [LogFrame] = []
            var leftBehind: Set<UInt64> = []
            for frame in state.frames {
                // Frames of an attempt stay in order: once one is left behind, so are its later ones.
                if leftBehind.contains(frame.attemptId) { continue }
                let cost = frame.encodedSize
                if size + cost > budget, !frames.isEmpty {
                    leftBehind.insert(frame.attemptId)
                    continue
                }
                frames.append(frame)
                size += cost
            }
            var metrics: [MetricSample] = []
            for sample in state.metrics {
                let cost = sample.encodedSize
                if size + cost > budget || leftBehind.contains(sample.attemptId) {
                    leftBehind.insert(sample.attemptId)
                    continue
                }
                metrics.append(sample)
                size += cost
            }
            let ends = state.ends.filter { !leftBehind.contains($0.attemptId) }
            return (frames, metrics, ends)
        }
    }

    /// Forgets everything (only when the campaign is over and the coordinator gone).
    func discardAll() {
        state.withLock { state in
            state.frames.removeAll()
            state.metrics.removeAll()
            state.ends.removeAll()
            state.pendingBytes = 0
        }
    }

    /// Forgets what the coordinator acknowledged, and everything about attempts it refuses.
    func acknowledge(_ ack: ReportAck) {
        state.withLock { state in
            var streamCursor: [UInt64: (stdout: UInt64, stderr: UInt64)] = [:]
            for cursor in ack.stored {
                var entry = streamCursor[cursor.attemptId] ?? (0, 0)
                if cursor.stream == .stdout { entry.stdout = max(entry.stdout, cursor.seq) } else { entry.stderr = max(entry.stderr, cursor.seq) }
                streamCursor[cursor.attemptId] = entry
            }
            let metricCursor = Dictionary(ack.metricsStored.map { ($0.attemptId, $0.seq) }, uniquingKeysWith: max)
            let refused = Set(ack.unknownAttempts)
            let endsStored = Set(ack.endsStored)
            var bytes = 0
            state.frames.removeAll { frame in
                if refused.contains(frame.attemptId) { return true }
                guard let cursor = streamCursor[frame.attemptId] else { bytes += frame.data.count; return false }
                let stored = frame.seq <= (frame.stream == .stdout ? cursor.stdout : cursor.stderr)
                if !stored { bytes += frame.data.count }
                return stored
            }
            state.pendingBytes = bytes
            state.metrics.removeAll { sample in
                refused.contains(sample.attemptId) || sample.seq <= (metricCursor[sample.attemptId] ?? 0)
            }
            state.ends.removeAll { endsStored.contains($0.attemptId) || refused.contains($0.attemptId) }
        }
    }
}
