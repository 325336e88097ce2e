import InternCore
import InternProtocol

extension MetricBatch {
    /// Samples (each attempt's in seq order, as the outbox holds them) packed for a report: one
    /// batch per run of one attempt's consecutive seqs. The worker packs, so the coordinator
    /// stores the bytes as they come.
    public static func packing(_ samples: [MetricSample]) -> [MetricBatch] {
        PackedMetricPoints.pack(samples) { ($0.attemptId, $0.seq, $0.name, $0.step, $0.value, $0.timeMs) }.map { run in
            MetricBatch(attemptId: run.attempt, firstSeq: run.firstSeq, baseTime: run.baseTime, data: run.data)
        }
    }
}
