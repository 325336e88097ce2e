import Foundation
import Testing
import Yams

/// The files under `deploy/`, found from this source file (three directories up is the package
/// root), and small readers for the formats they are written in.
enum DeployFiles {
    /// The package root: `Tests/DeployTests/DeployFiles.swift` → `Tests/DeployTests` → `Tests` → root.
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `deploy/` itself.
    static let deploy = root.appendingPathComponent("deploy")

    /// The regular files directly in `deploy/SUBDIR` whose names end with `suffix`, sorted by name.
    static func files(in subdirectory: String, suffix: String) -> [URL] {
        let directory = deploy.appendingPathComponent(subdirectory)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(suffix) }.sorted().map { directory.appendingPathComponent($0) }
    }

    /// Every shell script under `deploy/` (`*.sh`, `*.sbatch`), relative to `deploy/`.
    static var shellScripts: [String] {
        let enumerator = FileManager.default.enumerator(atPath: deploy.path)
        var scripts: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if path.hasSuffix(".sh") || path.hasSuffix(".sbatch") { scripts.append(path) }
        }
        return scripts.sorted()
    }

    /// The text of `deploy/PATH`.
    static func text(_ path: String) throws -> String {
        try String(contentsOf: deploy.appendingPathComponent(path), encoding: .utf8)
    }

    /// Runs a program to its end; its exit status and what it wrote to stderr.
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// One YAML document of a Kubernetes manifest, with the file it came from.
struct Manifest: CustomStringConvertible {
    /// The file's name under `deploy/k8s/`.
    var file: String
    /// The document, as Yams loads it (dictionaries, arrays, strings, numbers).
    var object: [String: Any]

    var kind: String { object["kind"] as? String ?? "" }
    var name: String { (object["metadata"] as? [String: Any])?["name"] as? String ?? "" }
    var description: String { "\(file): \(kind) \(name)" }

    /// The value at a path of keys and array indices (`["spec", "template", "spec"]`).
    func value(_ path: [Any]) -> Any? { Manifest.value(object, path) }

    static func value(_ root: Any, _ path: [Any]) -> Any? {
        var current: Any? = root
        for step in path {
            if let key = step as? String {
                current = (current as? [String: Any])?[key]
            } else if let index = step as? Int, let array = current as? [Any], array.indices.contains(index) {
                current = array[index]
            } else {
                return nil
            }
        }
        return current
    }

    /// Every document of every `deploy/k8s/*.yaml` file.
    static func all() throws -> [Manifest] {
        var manifests: [Manifest] = []
        for url in DeployFiles.files(in: "k8s", suffix: ".yaml") {
            let text = try String(contentsOf: url, encoding: .utf8)
            // Parser, not `load_all`: a document that does not parse is an error here, not a
            // document silently left out.
            do {
                let parser = try Parser(yaml: text)
                while let node = try parser.nextRoot() {
                    guard let object = node.any as? [String: Any] else {
                        Issue.record("\(url.lastPathComponent): a document that is not a mapping")
                        continue
                    }
                    manifests.append(Manifest(file: url.lastPathComponent, object: object))
                }
            } catch {
                Issue.record("\(url.lastPathComponent) does not parse: \(error)")
            }
        }
        return manifests
    }

    /// The one manifest of this kind and name.
    static func find(_ manifests: [Manifest], kind: String, name: String) throws -> Manifest {
        try #require(manifests.first { $0.kind == kind && $0.name == name }, "no \(kind) \(name) in deploy/k8s")
    }
}

/// A systemd unit file: its sections, each a list of (key, value) in order, continuation lines
/// joined.
struct SystemdUnit {
    var sections: [String: [(key: String, value: String)]] = [:]

    init(_ text: String) {
        var section = ""
        var pending = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = String(raw)
            if !pending.isEmpty {
                line = pending + " " + line.trimmingCharacters(in: .whitespaces)
                pending = ""
            }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if trimmed.hasSuffix("\\") {
                pending = String(trimmed.dropLast()).trimmingCharacters(in: .whitespaces)
                continue
            }
            if trimmed.hasPrefix("[") && trimmed.hasSuffix("]") {
                section = String(trimmed.dropFirst().dropLast())
                sections[section, default: []] = sections[section, default: []]
                continue
            }
            guard let equals = trimmed.firstIndex(of: "=") else { continue }
            let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
            let value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[section, default: []].append((key, value))
        }
    }

    /// The last value of `key` in `section` (systemd: a later assignment wins).
    func value(_ section: String, _ key: String) -> String? {
        sections[section]?.last { $0.key == key }?.value
    }

    /// Every value of `key` in `section`, in order.
    func values(_ section: String, _ key: String) -> [String] {
        sections[section]?.filter { $0.key == key }.map(\.value) ?? []
    }
}

/// Parses a number of seconds (`300`, `2min`, `1min 30s`) the way these files write them.
func seconds(_ text: String) -> Double? {
    if let value = Double(text) { return value }
    var total = 0.0
    let scanner = Scanner(string: text)
    while !scanner.isAtEnd {
        guard let number = scanner.scanDouble() else { return nil }
        let unit = scanner.scanCharacters(from: .letters) ?? "s"
        switch unit {
        case "s", "sec": total += number
        case "m", "min": total += number * 60
        case "h": total += number * 3600
        default: return nil
        }
    }
    return total
}
