import Foundation

/// Which Python interpreter a job really runs, found from its command and its own environment, so
/// that provenance records that interpreter's version and packages (a venv's, a conda env's), not
/// those of whatever `python3` comes first on the worker's PATH.
///
/// - `python`, `python3`, `python3.11` (bare, found on the job's PATH, or a path, relative to the
///   job's working directory): that interpreter, as named (a venv's `bin/python` is a symlink to
///   the system's; resolving it would lose the venv). `python -m torch.distributed.run` included.
/// - A script with a `#!` line naming a Python (`accelerate`, `torchrun`, `deepspeed`: console
///   scripts whose first line is their venv's interpreter), also through `#!/usr/bin/env python3`.
/// - `env [-i] [NAME=VALUE...] PROGRAM ...`: PROGRAM, as above.
///
/// `nil` for anything else (a shell script, a binary): the caller falls back to `python3` on the
/// job's PATH.
enum JobInterpreter {
    /// Whether a program's name is a Python interpreter's: `python`, `python3`, `python3.11`.
    static func isPython(_ name: String) -> Bool {
        guard name.hasPrefix("python") else { return false }
        let version = name.dropFirst("python".count)
        return version.allSatisfy { $0.isNumber || $0 == "." } && !version.hasPrefix(".")
    }

    /// The interpreter `argv` runs in `workdir` with `path` as its PATH, or nil.
    static func resolve(argv: [String], workdir: String, path: String, readHead: (String) -> [UInt8]? = readHead) -> String? {
        var words = argv[...]
        // `env` with options and assignments in front of the program.
        while let first = words.first, (first as NSString).lastPathComponent == "env" {
            words = words.dropFirst()
            while let word = words.first, word.hasPrefix("-") || word.contains("=") { words = words.dropFirst() }
        }
        guard let program = words.first, !program.isEmpty, let located = locate(program, workdir: workdir, path: path) else { return nil }
        if isPython((program as NSString).lastPathComponent) { return located }
        guard let head = readHead(located), let (interpreter, argument) = shebang(head) else { return nil }
        if (interpreter as NSString).lastPathComponent == "env" {
            guard let argument, isPython(argument) else { return nil }
            return locate(argument, workdir: workdir, path: path)
        }
        return isPython((interpreter as NSString).lastPathComponent) ? interpreter : nil
    }

    /// `#!INTERPRETER [ARGUMENT]` from a file's first bytes (options of `env -S` skipped).
    static func shebang(_ head: [UInt8]) -> (String, String?)? {
        guard head.count > 2, head[0] == UInt8(ascii: "#"), head[1] == UInt8(ascii: "!") else { return nil }
        let line = head.dropFirst(2).prefix { $0 != 0x0A && $0 != 0x0D }
        let words = String(decoding: line, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let interpreter = words.first else { return nil }
        return (interpreter, words.dropFirst().first { !$0.hasPrefix("-") })
    }

    /// A program as the job's exec would find it: a path (relative to `workdir`), or the first
    /// executable of that name on `path`.
    static func locate(_ program: String, workdir: String, path: String) -> String? {
        if program.contains("/") {
            let full = program.hasPrefix("/") ? program : (workdir as NSString).appendingPathComponent(program)
            return FileManager.default.isExecutableFile(atPath: full) ? full : nil
        }
        for directory in path.split(separator: ":") {
            let base = directory.hasPrefix("/") ? String(directory) : (workdir as NSString).appendingPathComponent(String(directory))
            let candidate = (base as NSString).appendingPathComponent(program)
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The first 256 bytes of a regular file, or nil.
    static func readHead(_ path: String) -> [UInt8]? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 256)).map { Array($0) }
    }
}
