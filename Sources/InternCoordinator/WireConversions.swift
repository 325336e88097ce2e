import Foundation
import InternAuth
import InternCore
import InternProtocol
import InternStore

/// Conversions between the wire's types and the logic's, with the limits a peer's data is held to.
extension Coordinator {
    /// A worker's provenance as stored: at most 32 fields of bounded size; blobs of a known kind,
    /// at most 4 MiB, whose content hashes to their digest (others are dropped).
    static func provenanceRecord(_ item: AttemptProvenance, now: Timestamp) -> AttemptProvenanceRecord {
        var fields: [String: String] = [:]
        for pair in item.fields.prefix(32) where pair.key.utf8.count <= 64 && pair.value.utf8.count <= 1_024 && !pair.value.utf8.contains(0) {
            fields[pair.key] = pair.value
        }
        let blobs = item.blobs.compactMap { sent -> AttemptProvenanceRecord.Blob? in
            let blob = AttemptProvenanceRecord.Blob(digest: sent.digest, kind: sent.kind, rawLength: sent.rawLength, data: sent.data)
            guard ["git.diff", "packages"].contains(blob.kind), blob.data.count <= 4 << 20, let content = blob.content,
                  SHA256.hex(content) == blob.digest else { return nil }
            return blob
        }
        return AttemptProvenanceRecord(attempt: item.attemptId, fields: fields, blobs: blobs, capturedAt: now)
    }

    static func result(of end: AttemptEnd) -> AttemptResult {
        let outcome: AttemptResult.Outcome = switch end.outcome {
        case .exited: .exited(Int32(truncatingIfNeeded: end.code))
        case .signaled: .signaled(Int32(truncatingIfNeeded: end.code))
        case .failedToStart: .failedToStart(end.detail)
        case .timedOut: .timedOut
        case .cancelled: .cancelled
        case .preempted: .preempted
        }
        var core = AttemptResult(
            attempt: end.attemptId, outcome: outcome, startedAt: end.startedAtMs, endedAt: end.endedAtMs,
            wallMillis: end.wallMs, userCPUMillis: end.userCpuMs, systemCPUMillis: end.systemCpuMs,
            peakRSSBytes: end.peakRssBytes, finalStdoutSeq: end.finalStdoutSeq, finalStderrSeq: end.finalStderrSeq,
            finalMetricSeq: end.finalMetricSeq, logTail: String(decoding: end.logTail, as: UTF8.self))
        // A worker's report is not trusted further than the worker's own parser: the same limits.
        for pair in end.outputs.prefix(OutputLineParser.maxOutputs) where OutputLineParser.isAcceptable(name: pair.key, value: pair.value) {
            core.outputs[pair.key] = pair.value
        }
        return core
    }

    static func rejected(_ refusal: Refusal, requestId: UInt64) -> Rejected {
        switch refusal {
        case .unknownWorker:
            Rejected(requestId: requestId, code: .unknownWorker, reason: "unknown worker or incarnation: say hello again")
        case .fenced:
            Rejected(requestId: requestId, code: .fenced, reason: "a newer incarnation of this worker has joined")
        }
    }
}
