import InternStore
import InternTestKit

/// Waits until a coordinator has created its campaign directory and registered the campaign,
/// then opens it read-only (as admin commands do).
func waitForStore(_ directory: String) async throws -> CampaignStore {
    for _ in 0..<200 {
        if let store = try? CampaignStore(directory: directory, create: false, readOnly: true), (try? store.info()) != nil {
            return store
        }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw TimeoutError(message: "no store at \(directory)")
}
