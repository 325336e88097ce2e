import ArgumentParser
import Foundation
import InternCore
import InternLab
import InternStore

/// The roots the lab indexes besides `--root`: `--also-root` (repeatable) and `$INTERN_LAB_ROOTS`
/// (colon-separated). The lab itself lives under the first root (docs/lab.md).
struct LabRoots: ParsableArguments {
    @Option(name: .customLong("also-root"), help: "Another root of campaigns for the lab to index (repeatable; also $INTERN_LAB_ROOTS, colon-separated).")
    var alsoRoots: [String] = []

    /// `primary` first, then the others, each once.
    func roots(primary: String) -> [String] {
        Lab.roots(primary: primary, also: alsoRoots)
    }

    /// The lab of these roots, brought up to date (see ``Lab/refresh(now:rebuild:)``); a lab that
    /// cannot be used fails the command with exit status 1.
    func open(primary: String, rebuild: Bool = false) throws -> Lab {
        do {
            let lab = try Lab(roots: roots(primary: primary))
            let summary = try lab.refresh(now: unixMillisNow(), rebuild: rebuild)
            for problem in summary.unreadable { FileHandle.standardError.write(Data("intern: the lab skipped \(problem)\n".utf8)) }
            return lab
        } catch {
            throw CampaignDatabaseError(message: error.message)
        }
    }
}
