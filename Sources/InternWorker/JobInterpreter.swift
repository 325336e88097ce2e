import Foundation
import InternJob

/// Which Python interpreter a job really runs, found from its command and its own environment, so
/// that provenance records that interpreter's version and packages (a venv's, a conda env's), not
/// those of whatever `python3` comes first on the worker's PATH.
///
/// - `python`, `python3`, `python3.11` (bare, found on the job's PATH, or a path, relative to the
///   job's working directory): that interpreter, as named (a venv's `bin/python` is a symlink to
///   the system's; resolving it would lose the venv). `python -m torch.distributed.run` included.
/// - A script with a `#!` line naming a Python (`accelerate`, `torchrun`, `deepspeed`: console
///   scripts that run the job with their own interpreter), also through `#!/usr/bin/env python3`.
/// - `env [-i] [NAME=VALUE...] PROGRAM ...`: PROGRAM, as above.
/// - `conda run -p PREFIX ...` / `conda run -n NAME ...` (also `mamba`, `micromamba`): that
///   environment's `bin/python` (`-n` under the `envs` folder of the conda found on the PATH).
///   Other environment launchers (`uv run`, `poetry run`, `pipenv run`, `pdm run`, `hatch run`,
///   `pixi run`, `pipx run`, and conda without `-p`/`-n`) choose their environment themselves: `nil`,
///   never the launcher's own interpreter.
///
/// `nil` for anything else (a shell script, `sh -c`, a binary): the caller falls back to `python3`
/// on the job's PATH.
enum JobInterpreter {
    /// Whether a program's name is a Python interpreter's: `python`, `python3`, `python3.11`.
    static func isPython(_ name: String) -> Bool {
        guard name.hasPrefix("python") else { return false }
        let version = name.dropFirst("python".count)
        return version.allSatisfy { $0.isNumber || $0 == "." } && !version.hasPrefix(".")
    }

    /// Programs that run a command in an environment of their choosing.
    static let launchers: Set<String> = ["conda", "mamba", "micromamba", "uv", "poetry", "pipenv", "pdm", "hatch", "pixi", "pipx", "rye"]

    /// The words of `argv` that decide its interpreter: `env` and its assignments skipped, the
    /// program, and for a launcher its words up to the program it runs. Two commands with the same
    /// deciding words (and PATH and working directory) run the same interpreter.
    static func decidingWords(_ argv: [String]) -> ArraySlice<String> {
        var words = argv[...]
        while let first = words.first, (first as NSString).lastPathComponent == "env" {
            words = words.dropFirst()
            while let word = words.first, word.hasPrefix("-") || word.contains("=") { words = words.dropFirst() }
        }
        guard let program = words.first, launchers.contains((program as NSString).lastPathComponent) else { return words.prefix(1) }
        // Up to the first word after `run` that is not an option or an option's value.
        var end = words.startIndex + 1
        var afterRun = false
        var takesValue = false
        while end < words.endIndex {
            let word = words[end]
            end += 1
            if !afterRun { afterRun = word == "run"; continue }
            if takesValue { takesValue = false; continue }
            if word.hasPrefix("-") {
                takesValue = ["-n", "--name", "-p", "--prefix", "-e", "--environment"].contains(word)
                continue
            }
            break
        }
        return words[words.startIndex..<end]
    }

    /// The interpreter `argv` runs in `workdir` with `path` as its PATH, or nil.
    static func resolve(argv: [String], workdir: String, path: String, readHead: (String) -> [UInt8]? = readHead) -> String? {
        let words = decidingWords(argv)
        guard let program = words.first, !program.isEmpty, let located = locate(program, workdir: workdir, path: path) else { return nil }
        let name = (program as NSString).lastPathComponent
        if isPython(name) { return located }
        if launchers.contains(name) { return condaEnvironment(words, conda: located) }
        guard let head = readHead(located), let (interpreter, argument) = shebang(head) else { return nil }
        if (interpreter as NSString).lastPathComponent == "env" {
            guard let argument, isPython(argument) else { return nil }
            return locate(argument, workdir: workdir, path: path)
        }
        return isPython((interpreter as NSString).lastPathComponent) ? interpreter : nil
    }

    /// `conda run -p PREFIX` / `-n NAME` (mamba, micromamba alike): the environment's python.
    private static func condaEnvironment(_ words: ArraySlice<String>, conda: String) -> String? {
        guard let launcher = words.first, ["conda", "mamba", "micromamba"].contains((launcher as NSString).lastPathComponent) else { return nil }
        var prefix: String?
        var iterator = words.makeIterator()
        while let word = iterator.next() {
            if word == "-p" || word == "--prefix" { prefix = iterator.next() }
            if word == "-n" || word == "--name", let name = iterator.next() {
                // CONDA_ROOT/bin/conda -> CONDA_ROOT/envs/NAME.
                let root = ((conda as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
                prefix = "\(root)/envs/\(name)"
            }
        }
        guard let prefix else { return nil }
        let python = "\(prefix)/bin/python"
        return FileManager.default.isExecutableFile(atPath: python) ? python : nil
    }

    /// `#!INTERPRETER [ARGUMENT]` from a file's first bytes (options of `env -S` skipped).
    static func shebang(_ head: [UInt8]) -> (String, String?)? {
        guard head.count > 2, head[0] == UInt8(ascii: "#"), head[1] == UInt8(ascii: "!") else { return nil }
        let line = head.dropFirst(2).prefix { $0 != 0x0A && $0 != 0x0D }
        let words = String(decoding: line, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let interpreter = words.first else { return nil }
        return (interpreter, words.dropFirst().first { !$0.hasPrefix("-") })
    }

    /// A program as the job's exec finds it (InternJob's own search).
    static func locate(_ program: String, workdir: String, path: String) -> String? {
        locateExecutable(program, path: path, workingDirectory: workdir)
    }

    /// The first 256 bytes of a regular file, or nil.
    static func readHead(_ path: String) -> [UInt8]? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 256)).map { Array($0) }
    }
}
