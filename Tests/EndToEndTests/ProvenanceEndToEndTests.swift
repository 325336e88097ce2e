import Foundation
import InternStore
import InternTestKit
import Testing

/// Every attempt records what ran: the git state of its working directory, its interpreter and
/// packages, its host; `intern diff` says what differs between two attempts.
@Suite(.serialized) struct ProvenanceEndToEndTests {
    static func git(_ arguments: [String], in directory: String) async throws {
        let result = try await ProcessRunner.run(["/usr/bin/git", "-C", directory] + arguments, timeout: .seconds(30))
        #expect(result.status == 0, "git \(arguments): \(result.stderr)")
    }

    @Test func aCleanAndADirtyCheckoutAreRecordedAndDiffed() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let repo = dir.file("repo")
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        _ = try dir.write("repo/train.sh", "sleep $1\n")
        try await Self.git(["init", "-q", "-b", "main"], in: repo)
        try await Self.git(["-c", "user.email=t@example.com", "-c", "user.name=t", "add", "train.sh"], in: repo)
        try await Self.git(["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "first"], in: repo)
        // Trial 1 sleeps 3 s; meanwhile the script is edited; trial 2 starts from a dirty checkout.
        let spec = try dir.write("repo/c.yaml", """
            name: prov
            command: [/bin/sh, train.sh, "{x}"]
            space: {x: {type: choice, values: [3, 0]}}
            sampler: grid
            parallel: 1
            """)
        let run = try InternBinary.start(["run", spec, "--workers", "1", "--quiet", "--root", dir.file(".intern")], in: repo)
        let store = try await waitForStore(dir.file(".intern/prov"))
        try await eventually("trial 1's provenance is stored", timeout: .seconds(30)) {
            try !store.provenance().isEmpty
        }
        _ = try dir.write("repo/train.sh", "sleep $1\necho edited\n")
        let result = try await run.finish(timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let attempts = try store.attempts()
        let provenance = try store.provenance()
        let first = try #require(provenance[attempts[0].id]), second = try #require(provenance[attempts[1].id])
        #expect(first["git.branch"] == "main" && first["git.dirty"] == "false" && first["git.commit"]?.count == 40, "\(first)")
        #expect(second["git.dirty"] == "true" && second["git.commit"] == first["git.commit"], "\(second)")
        let digest = try #require(second["git.diff"])
        let blob = try #require(try store.provenanceBlob(digest))
        let diff = String(decoding: blob, as: UTF8.self)
        #expect(diff.contains("+echo edited"), "\(diff)")
        #expect(first["hostname"] == ProcessInfo.processInfo.hostName)
        #expect(attempts[1].environment["INTERN_PARAM_X"] == "0")
        let shown = try await InternBinary.run(["diff", "1", "2", "--dir", dir.file(".intern/prov")], in: repo)
        #expect(shown.stdout.contains("parameters\n  x: 3 → 0\n"), "\(shown.stdout)")
        #expect(shown.stdout.contains("code\n  git.dirty: false → true\n  uncommitted changes: (clean) → train.sh\n"), "\(shown.stdout)")
        let json = try await InternBinary.run(["trials", "--json", "--dir", dir.file(".intern/prov")], in: repo)
        #expect(json.stdout.contains("\"git.dirty\" : \"true\""), "\(json.stdout)")
    }

    @Test func twoWorkersWithDifferentPackagesShowInTheDiff() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        // Each worker finds its own `python3` first on its PATH: the same interpreter, other torch.
        for (name, torch) in [("a", "2.1.0"), ("b", "2.2.0")] {
            let shim = try dir.write("\(name)/python3", "#!/bin/sh\nprintf '3.11.2\\nnumpy==1.26.0\\ntorch==\(torch)\\n'\n")
            chmod(shim, 0o755)
        }
        // Each trial waits (10 s at most) until the other has started: with one slot each, the
        // two trials run on the two workers, however late the second one joins.
        let spec = try dir.write("c.yaml", """
            name: pkgs
            shell: "touch started-{x}; n=0; while [ $(ls started-* | wc -l) -lt 2 ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done"
            space: {x: {type: choice, values: ["1", "1.2"]}}
            sampler: grid
            parallel: 2
            """)
        let url = "ipc://\(dir.file("c.sock"))"
        let coordinator = try InternBinary.start(["coordinator", spec, "--listen", url, "--root", dir.file(".intern")], in: dir.path)
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let a = try InternBinary.start(["worker", "--connect", url, "--id", "wa"], in: dir.path, environment: ["PATH": dir.file("a") + ":" + path])
        let b = try InternBinary.start(["worker", "--connect", url, "--id", "wb"], in: dir.path, environment: ["PATH": dir.file("b") + ":" + path])
        #expect(try await coordinator.finish(timeout: .seconds(60)).status == 0)
        _ = try await a.finish(timeout: .seconds(20))
        _ = try await b.finish(timeout: .seconds(20))
        let store = try CampaignStore(directory: dir.file(".intern/pkgs"), create: false, readOnly: true)
        let workers = try store.attempts().map(\.worker.rawValue)
        try #require(Set(workers).count == 2, "both workers ran a trial: \(workers)")
        let shown = try await InternBinary.run(["diff", "1", "2", "--dir", dir.file(".intern/pkgs")], in: dir.path)
        let torch = workers[0] == "wa" ? "torch: 2.1.0 → 2.2.0" : "torch: 2.2.0 → 2.1.0"
        // (The interpreters' paths differ too: each shim is its own python3.)
        #expect(shown.stdout.contains("packages\n  python: ") && shown.stdout.contains("\n  \(torch)\nhost\n"), "\(shown.stdout)")
        #expect(shown.stdout.contains("x: 1 → 1.2"), "\(shown.stdout)")
        #expect(!shown.stdout.contains("numpy"), "equal packages are not listed: \(shown.stdout)")
    }

    /// Makes a real virtual environment (`python3 -m venv --without-pip`) holding a distribution
    /// `transformers` of this version (its metadata only), and returns its bin directory.
    static func venv(_ dir: TemporaryDirectory, _ name: String, transformers: String) async throws -> String {
        let made = try await ProcessRunner.run(["/usr/bin/python3", "-m", "venv", "--without-pip", dir.file(name)], timeout: .seconds(60))
        try #require(made.status == 0, "python3 -m venv: \(made.stderr)")
        let site = try await ProcessRunner.run(
            [dir.file("\(name)/bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], timeout: .seconds(30))
        let info = site.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + "/transformers-\(transformers).dist-info"
        try FileManager.default.createDirectory(atPath: info, withIntermediateDirectories: true)
        try "Metadata-Version: 2.1\nName: transformers\nVersion: \(transformers)\n".write(toFile: info + "/METADATA", atomically: true, encoding: .utf8)
        return dir.file("\(name)/bin")
    }

    @Test func eachAttemptRecordsTheInterpreterItsCommandRuns_aVenvsOrAConsoleScripts() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let old = try await Self.venv(dir, "old", transformers: "4.57.6")
        let new = try await Self.venv(dir, "new", transformers: "5.25.0")
        // A console script, as pip writes `accelerate` or `torchrun`: its first line is the venv's python.
        _ = try dir.write("new/bin/launch", "#!\(new)/python\nimport runpy, sys\nrunpy.run_path(sys.argv[1], run_name='__main__')\n")
        chmod("\(new)/launch", 0o755)
        _ = try dir.write("job.py", "print('ok')\n")

        let spec = try dir.write("v.yaml", """
            name: venvs
            command: ["{program}", job.py]
            space: {program: {type: choice, values: ["\(old)/python", "\(new)/python", "\(new)/launch"]}}
            sampler: grid
            """)
        // The worker's own PATH finds /usr/bin/python3 first: not what the jobs run.
        let run = try await InternBinary.run(["run", spec, "--workers", "1", "--quiet"], in: dir.path, timeout: .seconds(60))
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let campaign = dir.file(".intern/venvs")
        let store = try CampaignStore(directory: campaign, create: false, readOnly: true)
        let pythons = try store.provenance().mapValues { $0["python"] ?? "-" }
        #expect(pythons[1]?.hasSuffix("(\(old)/python)") == true, "\(pythons)")
        #expect(pythons[2]?.hasSuffix("(\(new)/python)") == true, "\(pythons)")
        #expect(pythons[3]?.hasSuffix("(\(new)/python)") == true, "\(pythons)")
        // An API change shows which version ran: the diff names it.
        let shown = try await InternBinary.run(["diff", "1", "2", "--dir", campaign], in: dir.path)
        #expect(shown.stdout.contains("transformers: 4.57.6 → 5.25.0"), "\(shown.stdout)")
        let same = try await InternBinary.run(["diff", "2", "3", "--dir", campaign], in: dir.path)
        #expect(!same.stdout.contains("transformers"), "\(same.stdout)")
    }
}
