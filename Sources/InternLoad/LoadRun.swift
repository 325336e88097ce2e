import Foundation

/// A whole load run: N simulated workers against one coordinator, until the campaign is over
/// (or the time limit), and what was measured.
public enum LoadRun {
    /// What to run.
    public struct Configuration: Sendable {
        public var settings: LoadSettings
        public var workers: Int
        public var churn: ChurnSchedule.Settings?
        public var probe: ProcessProbe
        /// Sample the coordinator every this many succeeded attempts.
        public var sampleEvery: Int
        public var timeLimit: Duration
        /// Where progress lines go (every 5 s), if anywhere.
        public var progress: (@Sendable (String) -> Void)?

        /// Creates a configuration.
        public init(
            settings: LoadSettings, workers: Int, churn: ChurnSchedule.Settings?, probe: ProcessProbe, sampleEvery: Int,
            timeLimit: Duration, progress: (@Sendable (String) -> Void)? = nil
        ) {
            self.settings = settings
            self.workers = max(1, workers)
            self.churn = churn
            self.probe = probe
            self.sampleEvery = sampleEvery
            self.timeLimit = timeLimit
            self.progress = progress
        }
    }

    /// Runs the workers and returns the figures. Raises the open-file limit first (a socket per worker).
    public static func run(_ configuration: Configuration) async -> LoadResult {
        raiseFileLimit()
        let recorder = LoadRecorder(
            probe: configuration.probe, sampleEvery: configuration.sampleEvery, slots: configuration.workers * configuration.settings.slots)
        recorder.sampleCoordinator()
        let log = TrainerLog(metricEvery: configuration.settings.profile.metricEvery, seed: configuration.settings.profile.seed)
        let schedule = configuration.churn.map(ChurnSchedule.init) ?? ChurnSchedule(.init(workers: 0, perHour: 0, hours: 0, timeScale: 0))
        var byWorker: [Int: [ChurnSchedule.Event]] = [:]
        for event in schedule.events { byWorker[event.worker, default: []].append(event) }
        let workers = (0..<configuration.workers).map {
            SimulatedWorker(index: $0, settings: configuration.settings, log: log, recorder: recorder, churn: byWorker[$0] ?? [])
        }
        let start = ContinuousClock.now
        var timedOut = false
        await withTaskGroup(of: Bool.self) { group in
            for worker in workers {
                group.addTask {
                    await worker.run(start: start)
                    return true
                }
            }
            group.addTask {
                // The time limit and the progress lines; cancelled once every worker is done.
                var last = 0
                while !Task.isCancelled {
                    do { try await Task.sleep(for: .seconds(5)) } catch { return true }
                    let counts = recorder.snapshot.counts
                    configuration.progress?(String(
                        format: "%.0f s: %d trials done (%.0f/s), %d assignments, %.1f MB raw stored, %d reports, %d retries, %d kills, %d cuts",
                        recorder.elapsedSeconds, counts.succeeded, Double(counts.succeeded - last) / 5, counts.assignments,
                        Double(counts.rawBytesStored) / 1e6, counts.reports, counts.retries, counts.kills, counts.cuts))
                    last = counts.succeeded
                    if ContinuousClock.now - start > configuration.timeLimit { return false }
                }
                return true
            }
            var running = workers.count
            while let finished = await group.next() {
                if !finished {
                    timedOut = true
                    let stuck = workers.filter { !$0.hasStopped }.map(\.status)
                    recorder.problem("time limit reached with \(stuck.count) workers not done, e.g. " + stuck.prefix(5).joined(separator: "; "))
                    group.cancelAll()
                    break
                }
                running -= 1
                if running == 0 { group.cancelAll() }
            }
        }
        recorder.sampleCoordinator()
        return LoadResult(configuration: configuration, recorder: recorder, elapsed: ContinuousClock.now - start, timedOut: timedOut)
    }

    private static func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

/// The figures of a load run, as printed and written to JSON.
public struct LoadResult: Sendable, Codable {
    /// Percentiles of one latency, milliseconds.
    public struct Latency: Sendable, Codable, Equatable {
        public var count: UInt64
        public var p50Ms: Double
        public var p99Ms: Double
        public var maxMs: Double
        public var meanMs: Double

        init(_ histogram: LatencyHistogram) {
            count = histogram.count
            p50Ms = Double(histogram.percentile(0.5)) / 1000
            p99Ms = Double(histogram.percentile(0.99)) / 1000
            maxMs = Double(histogram.max) / 1000
            meanMs = histogram.mean / 1000
        }
    }

    public var workers: Int
    public var slots: Int
    public var elapsedSeconds: Double
    public var timedOut: Bool
    public var counts: LoadRecorder.Counts
    public var trialsPerSecond: Double
    public var dispatch: Latency
    /// Dispatches once the start's assignments (one per slot of the fleet) were made.
    public var dispatchAfterStart: Latency
    public var reportCommit: Latency
    public var heartbeat: Latency
    /// The coordinator sampled at the start, every N trials and at the end.
    public var coordinator: [LoadRecorder.Sample]
    /// Coordinator CPU seconds between the first and last sample, per succeeded attempt, and
    /// raw log MB stored per coordinator CPU second.
    public var coordinatorCpuSeconds: Double?
    public var coordinatorCpuMsPerTrial: Double?
    public var ingestMBPerCpuSecond: Double?
    public var problems: [String]

    init(configuration: LoadRun.Configuration, recorder: LoadRecorder, elapsed: Duration, timedOut: Bool) {
        let snapshot = recorder.snapshot
        workers = configuration.workers
        slots = configuration.settings.slots
        elapsedSeconds = LoadRecorder.seconds(elapsed)
        self.timedOut = timedOut
        counts = snapshot.counts
        // Up to the last trial's end: a worker cut off or killed near the end comes back later,
        // only to learn the campaign is over.
        trialsPerSecond = Double(snapshot.counts.succeeded) / max(1e-9, snapshot.lastSuccessAt)
        dispatch = Latency(snapshot.dispatch)
        dispatchAfterStart = Latency(snapshot.dispatchAfterStart)
        reportCommit = Latency(snapshot.report)
        heartbeat = Latency(snapshot.heartbeat)
        coordinator = snapshot.samples
        problems = snapshot.problems
        // CPU between the first and last sample of each coordinator process (restarts change the pid).
        var cpu = 0.0
        var first: [Int32: Double] = [:], last: [Int32: Double] = [:]
        for sample in snapshot.samples {
            if first[sample.pid] == nil { first[sample.pid] = sample.reading.cpuSeconds }
            last[sample.pid] = sample.reading.cpuSeconds
        }
        for (pid, end) in last { cpu += end - (first[pid] ?? end) }
        if cpu > 0 {
            coordinatorCpuSeconds = cpu
            coordinatorCpuMsPerTrial = snapshot.counts.succeeded > 0 ? cpu * 1000 / Double(snapshot.counts.succeeded) : nil
            ingestMBPerCpuSecond = Double(snapshot.counts.rawBytesStored) / 1e6 / cpu
        }
    }

    /// A few lines for a person.
    public var summary: String {
        var lines = [
            String(format: "%d workers x %d slots, %.1f s%@", workers, slots, elapsedSeconds, timedOut ? " (TIMED OUT)" : ""),
            String(format: "trials completed %d (%.1f/s); attempts failed %d, cancelled %d, refused %d; kills %d, cuts %d, retried requests %d",
                   counts.succeeded, trialsPerSecond, counts.failed, counts.cancelled, counts.refused, counts.kills, counts.cuts, counts.retries),
            String(format: "dispatch (work request -> assignment): p50 %.2f ms, p99 %.2f ms, max %.1f ms (%llu)", dispatch.p50Ms, dispatch.p99Ms, dispatch.maxMs, dispatch.count),
            String(format: "dispatch after the start (once every slot had an assignment): p50 %.2f ms, p99 %.2f ms, max %.1f ms (%llu)",
                   dispatchAfterStart.p50Ms, dispatchAfterStart.p99Ms, dispatchAfterStart.maxMs, dispatchAfterStart.count),
            String(format: "report commit (report -> ack): p50 %.2f ms, p99 %.2f ms, max %.1f ms (%llu)", reportCommit.p50Ms, reportCommit.p99Ms, reportCommit.maxMs, reportCommit.count),
            String(format: "heartbeat: p50 %.2f ms, p99 %.2f ms (%llu)", heartbeat.p50Ms, heartbeat.p99Ms, heartbeat.count),
            String(format: "log: %.1f MB raw stored, %d frames, %d metric samples", Double(counts.rawBytesStored) / 1e6, counts.framesSent, counts.metricSamplesSent),
        ]
        if let cpu = coordinatorCpuSeconds {
            lines.append(String(format: "coordinator CPU %.2f s: %.3f ms per trial, %.0f MB raw per CPU second", cpu, coordinatorCpuMsPerTrial ?? 0, ingestMBPerCpuSecond ?? 0))
        }
        if !coordinator.isEmpty {
            lines.append("coordinator RSS (MB) at trials: " + coordinator.map { String(format: "%d:%.1f", $0.completed, Double($0.reading.rssKiB) / 1024) }.joined(separator: " "))
        }
        for problem in problems { lines.append("problem: \(problem)") }
        return lines.joined(separator: "\n")
    }
}
