import Foundation
#if canImport(Glibc)
import Glibc
#endif
import InternCore
import Yams

/// Reads a campaign spec from YAML (see docs/campaign.md for the format).
///
/// Every problem is reported as a ``SpecError`` with the file, line and column of the offending node,
/// its key path, what is wrong and what would be valid.
public struct CampaignSpecParser {
    /// The top-level keys of a spec, in documentation order.
    public static let topLevelKeys = [
        "name", "command", "shell", "workdir", "env", "space", "sampler", "trials", "parallel", "gpus",
        "cpus", "memory", "objective", "objectives", "constraints", "pruning", "outputs", "budget", "timeout", "retries", "retry",
        "failures", "metrics", "agent", "validate", "baseline", "map", "totals", "stages",
    ]

    /// The keys of one of `stages:`, in documentation order.
    public static let stageKeys = [
        "name", "from", "command", "shell", "space", "sampler", "trials", "objective", "objectives", "constraints", "pruning",
        "outputs", "timeout", "gpus", "cpus", "memory", "validate", "baseline", "map", "reduce",
    ]

    /// The keys that, in a pipeline, belong in a stage and not at the top level.
    public static let stageOnlyKeys = [
        "command", "shell", "space", "sampler", "trials", "objective", "objectives", "constraints", "pruning", "outputs",
        "validate", "baseline", "map",
    ]

    /// The keys of the `retry:` mapping, in documentation order.
    public static let retryKeys = [
        "oom", "timeout", "diverged", "infra", "lost", "preempted", "user", "per_trial", "campaign", "backoff",
    ]

    /// The keys of the `failures:` mapping, in documentation order.
    public static let failuresKeys = ["infra_patterns", "user_patterns", "circuit_breaker", "quarantine_after"]

    /// Parses a spec from YAML text.
    /// - Parameters:
    ///   - yaml: the spec's text.
    ///   - file: the file name used in error messages.
    ///   - baseDirectory: the directory a relative `workdir` is resolved against, and the default `workdir`
    ///     (the spec file's directory); a relative one is first resolved against the current directory.
    /// - Throws: ``SpecError`` for the first problem found, syntax and structure first, then the
    ///   validation of the whole spec (reported at the earliest position in the file).
    /// `mapItems`: a map stage's items as the campaign's store keeps them (``ItemMap``); given,
    /// `map.over` is not resolved again.
    public static func parse(yaml: String, file: String, baseDirectory: String, mapItems: [String]? = nil) throws(SpecError) -> CampaignSpec {
        var reader = SpecReader(file: file, yaml: yaml, baseDirectory: absolute(baseDirectory))
        reader.storedItems = mapItems
        return try reader.read()
    }

    /// The paths matching a glob (`*`, `?`, `[...]` as in the shell), relative to `directory`
    /// unless absolute: absolute, normalised, sorted; only files, never directories.
    public static func glob(_ pattern: String, relativeTo directory: String) -> [String] {
        let full = pattern.hasPrefix("/") ? pattern : directory + "/" + pattern
        var matches = glob_t()
        defer { globfree(&matches) }
        guard Glibc.glob(full, GLOB_MARK, nil, &matches) == 0 else { return [] }
        var paths: [String] = []
        for index in 0..<Int(matches.gl_pathc) {
            guard let pointer = matches.gl_pathv[index] else { continue }
            let path = String(cString: pointer)
            if !path.hasSuffix("/") { paths.append(normalize(path)) }
        }
        return paths.sorted()
    }

    /// Reads and parses the spec file at `path`; a relative `workdir` is resolved against the file's directory.
    /// - Throws: ``SpecError`` (``SpecError/Code/io`` if the file cannot be read).
    public static func load(path: String) throws(SpecError) -> CampaignSpec {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SpecError(code: .io, file: path, line: 0, column: 0, keyPath: "",
                            message: "cannot read the spec file: \(error.localizedDescription)")
        }
        let full = absolute(path)
        let directory = full.split(separator: "/", omittingEmptySubsequences: true).dropLast()
        return try parse(yaml: text, file: path, baseDirectory: "/" + directory.joined(separator: "/"))
    }

    /// Seconds in a duration: a plain number of seconds (`90`, `1.5`) or a sum of numbers with units
    /// `d`, `h`, `m`, `s`, `ms` (`90s`, `10m`, `2h`, `1h30m`, `1.5h`). `nil` if `text` is not one.
    public static func parseDuration(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(trimmed), trimmed.first?.isNumber == true || trimmed.first == "." {
            return seconds
        }
        let characters = Array(trimmed)
        guard !characters.isEmpty else { return nil }
        var total = 0.0
        var i = 0
        while i < characters.count {
            if characters[i] == " " {
                i += 1
                continue
            }
            var number = ""
            while i < characters.count, characters[i].isASCII, characters[i].isNumber || characters[i] == "." {
                number.append(characters[i])
                i += 1
            }
            var unit = ""
            while i < characters.count, characters[i].isASCII, characters[i].isLetter {
                unit.append(characters[i])
                i += 1
            }
            guard let value = Double(number) else { return nil }
            let scale: Double
            switch unit {
            case "d": scale = 86_400
            case "h": scale = 3_600
            case "m": scale = 60
            case "s": scale = 1
            case "ms": scale = 0.001
            default: return nil
            }
            total += value * scale
        }
        return total
    }

    /// Splits a command line into argv words without a shell: whitespace separates words; `'...'` is
    /// literal; `"..."` is literal except `\"` and `\\`; outside quotes `\` makes the next character literal.
    /// Returns the words, or a description of what is wrong (an unterminated quote).
    static func splitWords(_ line: String) -> Result<[String], WordSplitError> {
        var words: [String] = []
        var word = ""
        var inWord = false
        var iterator = Array(line).makeIterator()
        while let character = iterator.next() {
            switch character {
            case "'":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "'" { closed = true; break }
                    word.append(next)
                }
                if !closed { return .failure(WordSplitError(message: "unterminated single quote in '\(line)'")) }
            case "\"":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "\"" { closed = true; break }
                    if next == "\\" {
                        guard let escaped = iterator.next() else { break }
                        if escaped != "\"" && escaped != "\\" { word.append("\\") }
                        word.append(escaped)
                    } else {
                        word.append(next)
                    }
                }
                if !closed { return .failure(WordSplitError(message: "unterminated double quote in '\(line)'")) }
            case "\\":
                inWord = true
                guard let next = iterator.next() else {
                    return .failure(WordSplitError(message: "a trailing backslash in '\(line)' escapes nothing"))
                }
                word.append(next)
            case let space where space.isWhitespace:
                if inWord {
                    words.append(word)
                    word = ""
                    inWord = false
                }
            default:
                inWord = true
                word.append(character)
            }
        }
        if inWord { words.append(word) }
        return .success(words)
    }

    struct WordSplitError: Error {
        var message: String
    }

    static func absolute(_ path: String) -> String {
        normalize(path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path)
    }

    /// Removes `.`, `..` and empty components of an absolute path (purely textually; no symlinks).
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            if component == "." { continue }
            if component == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(component)
        }
        return "/" + parts.joined(separator: "/")
    }
}
