import Foundation
import InternCore
import InternStore

/// The directory `intern serve --root` shows: every subdirectory that holds a `campaign.db` is a
/// campaign, named by its directory. A name from a URL is only ever looked up among these, after
/// it passed ``CampaignSpec/isValidName(_:)`` (no `/`, no `..`): a URL cannot reach outside the root.
public struct CampaignRoot: Sendable {
    /// The root directory, as given.
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The campaigns under the root, by name (sorted).
    public func names() -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return entries.filter { CampaignSpec.isValidName($0) && holdsDatabase($0) }.sorted()
    }

    /// The directory of the campaign `name`, or a 404 when the root has no such campaign (and
    /// for any name that is not a campaign name: a path, `..`, an empty string).
    public func directory(of name: String) throws(WebError) -> String {
        guard CampaignSpec.isValidName(name), holdsDatabase(name) else {
            throw WebError.notFound("no campaign named '\(name)' under \(path)")
        }
        return "\(path)/\(name)"
    }

    private func holdsDatabase(_ name: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: "\(path)/\(name)", isDirectory: &isDirectory) && isDirectory.boolValue
            && FileManager.default.fileExists(atPath: "\(path)/\(name)/\(CampaignStore.databaseName)")
    }
}
