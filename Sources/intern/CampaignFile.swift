import ArgumentParser
import Foundation
import InternCore
import InternSpec

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
    static func parse(yaml: String, path: String) throws -> CampaignFile {
        do {
            let spec = try CampaignSpecParser.parse(yaml: yaml, file: path, baseDirectory: (path as NSString).deletingLastPathComponent)
            return CampaignFile(path: path, yaml: yaml, spec: spec)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The campaign directory under `root`.
    func directory(root: String) -> String {
        (root as NSString).appendingPathComponent(spec.name)
    }
}

/// The default coordinator URL of a campaign directory: an ipc socket inside it when the path
/// fits the 107-byte limit of a Unix socket path, else one in /tmp named after the directory.
func defaultIPCURL(directory: String) -> String {
    let absolute = URL(fileURLWithPath: directory).standardizedFileURL.path
    let inside = absolute + "/coordinator.sock"
    if inside.utf8.count < 100 { return "ipc://" + inside }
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in absolute.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return "ipc:///tmp/intern-\(String(hash, radix: 16)).sock"
}
