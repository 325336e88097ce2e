import Synchronization

/// What a load run measures, shared by every simulated worker: latencies of the coordinator's
/// answers, what it acknowledged, and the coordinator's memory and CPU sampled every
/// `sampleEvery` completed trials. Thread-safe; every method takes its lock briefly.
public final class LoadRecorder: Sendable {
    /// One sample of the coordinator, at a number of completed trials.
    public struct Sample: Sendable, Codable, Equatable {
        /// The coordinator's pid (a restarted coordinator has another).
        public var pid: Int32
        public var completed: Int
        public var elapsedSeconds: Double
        public var reading: ProcessProbe.Reading
    }

    /// Totals so far.
    public struct Counts: Sendable, Codable, Equatable {
        /// Attempts acknowledged as ended with status 0 (each counted once per attempt), with
        /// another status, and stopped (cancelled or preempted).
        public var succeeded = 0, failed = 0, cancelled = 0
        /// Attempts the coordinator refused data for (lost, superseded).
        public var refused = 0
        /// Requests answered: assignments, report acknowledgements, heartbeats; hellos sent.
        public var assignments = 0, reports = 0, heartbeats = 0, hellos = 0
        /// Raw log bytes the coordinator acknowledged as stored.
        public var rawBytesStored: UInt64 = 0
        /// Frames and metric samples produced.
        public var framesSent = 0, metricSamplesSent = 0
        /// Requests that failed (a dropped connection, a coordinator restarting) and were retried;
        /// churn events carried out; refusals (`Rejected`) received.
        public var retries = 0, kills = 0, cuts = 0, rejections = 0
    }

    private struct State {
        var counts = Counts()
        var dispatch = LatencyHistogram()
        /// Dispatches after the start: once as many assignments as the fleet has slots were made
        /// (every slot asked at once at the start, and the first answers queue behind each other).
        var dispatchAfterStart = LatencyHistogram()
        var report = LatencyHistogram()
        var heartbeat = LatencyHistogram()
        var samples: [Sample] = []
        var nextSampleAt: Int
        var campaignOverAt: ContinuousClock.Instant?
        /// When the last attempt so far was acknowledged as succeeded, seconds into the run.
        var lastSuccessAt = 0.0
        var problems: [String] = []
    }

    private let state: Mutex<State>
    private let probe: ProcessProbe
    private let sampleEvery: Int
    /// Assignments that make the start (the fleet's slots): dispatches after them are also counted apart.
    private let startAssignments: Int
    /// When the run started.
    public let start = ContinuousClock.now

    /// A recorder that samples `probe` every `sampleEvery` succeeded attempts; `slots` is the
    /// fleet's (the first that many assignments are the start).
    public init(probe: ProcessProbe, sampleEvery: Int, slots: Int = 0) {
        self.probe = probe
        self.sampleEvery = max(1, sampleEvery)
        startAssignments = max(0, slots)
        state = Mutex(State(nextSampleAt: max(1, sampleEvery)))
    }

    var elapsedSeconds: Double { Self.seconds(ContinuousClock.now - start) }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// Samples the coordinator now (the start and the end of a run), if it is running.
    public func sampleCoordinator() {
        guard let pid = probe.currentPid, let reading = probe.read(pid: pid) else { return }
        let elapsed = elapsedSeconds
        state.withLock { $0.samples.append(Sample(pid: pid, completed: $0.counts.succeeded, elapsedSeconds: elapsed, reading: reading)) }
    }

    func count(_ update: (inout Counts) -> Void) {
        state.withLock { update(&$0.counts) }
    }

    func dispatched(after latency: Duration) {
        state.withLock {
            $0.dispatch.record(latency)
            if $0.counts.assignments >= startAssignments { $0.dispatchAfterStart.record(latency) }
            $0.counts.assignments += 1
        }
    }

    func heartbeatAnswered(after latency: Duration) {
        state.withLock {
            $0.heartbeat.record(latency)
            $0.counts.heartbeats += 1
        }
    }

    /// A report was acknowledged after `latency`, settling what `settled` says.
    func reportAcknowledged(after latency: Duration, _ settled: LoadOutbox.Settled) {
        let due = state.withLock { state -> Bool in
            state.report.record(latency)
            state.counts.reports += 1
            state.counts.rawBytesStored += settled.rawBytes
            state.counts.refused += settled.refused.count
            for end in settled.ends {
                switch (end.outcome, end.code) {
                case (.exited, 0):
                    state.counts.succeeded += 1
                    state.lastSuccessAt = elapsedSeconds
                case (.cancelled, _), (.preempted, _): state.counts.cancelled += 1
                default: state.counts.failed += 1
                }
            }
            guard state.counts.succeeded >= state.nextSampleAt else { return false }
            state.nextSampleAt = (state.counts.succeeded / sampleEvery + 1) * sampleEvery
            return true
        }
        // Read outside the lock (a file read).
        if due { sampleCoordinator() }
    }

    /// The campaign is over (a worker was told so); the first call counts.
    func campaignOver() {
        state.withLock { if $0.campaignOverAt == nil { $0.campaignOverAt = .now } }
    }

    /// How long ago the campaign ended, if it has.
    var campaignOverFor: Duration? {
        state.withLock { $0.campaignOverAt }.map { ContinuousClock.now - $0 }
    }

    /// Something that should not happen (a worker refused for good); the run reports it and fails.
    func problem(_ text: String) {
        state.withLock { if $0.problems.count < 20 { $0.problems.append(text) } }
    }

    /// Everything measured so far.
    public var snapshot: Snapshot {
        state.withLock {
            Snapshot(counts: $0.counts, dispatch: $0.dispatch, dispatchAfterStart: $0.dispatchAfterStart, report: $0.report,
                     heartbeat: $0.heartbeat, samples: $0.samples,
                     problems: $0.problems, lastSuccessAt: $0.lastSuccessAt)
        }
    }

    /// Everything measured, at one moment.
    public struct Snapshot: Sendable {
        public var counts: Counts
        public var dispatch, dispatchAfterStart, report, heartbeat: LatencyHistogram
        public var samples: [Sample]
        public var problems: [String]
        /// Seconds into the run when the last succeeded attempt was acknowledged.
        public var lastSuccessAt: Double
    }
}
