import Foundation
import Testing

/// The shell scripts under `deploy/`: valid bash, and the SLURM pilot's stop timing adds up.
@Suite("Shell scripts and SLURM")
struct ShellScriptTests {
    @Test func thereAreScriptsToCheck() {
        let scripts = DeployFiles.shellScripts
        #expect(scripts.contains("slurm/intern-pilot.sbatch"))
        #expect(scripts.contains("slurm/test-cluster.sh"))
    }

    @Test(arguments: DeployFiles.shellScripts)
    func scriptParsesWithBash(_ path: String) throws {
        let result = try DeployFiles.run("/bin/bash", ["-n", DeployFiles.deploy.appendingPathComponent(path).path])
        #expect(result.status == 0, "bash -n \(path): \(result.stderr)")
        let text = try DeployFiles.text(path)
        #expect(text.hasPrefix("#!/bin/bash\n"), "\(path) does not start with #!/bin/bash")
    }

    /// The `#SBATCH --signal=[B:]SIG@SECONDS` directive of a script, split up.
    static func signalDirective(_ text: String) -> (batchOnly: Bool, signal: String, lead: Int)? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("#SBATCH --signal=") }) else { return nil }
        var value = line.dropFirst("#SBATCH --signal=".count)
        let batchOnly = value.hasPrefix("B:")
        if batchOnly { value = value.dropFirst(2) }
        let parts = value.split(separator: "@")
        guard parts.count == 2, let lead = Int(parts[1].trimmingCharacters(in: .whitespaces)) else { return nil }
        return (batchOnly, String(parts[0]), lead)
    }

    /// The default of `${NAME:-DEFAULT}` in a script.
    static func defaultValue(_ name: String, in text: String) -> Int? {
        guard let range = text.range(of: "${\(name):-") else { return nil }
        let rest = text[range.upperBound...]
        return rest.firstIndex(of: "}").flatMap { Int(rest[..<$0]) }
    }

    @Test(arguments: DeployFiles.files(in: "slurm", suffix: ".sbatch").map(\.lastPathComponent))
    func sbatchScriptWarnsItsWorkersInTime(_ name: String) throws {
        let text = try DeployFiles.text("slurm/\(name)")
        #expect(text.hasPrefix("#!/bin/bash\n"))
        let signal = try #require(Self.signalDirective(text), "\(name) has no #SBATCH --signal=[B:]SIG@SECONDS line")
        if signal.batchOnly {
            // Sent to the batch shell only: it must trap it and pass SIGTERM on to the workers.
            #expect(text.contains("trap ") && text.contains(" \(signal.signal)\n"), "\(name) does not trap \(signal.signal)")
            #expect(text.contains("kill -TERM"), "\(name) never sends SIGTERM to the workers")
        }
        // The defaults: a worker leaves at most drain + kill grace + 5 s after its SIGTERM, which
        // must come before the time limit, with room for the stop step and the last reports.
        let drain = try #require(Self.defaultValue("INTERN_DRAIN_GRACE", in: text))
        let kill = try #require(Self.defaultValue("INTERN_KILL_GRACE", in: text))
        let lead = try #require(Self.defaultValue("INTERN_SIGNAL_LEAD", in: text))
        #expect(lead == signal.lead, "INTERN_SIGNAL_LEAD's default \(lead) differs from --signal's @\(signal.lead)")
        #expect(drain + kill + 25 <= signal.lead, "drain \(drain) + kill \(kill) + 25 s does not fit in @\(signal.lead)")
        #expect(text.contains("srun "), "\(name) starts no workers with srun")
        #expect(text.contains(" worker --connect"), "\(name) does not run intern worker")
        #expect(text.contains(" coordinator "), "\(name) cannot start a coordinator")
    }
}
