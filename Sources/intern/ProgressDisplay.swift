import Foundation
import InternCoordinator
import InternCore
import Synchronization

/// The live progress of a campaign: one redrawn line on a terminal, a plain line at most every
/// few seconds (and on every change of the counts) otherwise.
final class ProgressDisplay: Sendable {
    private let total: Int
    private let isTerminal: Bool
    private let quiet: Bool
    private let state = Mutex(State())

    private struct State {
        var lastLine = ""
        var lastPrint: Date = .distantPast
    }

    /// Creates a display for a campaign of `total` trials.
    init(total: Int, quiet: Bool = false) {
        self.total = total
        self.isTerminal = isatty(STDOUT_FILENO) == 1
        self.quiet = quiet
    }

    /// Shows the latest state.
    func update(_ snapshot: CoordinatorSnapshot) {
        guard !quiet else { return }
        let line = Self.line(snapshot)
        state.withLock { state in
            if isTerminal {
                guard line != state.lastLine else { return }
                FileHandle.standardOutput.write(Data(("\r\u{1B}[2K" + line).utf8))
            } else {
                let counts = line.components(separatedBy: " | elapsed").first ?? line
                let previous = state.lastLine.components(separatedBy: " | elapsed").first ?? ""
                guard counts != previous, Date().timeIntervalSince(state.lastPrint) >= 2 || snapshot.isFinished else { return }
                print(line)
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
    }

    static func line(_ s: CoordinatorSnapshot) -> String {
        let p = s.progress
        let elapsed = Double(unixMillisNow() - s.startedAt) / 1000
        var eta = "-"
        if p.done > 0, p.done < p.total {
            eta = Format.duration(seconds: elapsed / Double(p.done) * Double(p.total - p.done))
        }
        let best = s.best.map { "best \(Format.value($0.objective)) (trial \($0.id))" } ?? "best -"
        return "[\(p.done)/\(p.total)] done \(p.completed) | running \(p.running) | failed \(p.failed) | \(best) | workers \(s.workers) | elapsed \(Format.duration(seconds: elapsed)) | eta \(eta)"
    }
}
