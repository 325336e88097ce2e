import ArgumentParser
import Foundation
import InternWorker
import InternCore
import InternSpec
import InternStore

/// A campaign spec file as loaded from disk: the parsed spec and the text it came from.
struct CampaignFile {
    var path: String
    var yaml: String
    var spec: CampaignSpec

    /// Loads and validates a spec; a bad file is a usage error that says file, line and key.
    static func load(_ path: String) throws -> CampaignFile {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        guard let data = FileManager.default.contents(atPath: absolute) else {
            throw ValidationError("cannot read the campaign file \(path)")
        }
        return try parse(yaml: String(decoding: data, as: UTF8.self), path: absolute)
    }

    /// Parses a spec's text as if read from `path` (relative paths in it are relative to the
    /// file's directory): what `load` does, and what `intern resume` does with the stored copy.
    /// `mapItems`: a map stage's items as the store keeps them (not resolved again).
    static func parse(yaml: String, path: String, mapItems: [String]? = nil) throws -> CampaignFile {
        do {
            let spec = try CampaignSpecParser.parse(
                yaml: yaml, file: path, baseDirectory: (path as NSString).deletingLastPathComponent, mapItems: mapItems)
            return CampaignFile(path: path, yaml: yaml, spec: spec)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The spec a campaign was started with, as its store keeps it (text and map items).
    static func parse(stored info: CampaignInfo) throws -> CampaignFile {
        try parse(yaml: info.specYAML, path: info.specPath, mapItems: info.mapItems)
    }

    /// The campaign directory under `root`.
    func directory(root: String) -> String {
        (root as NSString).appendingPathComponent(spec.name)
    }
}

/// The default coordinator URL of a campaign directory: an ipc socket inside it when the path
/// fits the 107-byte limit of a Unix socket path, else one named after the directory in this
/// user's private socket directory (made 0700 and checked; ``privateSocketDirectory()``).
func defaultIPCURL(directory: String) throws -> String {
    let absolute = URL(fileURLWithPath: directory).standardizedFileURL.path
    let inside = absolute + "/coordinator.sock"
    if inside.utf8.count < 100 { return "ipc://" + inside }
    // Too long for a socket address (108 bytes): a name in a directory of this user's own, never
    // one another user could have taken first (in /tmp itself, they could listen there and a
    // local worker would connect to them).
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in absolute.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    let private_ = privateSocketDirectory()
    do {
        try PrivateDirectory.prepare(
            private_, what: "the directory of intern's ipc sockets",
            remedy: "remove it, or run the campaign from a shorter path, or give --listen")
    } catch {
        throw ValidationError(error.description)
    }
    return "ipc://\(private_)/\(String(hash, radix: 16)).sock"
}

/// `$XDG_RUNTIME_DIR/intern` when the session has one of its own (systemd's per-user runtime
/// directory, 0700), else `/tmp/intern-UID`.
func privateSocketDirectory() -> String {
    if let runtime = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
        var info = stat()
        if stat(runtime, &info) == 0, info.st_uid == geteuid(), info.st_mode & 0o077 == 0 { return runtime + "/intern" }
    }
    return "/tmp/intern-\(geteuid())"
}
