/// What differs between two attempts (`intern diff`): the first question when one run succeeds
/// and its neighbour fails.
public struct AttemptSnapshot: Sendable, Equatable {
    public var label: String
    public var parameters: [String: String]
    public var argv: [String]
    /// The variables intern set for it.
    public var environment: [String: String]
    /// `git.commit`, `git.branch`, `git.dirty`, `python`, `cuda`, `driver`, `hostname`, ...
    public var provenance: [String: String]
    /// Installed distributions by name (from the stored package list), when captured.
    public var packages: [String: String]?
    /// The files the stored `git diff` touches, when the checkout was dirty.
    public var changedFiles: [String]
    public var worker: String

    public init(
        label: String, parameters: [String: String], argv: [String], environment: [String: String], provenance: [String: String],
        packages: [String: String]?, changedFiles: [String], worker: String
    ) {
        self.label = label
        self.parameters = parameters
        self.argv = argv
        self.environment = environment
        self.provenance = provenance
        self.packages = packages
        self.changedFiles = changedFiles
        self.worker = worker
    }

    /// `name==version` lines (a package list) as a map; other lines are skipped.
    public static func packages(fromList text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: "=", omittingEmptySubsequences: true)
            guard line.contains("=="), parts.count >= 2 else { continue }
            out[String(parts[0]).lowercased()] = String(parts[parts.count - 1])
        }
        return out
    }

    /// The files a unified diff touches (`diff --git a/X b/X`).
    public static func changedFiles(inDiff text: String) -> [String] {
        text.split(whereSeparator: \.isNewline).compactMap { line -> String? in
            let prefix = "diff --git a/"
            guard line.starts(with: prefix) else { return nil }
            let rest = String(line.dropFirst(prefix.count))
            guard let split = rest.firstRange(of: " b/") else { return nil }
            return String(rest[..<split.lowerBound])
        }
    }
}

public enum ProvenanceDiff {
    /// The differences, by section (`parameters`, `code`, `packages`, `environment`, `host`,
    /// `command`), each as `name: A → B` lines; empty when nothing differs.
    public static func compare(_ a: AttemptSnapshot, _ b: AttemptSnapshot) -> [(section: String, lines: [String])] {
        var sections: [(String, [String])] = []
        func changes(_ x: [String: String], _ y: [String: String]) -> [String] {
            Set(x.keys).union(y.keys).sorted().compactMap { key in
                let left = x[key], right = y[key]
                guard left != right else { return nil }
                return "\(key): \(left ?? "(none)") → \(right ?? "(none)")"
            }
        }
        sections.append(("parameters", changes(a.parameters, b.parameters)))
        var code = changes(
            a.provenance.filter { $0.key.hasPrefix("git.") && $0.key != "git.diff" },
            b.provenance.filter { $0.key.hasPrefix("git.") && $0.key != "git.diff" })
        if a.provenance["git.diff"] != b.provenance["git.diff"] {
            func files(_ s: AttemptSnapshot) -> String {
                s.provenance["git.diff"] == nil ? "(clean)" : s.changedFiles.isEmpty ? "(changes)" : s.changedFiles.joined(separator: ", ")
            }
            code.append("uncommitted changes: \(files(a)) → \(files(b))")
        }
        sections.append(("code", code))
        var packages: [String] = []
        if let left = a.packages, let right = b.packages {
            packages = changes(left, right)
        } else if a.provenance["packages"] != b.provenance["packages"] {
            packages = ["package lists differ (\(a.provenance["packages"].map { String($0.prefix(12)) } ?? "none") → \(b.provenance["packages"].map { String($0.prefix(12)) } ?? "none"))"]
        }
        if a.provenance["python"] != b.provenance["python"] {
            packages.insert("python: \(a.provenance["python"] ?? "(none)") → \(b.provenance["python"] ?? "(none)")", at: 0)
        }
        sections.append(("packages", packages))
        // INTERN_TRIAL, INTERN_ATTEMPT... differ between any two attempts: only the others count.
        let perAttempt: Set<String> = ["INTERN_TRIAL", "INTERN_ATTEMPT", "INTERN_ATTEMPT_ID", "INTERN_PARENT_TRIAL"]
        sections.append(("environment", changes(
            a.environment.filter { !perAttempt.contains($0.key) && !$0.key.hasPrefix("INTERN_PARAM_") },
            b.environment.filter { !perAttempt.contains($0.key) && !$0.key.hasPrefix("INTERN_PARAM_") })))
        var host = changes(
            a.provenance.filter { ["hostname", "cuda", "driver"].contains($0.key) },
            b.provenance.filter { ["hostname", "cuda", "driver"].contains($0.key) })
        if a.worker != b.worker { host.append("worker: \(a.worker) → \(b.worker)") }
        sections.append(("host", host))
        if a.argv != b.argv, a.parameters == b.parameters {
            sections.append(("command", ["\(a.argv.joined(separator: " ")) → \(b.argv.joined(separator: " "))"]))
        }
        return sections.filter { !$0.1.isEmpty }
    }
}
