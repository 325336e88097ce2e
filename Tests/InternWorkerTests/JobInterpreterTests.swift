import Foundation
import InternTestKit
@testable import InternWorker
import Testing

/// The interpreter a job really runs, for its provenance: a venv's python, the one `accelerate`'s
/// or `torchrun`'s first line names, through `env`, a relative path, the job's own PATH.
@Suite struct JobInterpreterTests {
    /// A venv-like directory: `bin/python` (a link to the system's) and a console script.
    static func venv(_ dir: TemporaryDirectory, _ name: String) throws -> String {
        let bin = dir.file("\(name)/bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(bin)/python", withDestinationPath: "/usr/bin/python3")
        try FileManager.default.createSymbolicLink(atPath: "\(bin)/python3", withDestinationPath: "python")
        let script = "#!\(bin)/python\n# -*- coding: utf-8 -*-\nimport sys\nfrom accelerate.commands.accelerate_cli import main\n"
        _ = try dir.write("\(name)/bin/accelerate", script)
        chmod("\(bin)/accelerate", 0o755)
        _ = try dir.write("\(name)/bin/torchrun", "#!/usr/bin/env python3\nimport sys\n")
        chmod("\(bin)/torchrun", 0o755)
        _ = try dir.write("\(name)/bin/train.sh", "#!/bin/sh\nexec python3 train.py\n")
        chmod("\(bin)/train.sh", 0o755)
        return bin
    }

    @Test func namesThatArePythons() {
        for name in ["python", "python3", "python3.11", "python3.13"] { #expect(JobInterpreter.isPython(name), "\(name)") }
        for name in ["pythonic", "python3-config", "ipython", "python.3", "bash", ""] { #expect(!JobInterpreter.isPython(name), "\(name)") }
    }

    @Test func shebangLines() {
        #expect(JobInterpreter.shebang(Array("#!/opt/venv/bin/python3\nimport x".utf8))! == ("/opt/venv/bin/python3", nil))
        #expect(JobInterpreter.shebang(Array("#!/usr/bin/env python3\n".utf8))! == ("/usr/bin/env", "python3"))
        #expect(JobInterpreter.shebang(Array("#!/usr/bin/env -S python3 -u\r\n".utf8))! == ("/usr/bin/env", "python3"))
        #expect(JobInterpreter.shebang(Array("import sys".utf8)) == nil)
    }

    @Test func theCommandsInterpreterIsFound_notTheFirstPython3OnTheWorkersPath() throws {
        let dir = try TemporaryDirectory(prefix: "intern-interp")
        defer { dir.remove() }
        let a = try Self.venv(dir, "a")
        let b = try Self.venv(dir, "b")
        let path = "\(b):/usr/bin:/bin"
        func resolve(_ argv: [String], workdir: String = dir.path, path: String = path) -> String? {
            JobInterpreter.resolve(argv: argv, workdir: workdir, path: path)
        }
        // A venv's python, named by path (absolute or relative to the workdir): kept as named.
        #expect(resolve(["\(a)/python", "train.py"]) == "\(a)/python")
        #expect(resolve(["a/bin/python", "-m", "torch.distributed.run", "train.py"]) == dir.file("a/bin/python"))
        // `python` on the job's PATH.
        #expect(resolve(["python3", "train.py"]) == "\(b)/python3")
        #expect(resolve(["python", "train.py"], path: "\(a):/usr/bin") == "\(a)/python")
        // Console scripts: their first line.
        #expect(resolve(["\(a)/accelerate", "launch", "train.py"]) == "\(a)/python")
        #expect(resolve(["accelerate", "launch", "train.py"]) == "\(b)/python")
        #expect(resolve(["torchrun", "--nproc-per-node", "2", "train.py"]) == "\(b)/python3")
        // `env` in front.
        #expect(resolve(["env", "-i", "OMP_NUM_THREADS=1", "\(a)/python", "x.py"]) == "\(a)/python")
        // Not a Python: the caller falls back.
        #expect(resolve(["\(a)/train.sh"]) == nil)
        #expect(resolve(["/bin/sh", "-c", "python3 train.py"]) == nil)
        #expect(resolve(["missing-program"]) == nil)
        #expect(resolve([]) == nil)
    }

    @Test func environmentLaunchers_areFollowedOrLeftToTheFallback_neverTheirOwnInterpreter() throws {
        let dir = try TemporaryDirectory(prefix: "intern-interp")
        defer { dir.remove() }
        // A conda install: CONDA/bin/conda (a console script of the base python), CONDA/envs/train.
        let base = try Self.venv(dir, "conda")
        _ = try dir.write("conda/bin/conda", "#!\(base)/python\nimport sys\n")
        chmod("\(base)/conda", 0o755)
        let train = try Self.venv(dir, "conda/envs/train")
        for launcher in ["uv", "poetry", "pipenv"] {
            _ = try dir.write("conda/bin/\(launcher)", "#!\(base)/python\nimport sys\n")
            chmod("\(base)/\(launcher)", 0o755)
        }
        let path = "\(base):/usr/bin:/bin"
        func resolve(_ argv: [String]) -> String? { JobInterpreter.resolve(argv: argv, workdir: dir.path, path: path) }
        #expect(resolve(["conda", "run", "-n", "train", "python", "train.py"]) == "\(train)/python")
        #expect(resolve(["conda", "run", "--prefix", dir.file("conda/envs/train"), "python", "x.py"]) == "\(train)/python")
        #expect(resolve(["conda", "run", "-n", "missing", "python"]) == nil)
        #expect(resolve(["conda", "run", "python", "x.py"]) == nil)  // the active env: unknown here
        for launcher in ["uv", "poetry", "pipenv"] {
            #expect(resolve([launcher, "run", "python", "train.py"]) == nil, "\(launcher)")
        }
    }

    @Test func theWordsThatDecide_leaveOutTheParameters() {
        #expect(JobInterpreter.decidingWords([".venv/bin/python", "train.py", "--lr", "0.1"]) == [".venv/bin/python"])
        #expect(JobInterpreter.decidingWords(["env", "A=1", "B=2", "C=3", "/v/bin/python", "x.py"]) == ["/v/bin/python"])
        #expect(JobInterpreter.decidingWords(["conda", "run", "-n", "train", "python", "x.py", "--lr", "1"])
            == ["conda", "run", "-n", "train", "python"])
        #expect(JobInterpreter.decidingWords(["/bin/sh", "-c", "python3 train.py --lr 0.1"]) == ["/bin/sh"])
    }
}
