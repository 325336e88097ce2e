import Foundation
import InternJob
import InternAuth
import InternProtocol
import Synchronization
import Zstd

/// What an attempt runs with, captured by the worker right after the job starts (off the dispatch
/// path): the git state of its working directory (commit, branch, dirty, the diff), the Python
/// interpreter and its installed distributions (`name==version`, as `pip freeze` lists them), CUDA and the driver (`nvidia-smi`), the host.
///
/// Cached: the git state per working directory for `gitTTL` (2 s: a burst of short trials shares
/// one capture; an edit is seen by attempts that start 2 s after the previous capture) and while `.git/HEAD` and
/// `.git/index` are unchanged), the interpreter a command runs (``JobInterpreter``: a venv's, one
/// named by `accelerate`'s or `torchrun`'s first line, else `python3` on the job's PATH) and its
/// packages per interpreter for `packagesTTL`, the GPU versions for the worker's life. A blob (diff,
/// package list) is sent once per digest.
final class ProvenanceProbe: Sendable {
    static let gitTTL: Double = 2
    static let packagesTTL: Double = 600
    /// The most bytes of `git diff` kept (the rest is cut, and said so).
    static let maxDiffBytes = 1 << 20

    private struct Cached<Value> {
        var value: Value
        var at: Double
        var stamp: String
        /// The repository's top directory (git; empty: not a checkout).
        var root: String
    }

    private struct State {
        var git: [String: Cached<(fields: [(String, String)], blob: (String, [UInt8])?)>] = [:]
        var packages: [String: Cached<(fields: [(String, String)], blob: (String, [UInt8])?)>] = [:]
        var gpu: [(String, String)]?
        var sent: Set<String> = []
        /// The interpreter a command runs, by ``interpreterKey(argv:path:workdir:)`` (refreshed with
        /// the package list).
        var python: [String: (path: String?, at: Double)] = [:]
    }

    private let state = Mutex(State())
    let hostname = ProcessInfo.processInfo.hostName

    /// The provenance of an attempt that runs `argv` in `workdir` with `environment`: its Python is
    /// the one the command runs (``JobInterpreter``), else `python3` on the job's PATH.
    func capture(attempt: UInt64, argv: [String], workdir: String, environment: [String: String]) -> AttemptProvenance {
        var fields: [(String, String)] = [("hostname", hostname)]
        var blobs: [ProvenanceBlob] = []
        let git = gitState(workdir)
        fields += git.fields
        let packages = packageState(argv: argv, path: environment["PATH"] ?? "/usr/bin:/bin", workdir: workdir)
        fields += packages.fields
        fields += gpuState()
        for (kind, blob) in [("git.diff", git.blob), ("packages", packages.blob)] {
            guard let (digest, raw) = blob else { continue }
            let first = state.withLock { $0.sent.insert(digest).inserted }
            guard first else { continue }
            var compressed: [UInt8] = []
            if let compressor = try? ZstdCompressor(level: 3) {
                try? compressor.compress(raw, into: &compressed)
                try? compressor.finish(into: &compressed)
            }
            blobs.append(ProvenanceBlob(digest: digest, kind: kind, rawLength: UInt64(raw.count), data: compressed))
        }
        return AttemptProvenance(attemptId: attempt, fields: StringPairs(fields), blobs: blobs)
    }

    /// The provenance from the caches alone, when every part is cached and fresh (microseconds);
    /// `nil` when something must be run (then ``capture(attempt:argv:workdir:environment:)``).
    func cachedCapture(attempt: UInt64, argv: [String], workdir: String, environment: [String: String]) -> AttemptProvenance? {
        let now = Date().timeIntervalSince1970
        let key = Self.interpreterKey(argv: argv, path: environment["PATH"] ?? "/usr/bin:/bin", workdir: workdir)
        let fresh = state.withLock { state -> Bool in
            guard state.gpu != nil, let git = state.git[workdir], now - git.at < Self.gitTTL,
                  git.stamp == (git.root.isEmpty ? "" : Self.stamp(git.root)) else { return false }
            guard let found = state.python[key], now - found.at < Self.packagesTTL else { return false }
            guard let python = found.path else { return true }
            return state.packages[python].map { now - $0.at < Self.packagesTTL } ?? false
        }
        return fresh ? capture(attempt: attempt, argv: argv, workdir: workdir, environment: environment) : nil
    }

    /// What decides a job's interpreter: the command's deciding words (its program, a launcher's
    /// words up to the program it runs; not the parameters), the PATH, the directory.
    static func interpreterKey(argv: [String], path: String, workdir: String) -> String {
        (JobInterpreter.decidingWords(argv) + [path, workdir]).joined(separator: "\u{0}")
    }

    /// A blob the coordinator lost track of may be sent again (a new coordinator store).
    func forgetSent() { state.withLock { $0.sent.removeAll() } }

    private func gitState(_ workdir: String) -> (fields: [(String, String)], blob: (String, [UInt8])?) {
        let now = Date().timeIntervalSince1970
        // Checked first, so that a burst of trials in one directory (a checkout or not) costs one
        // capture: the cached root's HEAD and index must be as they were.
        if let cached = state.withLock({ $0.git[workdir] }), now - cached.at < Self.gitTTL,
           cached.stamp == (cached.root.isEmpty ? "" : Self.stamp(cached.root)) { return cached.value }
        guard let root = Self.run(["git", "-C", workdir, "rev-parse", "--show-toplevel"], in: workdir)?.trimmed, !root.isEmpty else {
            state.withLock { $0.git[workdir] = Cached(value: ([], nil), at: now, stamp: "", root: "") }
            return ([], nil)
        }
        let stamp = Self.stamp(root)
        var fields: [(String, String)] = []
        if let commit = Self.run(["git", "-C", workdir, "rev-parse", "HEAD"], in: workdir)?.trimmed, !commit.isEmpty {
            fields.append(("git.commit", commit))
        }
        if let branch = Self.run(["git", "-C", workdir, "rev-parse", "--abbrev-ref", "HEAD"], in: workdir)?.trimmed, !branch.isEmpty {
            fields.append(("git.branch", branch))
        }
        let status = Self.run(["git", "-C", workdir, "status", "--porcelain", "--untracked-files=no"], in: workdir) ?? ""
        let dirty = !status.trimmed.isEmpty
        fields.append(("git.dirty", dirty ? "true" : "false"))
        var blob: (String, [UInt8])?
        if dirty, var diff = Self.run(["git", "-C", workdir, "diff", "HEAD"], in: workdir, limit: Self.maxDiffBytes + 1).map({ Array($0.utf8) }) {
            if diff.count > Self.maxDiffBytes {
                diff = Array(diff.prefix(Self.maxDiffBytes)) + Array("\n[diff cut at \(Self.maxDiffBytes) bytes]\n".utf8)
                fields.append(("git.diff_truncated", "true"))
            }
            let digest = SHA256.hex(diff)
            fields.append(("git.diff", digest))
            blob = (digest, diff)
        }
        let value = (fields, blob)
        state.withLock { $0.git[workdir] = Cached(value: value, at: now, stamp: stamp, root: root) }
        return value
    }

    private func packageState(argv: [String], path: String, workdir: String) -> (fields: [(String, String)], blob: (String, [UInt8])?) {
        let now = Date().timeIntervalSince1970
        let key = Self.interpreterKey(argv: argv, path: path, workdir: workdir)
        let python: String?
        if let found = state.withLock({ $0.python[key] }), now - found.at < Self.packagesTTL {
            python = found.path
        } else {
            python = JobInterpreter.resolve(argv: argv, workdir: workdir, path: path)
                ?? JobInterpreter.locate("python3", workdir: workdir, path: path)
            state.withLock { $0.python[key] = (python, now) }
        }
        guard let python else { return ([], nil) }
        if let cached = state.withLock({ $0.packages[python] }), now - cached.at < Self.packagesTTL { return cached.value }
        var fields: [(String, String)] = []
        var blob: (String, [UInt8])?
        // One interpreter start (tens of ms), not `pip freeze` (a second): the version, then every
        // installed distribution as `name==version`, sorted (so equal sets have equal digests).
        let script = "import sys, importlib.metadata as m; print(sys.version.split()[0]); "
            + "print('\\n'.join(sorted({'%s==%s' % (d.metadata['Name'], d.version) for d in m.distributions() if d.metadata['Name']})))"
        if let output = Self.run([python, "-c", script], in: workdir, timeout: 30) {
            let lines = output.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
            if let version = lines.first, !version.isEmpty { fields.append(("python", "\(version) (\(python))")) }
            if lines.count > 1, !lines[1].isEmpty {
                let bytes = Array(lines[1].utf8)
                let digest = SHA256.hex(bytes)
                fields.append(("packages", digest))
                blob = (digest, bytes)
            }
        }
        let value = (fields, blob)
        state.withLock { $0.packages[python] = Cached(value: value, at: now, stamp: "", root: "") }
        return value
    }

    private func gpuState() -> [(String, String)] {
        if let known = state.withLock({ $0.gpu }) { return known }
        var fields: [(String, String)] = []
        if let smi = JobInterpreter.locate("nvidia-smi", workdir: "/", path: ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") {
            if let driver = Self.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"], in: "/")?.split(separator: "\n").first {
                fields.append(("driver", String(driver).trimmed))
            }
            if let header = Self.run([smi], in: "/"), let range = header.range(of: "CUDA Version: ") {
                let version = header[range.upperBound...].prefix { $0.isNumber || $0 == "." }
                if !version.isEmpty { fields.append(("cuda", String(version))) }
            }
        }
        state.withLock { $0.gpu = fields }
        return fields
    }

    /// When the repository's HEAD or index last changed (a commit, a checkout, `git add`).
    static func stamp(_ root: String) -> String {
        ["HEAD", "index"].map { name -> String in
            var info = stat()
            return stat("\(root)/.git/\(name)", &info) == 0 ? "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)" : "-"
        }.joined(separator: "/")
    }

    /// Runs a short command in `directory` (``ShortCommand``: no shell, its own process group);
    /// its stdout (at most `limit` bytes), or nil when it fails or takes longer than `timeout`.
    static func run(_ argv: [String], in directory: String, timeout: Double = 10, limit: Int = 4 << 20) -> String? {
        guard let result = ShortCommand.runBlocking(
            argv, environment: ProcessInfo.processInfo.environment, in: directory,
            timeout: .milliseconds(Int(timeout * 1000)), limit: limit), result.succeeded
        else { return nil }
        return String(decoding: result.stdout, as: UTF8.self)
    }
}

private extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
