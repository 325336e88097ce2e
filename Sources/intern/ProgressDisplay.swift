import Foundation
import InternCoordinator
import InternCore
import InternReport
import Synchronization

/// The live progress of a campaign: one redrawn line on a terminal, a plain line at most every
/// few seconds (and on every change of the counts) otherwise.
final class ProgressDisplay: Sendable {
    private let isTerminal: Bool
    private let quiet: Bool
    private let state = Mutex(State())

    private struct State {
        var lastLine = ""
        var lastPrint: Date = .distantPast
        /// Missing metrics already printed in full (each once, by stage and metric).
        var warned: Set<String> = []
    }

    /// Creates a display; `quiet` shows only the summary.
    init(quiet: Bool = false) {
        self.isTerminal = isatty(STDOUT_FILENO) == 1
        self.quiet = quiet
    }

    /// How often it wants the campaign's state: a terminal's line every 250 ms; a file's, which
    /// prints at most every 2 s, every 2 s; never when quiet (only the summary). Each snapshot
    /// walks every trial on the coordinator's thread.
    var refreshInterval: Duration? {
        quiet ? nil : isTerminal ? .milliseconds(250) : .seconds(2)
    }

    /// Shows the latest state.
    func update(_ snapshot: CoordinatorSnapshot) {
        guard !quiet else { return }
        let line = Self.line(snapshot)
        state.withLock { state in
            // A metric the campaign counts on that no trial reports: said once, in full, on a
            // line of its own (the progress line then carries a short reminder).
            for metric in snapshot.missingMetrics where state.warned.insert("\(metric.stageIndex) \(metric.metric)").inserted {
                let text = "warning: " + metric.message
                if isTerminal { FileHandle.standardOutput.write(Data(("\r\u{1B}[2K" + text + "\n").utf8)) } else { print(text); fflush(nil) }
                state.lastLine = ""
            }
            if isTerminal {
                guard line != state.lastLine else { return }
                FileHandle.standardOutput.write(Data(("\r\u{1B}[2K" + line).utf8))
            } else {
                let counts = line.components(separatedBy: " | elapsed").first ?? line
                let previous = state.lastLine.components(separatedBy: " | elapsed").first ?? ""
                guard counts != previous, Date().timeIntervalSince(state.lastPrint) >= 2 || snapshot.isFinished else { return }
                // A file (a SLURM output file, `> run.log`) shows it now, not when the run ends.
                print(line)
                fflush(nil)
                state.lastPrint = Date()
            }
            state.lastLine = line
        }
    }

    /// Ends the live line and prints the summary.
    func finish(_ snapshot: CoordinatorSnapshot) {
        if isTerminal, !quiet { print("\r\u{1B}[2K" + Self.line(snapshot)) }
        let p = snapshot.progress
        let running = p.running > 0 ? ", \(p.running) interrupted" : ""
        print("campaign \(snapshot.isFinished ? "finished" : "stopped"): \(p.completed) completed, \(p.failed) failed, \(p.cancelled) cancelled\(p.pruned > 0 ? ", \(p.pruned) pruned" : "")\(running), \(p.pending) not run, of \(p.total)")
        if let reason = snapshot.stoppedReason {
            print("stopped by the circuit breaker: \(reason)")
            print("fix the cause, then run the campaign again: it continues where it stopped (intern failures lists what failed)")
        }
        if let best = snapshot.best {
            print("best: trial \(best.id)  objective \(Format.value(best.objective))  \(Format.parameters(best.parameters))")
        }
        if let validation = snapshot.validation { print("validation: " + validation.summary) }
        // Those not said while it ran (a quiet run, or a campaign faster than the display).
        let unsaid = state.withLock { state in snapshot.missingMetrics.filter { state.warned.insert("\($0.stageIndex) \($0.metric)").inserted } }
        for metric in unsaid { print("warning: " + metric.message) }
        if snapshot.isFinished, snapshot.objectiveNeverReported {
            print("no trial reported the objective: intern cannot tell which trial is best (exit status \(ExitCodes.objectiveNeverReported)); check the metric's name against `intern metrics TRIAL`")
        }
    }

    static func line(_ s: CoordinatorSnapshot) -> String {
        let p = s.progress
        let elapsed = Double(unixMillisNow() - s.startedAt) / 1000
        var eta = "-"
        if p.done > 0, p.done < p.total {
            eta = Format.duration(seconds: elapsed / Double(p.done) * Double(p.total - p.done))
        }
        let best = s.best.map { "best \(Format.value($0.objective)) (trial \($0.id))" } ?? "best -"
        let missing = s.missingMetrics.isEmpty ? "" : " | never reported: " + s.missingMetrics.map(\.metric).joined(separator: ", ")
        // [ended/total], then what the ended ones came to.
        let pruned = p.pruned > 0 ? " | pruned \(p.pruned)" : ""
        return "[\(p.done)/\(p.total)] completed \(p.completed)\(pruned) | failed \(p.failed) | running \(p.running) | \(best)\(missing) | workers \(s.workers) | elapsed \(Format.duration(seconds: elapsed)) | eta \(eta)"
    }
}
