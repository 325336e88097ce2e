/// Classifies failed attempts from how they ended and the tail of their log. Pure: no clock, no IO.
///
/// The rules, first match wins:
/// 1. **How it ended, by intern's own account**: `.timedOut` → `timeout`, `.preempted` →
///    `preempted`, `.lost` → `lost`, `.failedToStart` → `user` (a missing executable or workdir is
///    the same on every retry), `.missingOutputs` → `user`, `.nonFiniteMetrics` (exited 0 with its
///    objective or a loss ending NaN or infinite) → `diverged`. These are facts; everything below is
///    read from a log and is a guess.
/// 2. **Out of memory** (`oom`): the log mentions a CUDA/HIP/XLA/cuBLAS allocation failure,
///    `std::bad_alloc`, an `oom-kill`, the final exception is `MemoryError`, or a line is exactly
///    `Killed` (what a shell prints for a SIGKILLed child); or the process died of SIGKILL that
///    intern did not send, or exited 137 (a shell reporting SIGKILL). Checked before the other log
///    rules because running out of memory causes the rest: ranks waiting on the dead one hit NCCL
///    watchdog timeouts, dead data-loader workers give broken pipes, the OOM killer's SIGKILL leaves
///    no traceback. The root cause is the one to report.
/// 3. **Stopped from outside** (`preempted`): the process died of a SIGTERM intern did not send,
///    or exited 143 (a shell reporting one): a batch scheduler's preemption or `scancel`, which
///    signal every process of a job. Retried like a drained worker's attempts, without budget.
/// 4. **Divergence** (`diverged`): a loss-like metric printed as NaN or infinite
///    (`'loss': nan`, `"loss": NaN`, `loss=nan`, `loss: inf`), or `Loss is NaN`, `nan loss`,
///    `non-finite loss`, or the word `diverged`. Before infra and user because a NaN loss is often
///    what makes the code fail next (an assertion, a `ValueError` in a metric), and because the
///    run would diverge again with the same seed.
/// 5. **Infrastructure** (`infra`): NCCL errors and timeouts, connection resets and refusals,
///    broken pipes, I/O errors, full disks, ECC errors, name resolution, stale NFS handles, and the
///    configured ``infraPatterns``. Before `user` because transient faults surface as ordinary Python
///    exceptions (`ConnectionResetError`, `OSError`) and often end in a secondary `TypeError` or
///    `AttributeError` in cleanup code; calling those `user` would stop the trial for good, while a
///    wrong `infra` costs a few retries. The built-in patterns are skipped when the log reports
///    `an illegal memory access`: that is a bug in the job, and the NCCL errors that follow it are
///    consequences.
/// 6. **The job's own mistake** (`user`): the final exception is `ImportError`,
///    `ModuleNotFoundError`, `SyntaxError`, `IndentationError`, `TabError`, `NameError`,
///    `UnboundLocalError`, `TypeError` or `AttributeError`; an `argparse` usage error; exit
///    status 2; or a configured ``userPatterns`` match. Deliberately conservative: only evidence that
///    the same command fails the same way every time, because `user` failures are never retried and
///    trip the ``CircuitBreaker``.
/// 7. Otherwise `unknown` (including SIGSEGV, SIGBUS, SIGABRT and other signals intern did not send,
///    when the log says nothing more), retried as the spec's `retries` says.
///
/// Patterns are matched case-insensitively (ASCII) against the whole cleaned tail: ANSI escapes
/// removed, `\r` progress reduced to its last rewrite.
public struct FailureClassifier: Sendable, Hashable {
    /// Extra case-insensitive substrings that mark a failure as `infra`, on top of the built-in ones.
    public var infraPatterns: [String]
    /// Extra case-insensitive substrings that mark a failure as `user`, on top of the built-in rules.
    public var userPatterns: [String]

    /// Creates a classifier with extra patterns (empty strings are ignored).
    public init(infraPatterns: [String] = [], userPatterns: [String] = []) {
        self.infraPatterns = infraPatterns
        self.userPatterns = userPatterns
    }

    /// A classifier with a campaign's configured patterns.
    public init(policy: FailurePolicy) {
        self.init(infraPatterns: policy.infraPatterns, userPatterns: policy.userPatterns)
    }

    /// The built-in `oom` substrings (any case).
    public static let oomPatterns = [
        "CUDA out of memory", "CUDA error: out of memory", "torch.cuda.OutOfMemoryError", "torch.OutOfMemoryError",
        "OutOfMemoryError", "HIP out of memory", "CUBLAS_STATUS_ALLOC_FAILED", "RESOURCE_EXHAUSTED: Out of memory",
        "std::bad_alloc", "oom-kill", "oom_kill", "Out of memory: Killed process",
    ]
    /// The built-in `infra` substrings (any case); `NFS` must be a whole word.
    public static let infraPatterns = [
        "NCCL error", "ncclInternalError", "ncclSystemError", "ncclRemoteError", "NCCL timeout",
        "Watchdog caught collective operation timeout", "Connection reset by peer", "Connection refused",
        "ConnectionResetError", "Broken pipe", "Input/output error", "OSError: [Errno 5]", "No space left on device",
        "ECC error", "Temporary failure in name resolution", "TimeoutError", "Stale file handle", "NFS",
    ]
    /// The final exception types classified `user`.
    public static let userExceptions: Set<String> = [
        "ImportError", "ModuleNotFoundError", "SyntaxError", "IndentationError", "TabError", "NameError",
        "UnboundLocalError", "TypeError", "AttributeError",
    ]
    /// The `argparse` messages classified `user` (any case).
    public static let usagePatterns = [
        "error: unrecognized arguments", "error: argument ", "error: the following arguments are required",
    ]

    private static let loweredOOM = oomPatterns.map(LogText.loweredBytes)
    private static let loweredInfra = infraPatterns.map(LogText.loweredBytes)
    private static let loweredUsage = usagePatterns.map(LogText.loweredBytes)
    private static let illegalAccess = LogText.loweredBytes("an illegal memory access")
    private static let divergencePhrases = ["loss is nan", "loss is inf", "nan loss", "inf loss", "non-finite loss", "diverged"]
        .map(LogText.loweredBytes)

    /// Classifies one failed attempt (see the type's documentation for the rules) and computes the
    /// signature of its final error.
    public func classify(_ evidence: FailureEvidence) -> FailureDiagnosis {
        let log = LogText(evidence.logTail)
        let (failureClass, reason) = decide(evidence, log)
        return FailureDiagnosis(failureClass: failureClass, signature: FailureSignature.make(log), reason: reason)
    }

    private func decide(_ evidence: FailureEvidence, _ log: LogText) -> (FailureClass, String) {
        switch evidence.kind {
        case .timedOut: return (.timeout, "ran past the campaign's timeout and was stopped by intern")
        case .preempted: return (.preempted, "the worker was drained or stopped, and stopped the job")
        case .lost: return (.lost, "the worker running the attempt vanished")
        case .failedToStart(let why): return (.user, "could not start: \(why)")
        case .missingOutputs(let names):
            return (.user, "exited 0 without its declared output\(names.count == 1 ? "" : "s") \(names.joined(separator: ", ")) (print {\"intern_output\": {\"\(names[0])\": ...}})")
        case .nonFiniteMetrics(let metrics):
            return (.diverged, "exited 0, but its last \(metrics.joined(separator: ", "))")
        case .exited, .signaled: break
        }
        let finalException = Self.finalException(log)

        // Out of memory.
        for (index, pattern) in Self.loweredOOM.enumerated() where LogText.contains(log.lowered, pattern) {
            return (.oom, "\(Self.oomPatterns[index]) in the log")
        }
        if finalException == "MemoryError" {
            return (.oom, "MemoryError raised (Python could not allocate memory)")
        }
        if Self.hasKilledLine(log) {
            return (.oom, "the shell reported 'Killed' (a SIGKILL, usually the OOM killer)")
        }
        if !evidence.killedByIntern {
            if case .signaled(9) = evidence.kind {
                return (.oom, "killed by SIGKILL not sent by intern (host OOM killer?)" + Self.peak(evidence.peakRSSBytes))
            }
            if case .exited(137) = evidence.kind {
                return (.oom, "exit code 137, a shell reporting a SIGKILL not sent by intern (host OOM killer?)"
                    + Self.peak(evidence.peakRSSBytes))
            }
        }

        // Stopped from outside: a batch scheduler's preemption, `scancel`, a node being drained
        // signal every process of the job, the job included; not the job's fault.
        if !evidence.killedByIntern {
            if case .signaled(15) = evidence.kind {
                return (.preempted, "killed by SIGTERM not sent by intern (a scheduler preempting or cancelling the job?)")
            }
            if case .exited(143) = evidence.kind {
                return (.preempted, "exit code 143, a shell reporting a SIGTERM not sent by intern (a scheduler preempting or cancelling the job?)")
            }
        }

        // Divergence.
        if let line = Self.nonFiniteLossLine(log) {
            return (.diverged, "the loss is NaN or infinite: \(LogText.truncated(line, to: 120))")
        }
        for phrase in Self.divergencePhrases where LogText.containsWord(log.lowered, phrase) {
            return (.diverged, "'\(LogText.string(phrase))' in the log")
        }

        // Infrastructure.
        if !LogText.contains(log.lowered, Self.illegalAccess) {
            for (index, pattern) in Self.loweredInfra.enumerated() {
                let found = Self.infraPatterns[index] == "NFS"
                    ? LogText.containsWord(log.lowered, pattern) : LogText.contains(log.lowered, pattern)
                if found { return (.infra, "\(Self.infraPatterns[index]) in the log (infrastructure)") }
            }
        }
        for pattern in infraPatterns where !pattern.isEmpty && LogText.contains(log.lowered, LogText.loweredBytes(pattern)) {
            return (.infra, "'\(pattern)' in the log (a configured infra pattern)")
        }

        // The job's own mistake.
        if let finalException, Self.userExceptions.contains(finalException) {
            return (.user, "\(finalException) raised (the same command fails the same way every time)")
        }
        for (index, pattern) in Self.loweredUsage.enumerated() where LogText.contains(log.lowered, pattern) {
            return (.user, "usage error ('\(Self.usagePatterns[index].trimmingSpaces)' in the log)")
        }
        if case .exited(2) = evidence.kind {
            return (.user, "exit code 2 (usage error)")
        }
        for pattern in userPatterns where !pattern.isEmpty && LogText.contains(log.lowered, LogText.loweredBytes(pattern)) {
            return (.user, "'\(pattern)' in the log (a configured user pattern)")
        }

        var reason: String
        switch evidence.kind {
        case .exited(let status): reason = "exit code \(status)"
        case .signaled(let signal):
            let name = Self.signalName(signal)
            reason = "killed by \(name)" + (evidence.killedByIntern ? " sent by intern" : name.hasPrefix("SIG") ? " (signal \(signal))" : "")
        default: reason = "failed"
        }
        if let finalException { reason += " after \(finalException)" }
        return (.unknown, reason)
    }

    // MARK: - Log rules

    /// The type of the final exception: the last traceback's, else the last line that reads like
    /// an exception (`SomeError: message`).
    static func finalException(_ log: LogText) -> String? {
        if let traceback = log.traceback { return LogText.exceptionType(traceback.exception) }
        for line in log.lines.reversed() {
            if let type = LogText.exceptionType(line) { return type }
        }
        return nil
    }

    /// A line that is exactly `Killed`, or bash's report of a killed job (`line 1: 4242 Killed  python train.py`).
    private static func hasKilledLine(_ log: LogText) -> Bool {
        let killed = Array("Killed".utf8)
        for line in log.lines {
            let trimmed = LogText.trimmed(line)
            if trimmed.elementsEqual(killed) { return true }
            // bash: "...: line 1: 12345 Killed                  python3 train.py"
            let words = trimmed.split(separator: 0x20, omittingEmptySubsequences: true)
            for index in words.indices.dropFirst() where words[index].elementsEqual(killed)
                && words[index - 1].allSatisfy(LogText.isDigit) {
                return true
            }
        }
        return false
    }

    private static let nonFiniteValues: Set<String> = [
        "nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity",
    ]

    /// The first line where a loss-like key (`loss`, `train_loss`, `eval/loss`; not a loss scale) is
    /// followed by `:` or `=` and a NaN or infinite value (`'loss': nan`, `"loss": NaN`,
    /// `loss=nan`, `loss: inf`, `loss: tensor(nan`).
    static func nonFiniteLossLine(_ log: LogText) -> String? {
        let needle = Array("loss".utf8)
        let h = log.lowered
        var found: Int?
        LogText.forEachOccurrence(of: needle, in: h) { start in
            var keyStart = start
            while keyStart > 0, isKeyByte(h[keyStart - 1]) { keyStart -= 1 }
            var i = start + needle.count
            while i < h.count, isKeyByte(h[i]) { i += 1 }
            if LogText.contains(Array(h[keyStart..<i]), Array("scale".utf8)) { return true }
            func skip(_ set: [UInt8]) { while i < h.count, set.contains(h[i]) { i += 1 } }
            let quotesAndSpaces: [UInt8] = [0x20, 0x09, UInt8(ascii: "'"), UInt8(ascii: "\"")]
            skip(quotesAndSpaces)
            guard i < h.count, h[i] == UInt8(ascii: ":") || h[i] == UInt8(ascii: "=") else { return true }
            i += 1
            skip(quotesAndSpaces)
            var value = readValue(h, &i)
            if value == "tensor", i < h.count, h[i] == UInt8(ascii: "(") {
                i += 1
                value = readValue(h, &i)
            }
            if nonFiniteValues.contains(value) {
                found = start
                return false
            }
            return true
        }
        guard let found else { return nil }
        // The line holding the match.
        var lineStart = found
        while lineStart > 0, h[lineStart - 1] != 0x0A { lineStart -= 1 }
        let lineIndex = h[..<lineStart].reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
        return LogText.string(LogText.trimmed(log.lines[lineIndex]))
    }

    private static func isKeyByte(_ b: UInt8) -> Bool {
        LogText.isWordByte(b) || b == UInt8(ascii: "/") || b == UInt8(ascii: ".") || b == UInt8(ascii: "-")
    }

    private static func readValue(_ h: [UInt8], _ i: inout Int) -> String {
        let start = i
        while i < h.count, LogText.isLetter(h[i]) || h[i] == UInt8(ascii: "+") || h[i] == UInt8(ascii: "-") { i += 1 }
        return LogText.string(h[start..<i])
    }

    // MARK: - Wording

    private static func peak(_ bytes: UInt64?) -> String {
        guard let bytes else { return "" }
        let tenthsOfGiB = (bytes * 10 + (1 << 29)) >> 30
        return "; peak RSS \(tenthsOfGiB / 10).\(tenthsOfGiB % 10) GiB"
    }

    /// `SIGSEGV` for 11, `signal 42` for a number without a portable name.
    static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [
            1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 8: "SIGFPE",
            9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
        ]
        if let name = names[signal] { return name }
        #if os(Linux)
        if signal == 7 { return "SIGBUS" }
        #else
        if signal == 10 { return "SIGBUS" }
        #endif
        return "signal \(signal)"
    }
}

