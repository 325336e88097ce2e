import InternProtocol
import Testing

/// A named sample message, used as a test argument.
struct Fixture: Sendable, CustomTestStringConvertible {
    let name: String
    let message: Message

    var testDescription: String { name }
}

/// Deterministic SplitMix64 generator so fuzz runs are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Where the same message of an earlier revision of this major version ended, when fields were
/// appended to it since (docs/protocol.md, Versioning): a prefix of exactly that length decodes, the
/// appended fields read as absent. `HeartbeatReply.logFlushIntervalMs` and `heartbeatIntervalMs`
/// were appended within version 5. (Both 0 are not sent: that message ends there already.)
func earlierRevisionEnding(of message: Message, encoded bytes: [UInt8]) -> (length: Int, message: Message)? {
    guard case .heartbeatReply(var reply) = message, reply.logFlushIntervalMs != 0 || reply.heartbeatIntervalMs != 0 else { return nil }
    let length = bytes.count - varintSize(reply.logFlushIntervalMs) - varintSize(reply.heartbeatIntervalMs)
    reply.logFlushIntervalMs = 0
    reply.heartbeatIntervalMs = 0
    return (length, .heartbeatReply(reply))
}

/// The bytes of `value` as a `uint` (LEB128).
func varintSize(_ value: UInt64) -> Int {
    var size = 1
    var rest = value
    while rest >= 0x80 {
        rest >>= 7
        size += 1
    }
    return size
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 0x10 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
}

func bytes(hex: String) -> [UInt8] {
    hex.split(separator: " ").map { UInt8($0, radix: 16)! }
}

/// Decodes and returns the error, or `nil` when decoding succeeded.
func decodeError(_ bytes: [UInt8], codec: MessageCodec = MessageCodec()) -> ProtocolError? {
    do {
        _ = try codec.decode(bytes)
        return nil
    } catch {
        return error
    }
}

enum Fixtures {
    static let unicode = "Grüße, 世界 🚀 \u{0}nul"

    /// Representative values of every kind, small enough for exhaustive
    /// prefix and mutation tests.
    static let small: [Fixture] = [
        Fixture(name: "Hello", message: .hello(Hello(
            requestId: 1, workerId: "gpu-node-07", incarnation: 0xDEAD_BEEF_CAFE_F00D,
            hostname: unicode, pid: 4242, slots: 8, gpus: ["GPU-0", "GPU-1", ""],
            labels: StringPairs([("zone", "eu-1"), ("ärger", "ja"), ("zone", "dup-kept")]), held: [3, 0, .max]))),
        Fixture(name: "Hello.empty", message: .hello(Hello(
            requestId: 0, workerId: "", incarnation: 0, hostname: "", pid: 0, slots: 0))),
        Fixture(name: "Welcome", message: .welcome(Welcome(
            requestId: .max, campaign: "sweep-λ", coordinatorIncarnation: .max,
            heartbeatIntervalMs: 5000, leaseTimeoutMs: 30000, maxMessageBytes: 16 << 20,
            logFlushIntervalMs: 1000, logFlushBytes: 1 << 20, compressionLevel: -7,
            metricPrefix: "@@metric "))),
        Fixture(name: "Welcome.noPrefix", message: .welcome(Welcome(
            requestId: 2, campaign: "", coordinatorIncarnation: 1, heartbeatIntervalMs: 0,
            leaseTimeoutMs: 0, maxMessageBytes: 0, logFlushIntervalMs: 0, logFlushBytes: 0,
            compressionLevel: .min, metricPrefix: nil))),
        Fixture(name: "Rejected", message: .rejected(Rejected(
            requestId: 3, code: .fenced, reason: "stale incarnation 🙅"))),
        Fixture(name: "Rejected.unknownCode", message: .rejected(Rejected(
            requestId: 3, code: RejectCode(rawValue: .max), reason: ""))),
        Fixture(name: "WorkRequest", message: .workRequest(WorkRequest(
            requestId: 4, workerId: "w", incarnation: .max, slot: 3))),
        Fixture(name: "WorkRequest.behind", message: .workRequest(WorkRequest(
            requestId: 4, workerId: "w", incarnation: 1, slot: 0, behind: .max))),
        Fixture(name: "Assignment", message: .assignment(Assignment(
            requestId: 5, campaign: "c", trialId: .max, attemptId: 1 << 63, attemptNumber: 2,
            argv: ["/usr/bin/python3", "train.py", "--lr=1e-3", unicode], shell: false,
            environment: ["CUDA_VISIBLE_DEVICES": "0,1", "EMPTY": ""], workdir: "/srv/ü",
            timeoutMs: 3_600_000, parameters: ["lr": "0.001", "layers": "12"], gpus: ["0"],
            resultFiles: ["results": "out/results_*.json"]))),
        Fixture(name: "Assignment.shell", message: .assignment(Assignment(
            requestId: 6, campaign: "c", trialId: 1, attemptId: 1, attemptNumber: 1,
            argv: ["echo hi && exit 3"], shell: true, workdir: "", timeoutMs: 0))),
        Fixture(name: "NoWork.idle", message: .noWork(NoWork(requestId: 7, reason: .idle, retryAfterMs: 250))),
        Fixture(name: "NoWork.finished", message: .noWork(NoWork(requestId: 7, reason: .finished, retryAfterMs: 0))),
        Fixture(name: "Heartbeat", message: .heartbeat(Heartbeat(
            requestId: 8, workerId: "w", incarnation: 9, running: [1, 127, 128, .max], leaving: true))),
        Fixture(name: "Heartbeat.empty", message: .heartbeat(Heartbeat(
            requestId: 8, workerId: "w", incarnation: 9, running: []))),
        Fixture(name: "HeartbeatReply", message: .heartbeatReply(HeartbeatReply(
            requestId: 9, cancel: [5, 6], drain: true, shutdown: false, logFlushIntervalMs: 1_000, heartbeatIntervalMs: 2_000))),
        Fixture(name: "HeartbeatReply.empty", message: .heartbeatReply(HeartbeatReply(requestId: 9))),
        Fixture(name: "Report", message: .report(Report(
            requestId: 10, workerId: "w", incarnation: 11,
            frames: [
                LogFrame(attemptId: 1, stream: .stdout, seq: 1, rawLength: 6, data: [0x28, 0xB5, 0x2F, 0xFD, 0, 1]),
                LogFrame(attemptId: 1, stream: .stderr, seq: .max, rawLength: 0, data: []),
            ],
            metrics: [
                // The codec carries a batch's bytes as they are (InternCoreTests' PackedMetricPointsTests reads them).
                MetricBatch(attemptId: 1, firstSeq: 1, baseTime: -1, data: [1, 4, 0x6C, 0x6F, 0x73, 0x73, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0xD0, 0x3F, 0]),
                MetricBatch(attemptId: 2, firstSeq: .max, baseTime: .min, data: []),
                MetricBatch(attemptId: .max, firstSeq: 0, baseTime: .max, data: [0xFF]),
            ],
            ends: [
                AttemptEnd(attemptId: 1, outcome: .signaled, code: 9, detail: "", startedAtMs: 1_700_000_000_000,
                           endedAtMs: 1_700_000_360_000, wallMs: 360_000, userCpuMs: 1, systemCpuMs: 2,
                           peakRssBytes: .max, finalStdoutSeq: 1, finalStderrSeq: .max, finalMetricSeq: 4,
                           logTail: Array("Traceback (most recent call last):\nMemoryError\n".utf8) + [0x00, 0xFF]),
                AttemptEnd(attemptId: 2, outcome: .failedToStart, code: -2, detail: "execve: No such file ✗",
                           startedAtMs: -5, endedAtMs: -5, wallMs: 0),
                AttemptEnd(attemptId: 3, outcome: .preempted, code: 15, startedAtMs: 1, endedAtMs: 2, wallMs: 1),
                AttemptEnd(attemptId: 4, outcome: .exited, startedAtMs: 1, endedAtMs: 2, wallMs: 1,
                           outputs: ["checkpoint": "/runs/4/model.pt", "ünïcode": "✓", "empty": ""]),
            ],
            provenance: [
                AttemptProvenance(attemptId: 4, fields: ["git.commit": "abc", "git.dirty": "true", "git.diff": "d1"],
                                  blobs: [ProvenanceBlob(digest: "d1", kind: "git.diff", rawLength: 3, data: [1, 2, 3])]),
                AttemptProvenance(attemptId: 5, fields: [:]),
            ]))),
        Fixture(name: "Report.empty", message: .report(Report(requestId: 10, workerId: "w", incarnation: 11))),
        Fixture(name: "ReportAck", message: .reportAck(ReportAck(
            requestId: 12,
            stored: [StreamCursor(attemptId: 1, stream: .stdout, seq: 1), StreamCursor(attemptId: 1, stream: .stderr, seq: 0)],
            metricsStored: [MetricCursor(attemptId: 1, seq: 4)],
            endsStored: [1], unknownAttempts: [99, .max]))),
        Fixture(name: "ReportAck.empty", message: .reportAck(ReportAck(requestId: 12))),
        Fixture(name: "AdminRequest", message: .adminRequest(AdminRequest(requestId: 13, arguments: ["logs", "3", "--from-byte", "0", unicode]))),
        Fixture(name: "AdminReply", message: .adminReply(AdminReply(
            requestId: 13, exitCode: -1, stdout: Array("trial 3\n".utf8), stderr: [0, 0xFF, 0x80]))),
    ]

    /// A report carrying 1 MiB of frame data.
    static let bigReport: Message = {
        var rng = SeededGenerator(seed: 7)
        let data = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return .report(Report(
            requestId: .max, workerId: "big", incarnation: .max,
            frames: [LogFrame(attemptId: .max, stream: .stdout, seq: 1, rawLength: 4 << 20, data: data)]))
    }()

    static let all: [Fixture] = small + [Fixture(name: "Report.1MiB", message: bigReport)]
}
