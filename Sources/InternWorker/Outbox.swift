import InternProtocol
import Synchronization

/// What a worker has produced and the coordinator has not yet acknowledged: log frames, metric
/// samples and attempt ends, kept in production order until a `ReportAck` says they are stored.
///
/// Filled from the jobs' reader threads, drained by the worker's reporter task. Nothing is
/// removed before its acknowledgement, so a lost connection or a refused report loses nothing.
///
/// Bounded: frames' bytes stay in memory up to `memoryBytes`, then go to the on-disk spool;
/// once `limitBytes` of compressed frames wait in all, the outbox is *full* and the attempts'
/// outputs stop producing frames (they count what they drop and send one loss marker when
/// there is room again: see `AttemptOutput`). Metric samples and ends are small and always kept.
final class Outbox: Sendable {
    /// A frame waiting for its acknowledgement: its bytes in memory, or in the spool.
    private struct Pending {
        var attemptId: UInt64
        var stream: LogStream
        var seq: UInt64
        var rawLength: UInt64
        var data: [UInt8]
        var spooled: SpoolLocation?
        var size: Int

        func frame(_ spool: SpoolFiles?) throws -> LogFrame {
            var bytes = data
            if let spooled {
                guard let spool else { throw SpoolError("the spool is gone") }
                bytes = try spool.read(spooled)
            }
            return LogFrame(attemptId: attemptId, stream: stream, seq: seq, rawLength: rawLength, data: bytes)
        }
    }

    private struct State {
        var frames: [Pending] = []
        var metrics: [MetricSample] = []
        var ends: [AttemptEnd] = []
        /// What attempts ran with (small; always kept, like ends).
        var provenance: [AttemptProvenance] = []
        /// Compressed bytes of every pending frame, and of those held in memory.
        var pendingBytes = 0
        var memoryBytes = 0
        var waiter: CheckedContinuation<Void, Never>?
        var signalled = false
        /// The reporter coalescing output: woken as soon as an end is queued or this many bytes
        /// are pending (``waitUntilUrgent(bytes:)``).
        var urgentWaiter: (continuation: CheckedContinuation<Void, Never>, bytes: Int)?
        /// Cancelled before it waited: the next wait returns at once.
        var urgentRung = false
        /// Set once the spool failed (disk full): frames stay in memory, up to the limit.
        var spoolProblem: String?

        /// An end is queued, or `bytes` of frames are pending: no reason to wait for more.
        func isUrgent(bytes: Int) -> Bool {
            !ends.isEmpty || pendingBytes >= bytes
        }

        mutating func takeWaiter() -> CheckedContinuation<Void, Never>? {
            defer { waiter = nil }
            if waiter == nil { signalled = true }
            return waiter
        }
    }

    private let state = Mutex(State())
    private let spool: SpoolFiles?
    /// Compressed bytes kept in memory before frames go to the spool.
    let memoryBytes: Int
    /// Compressed bytes of unacknowledged frames at which the outbox is full.
    let limitBytes: Int

    /// An outbox with no spool keeps everything in memory, up to `limitBytes`.
    init(spool: SpoolFiles? = nil, memoryBytes: Int = 16 << 20, limitBytes: Int = 1 << 30) {
        self.spool = spool
        self.memoryBytes = max(0, memoryBytes)
        self.limitBytes = max(1, limitBytes)
    }

    /// Adds a compressed frame and wakes the reporter. Always accepted (a frame that was
    /// started before the outbox filled up still completes the zstd frame it belongs to).
    func add(frame: LogFrame) {
        // Continuations are resumed after the lock is let go, never under it: resuming takes the
        // waiting task's status lock, which the runtime holds while that task's cancellation
        // handler runs, and the handler takes this lock. Resumed under it, a job's reader thread
        // and a cancelled reporter waited for each other for good (the job then blocked on its
        // full pipe; SpoolEndToEndTests, seen three times).
        let (waiter, urgent) = state.withLock { state -> (CheckedContinuation<Void, Never>?, CheckedContinuation<Void, Never>?) in
            var pending = Pending(
                attemptId: frame.attemptId, stream: frame.stream, seq: frame.seq, rawLength: frame.rawLength,
                data: frame.data, spooled: nil, size: frame.data.count)
            if let spool, state.spoolProblem == nil, state.memoryBytes + frame.data.count > memoryBytes, !frame.data.isEmpty {
                do {
                    pending.spooled = try spool.write(frame.data)
                    pending.data = []
                } catch {
                    state.spoolProblem = "\(error)"
                }
            }
            if pending.spooled == nil { state.memoryBytes += pending.size }
            state.frames.append(pending)
            state.pendingBytes += pending.size
            var urgent: CheckedContinuation<Void, Never>?
            if let waiting = state.urgentWaiter, state.pendingBytes >= waiting.bytes {
                state.urgentWaiter = nil
                urgent = waiting.continuation
            }
            return (state.takeWaiter(), urgent)
        }
        waiter?.resume()
        urgent?.resume()
    }

    /// True when `limitBytes` of frames wait for acknowledgement: outputs drop (and count)
    /// instead of adding frames.
    var isFull: Bool { state.withLock { $0.pendingBytes >= limitBytes } }

    /// Why the spool could not be written, if it failed (frames then stay in memory).
    var spoolProblem: String? { state.withLock { $0.spoolProblem } }

    /// Adds metric samples. They ride along with the next report (no wake-up of their own).
    func add(metrics samples: [MetricSample]) {
        guard !samples.isEmpty else { return }
        state.withLock { $0.metrics.append(contentsOf: samples) }
    }

    /// Adds an attempt's end and wakes the reporter.
    func add(end: AttemptEnd) {
        let (waiter, urgent) = state.withLock { state -> (CheckedContinuation<Void, Never>?, CheckedContinuation<Void, Never>?) in
            state.ends.append(end)
            defer { state.urgentWaiter = nil }
            return (state.takeWaiter(), state.urgentWaiter?.continuation)
        }
        waiter?.resume()
        urgent?.resume()
    }

    /// Whether an attempt's end is queued or `bytes` of frames are pending: the reporter sends at
    /// once, with no coalescing wait to set up.
    func isUrgent(bytes: Int) -> Bool {
        state.withLock { $0.isUrgent(bytes: bytes) }
    }

    /// Returns as soon as an attempt's end is queued or `bytes` of frames are pending (at once
    /// when that is so already), or when the task is cancelled: the reporter coalescing a chatty
    /// job's output waits on this beside its timer, so an end never waits out the timer (the next
    /// dispatch may depend on it: with `parallel:` a slot's next attempt waits for it).
    func waitUntilUrgent(bytes: Int) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.urgentRung || state.isUrgent(bytes: bytes) {
                        state.urgentRung = false
                        return true
                    }
                    state.urgentWaiter = (continuation, bytes)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let urgent = state.urgentWaiter else {
                    state.urgentRung = true
                    return nil
                }
                state.urgentWaiter = nil
                return urgent.continuation
            }
            waiter?.resume()
        }
    }

    /// Adds what an attempt ran with, without waking the reporter: it travels with the next
    /// report (the attempt's output or end), or the heartbeat's nudge (``sendProvenance()``),
    /// never in a report of its own per attempt.
    func add(provenance: AttemptProvenance) {
        state.withLock { $0.provenance.append(provenance) }
    }

    /// Wakes the reporter when provenance waits (the heartbeat calls it: provenance reaches the
    /// store within a heartbeat of the attempt's start, even from a job that prints nothing).
    func sendProvenance() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.provenance.isEmpty ? nil : state.takeWaiter()
        }
        waiter?.resume()
    }

    /// True when everything produced has been acknowledged.
    var isEmpty: Bool {
        state.withLock { $0.frames.isEmpty && $0.metrics.isEmpty && $0.ends.isEmpty && $0.provenance.isEmpty }
    }

    /// Whether an attempt's end waits to be sent.
    var hasEnds: Bool { state.withLock { !$0.ends.isEmpty } }

    /// The attempts whose end waits to be acknowledged.
    var endedAttempts: [UInt64] { state.withLock { $0.ends.map(\.attemptId) } }

    /// Bytes of compressed log waiting for acknowledgement.
    var pendingBytes: Int { state.withLock { $0.pendingBytes } }

    /// Waits until something is added (returns at once if something was added since the last
    /// wait), or the task is cancelled (the worker is stopping).
    func waitForWork() async {
        await withTaskCancellationHandler {
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
        } onCancel: {
            wake()
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
    func nextBatch(budget: Int) -> (frames: [LogFrame], metrics: [MetricSample], ends: [AttemptEnd], provenance: [AttemptProvenance]) {
        state.withLock { state in
            var size = 0
            var frames: [LogFrame] = []
            var leftBehind: Set<UInt64> = []
            for index in state.frames.indices {
                // Frames of an attempt stay in order: once one is left behind, so are its later ones.
                let pending = state.frames[index]
                if leftBehind.contains(pending.attemptId) { continue }
                guard size + pending.size <= budget || frames.isEmpty else {
                    leftBehind.insert(pending.attemptId)
                    continue
                }
                var frame: LogFrame
                do {
                    frame = try pending.frame(spool)
                } catch {
                    // The spool cannot give the bytes back (a disk error): send the frame as a loss
                    // marker, so the loss is recorded and what follows still goes out. (The stored
                    // zstd stream then stops decoding at that point.)
                    frame = LogFrame(attemptId: pending.attemptId, stream: pending.stream, seq: pending.seq, rawLength: pending.rawLength, data: [])
                    if let spooled = pending.spooled { spool?.release(spooled) }
                    state.frames[index].spooled = nil
                    state.frames[index].data = []
                    state.pendingBytes -= pending.size
                    state.frames[index].size = 0
                    if state.spoolProblem == nil { state.spoolProblem = "\(error)" }
                }
                guard size + frame.encodedSize <= budget || frames.isEmpty else {
                    leftBehind.insert(pending.attemptId)
                    continue
                }
                frames.append(frame)
                size += frame.encodedSize
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
            var provenance: [AttemptProvenance] = []
            for item in state.provenance {
                let cost = item.encodedSize
                guard size + cost <= budget else { break }
                provenance.append(item)
                size += cost
            }
            return (frames, metrics, ends, provenance)
        }
    }

    /// Forgets everything (only when the campaign is over and the coordinator gone).
    func discardAll() {
        state.withLock { state in
            for pending in state.frames { if let spooled = pending.spooled { spool?.release(spooled) } }
            state.frames.removeAll()
            state.memoryBytes = 0
            state.metrics.removeAll()
            state.ends.removeAll()
            state.provenance.removeAll()
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
            var inMemory = 0
            state.frames.removeAll { frame in
                var done = refused.contains(frame.attemptId)
                if !done, let cursor = streamCursor[frame.attemptId] {
                    done = frame.seq <= (frame.stream == .stdout ? cursor.stdout : cursor.stderr)
                }
                if done {
                    if let spooled = frame.spooled { spool?.release(spooled) }
                } else {
                    bytes += frame.size
                    if frame.spooled == nil { inMemory += frame.size }
                }
                return done
            }
            state.pendingBytes = bytes
            state.memoryBytes = inMemory
            state.metrics.removeAll { sample in
                refused.contains(sample.attemptId) || sample.seq <= (metricCursor[sample.attemptId] ?? 0)
            }
            state.ends.removeAll { endsStored.contains($0.attemptId) || refused.contains($0.attemptId) }
            let provenanceStored = Set(ack.provenanceStored)
            state.provenance.removeAll { provenanceStored.contains($0.attemptId) || refused.contains($0.attemptId) }
        }
    }
}
