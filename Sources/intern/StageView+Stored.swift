import ArgumentParser
import InternReport
import InternStore

extension StageView {
    /// The view of a stored campaign, its spec parsed from the text it was started with; a spec
    /// that no longer parses is a usage error that says where (``CampaignFile/parse(yaml:path:)``).
    init(info: CampaignInfo) throws {
        self.init(spec: try CampaignFile.parse(stored: info).spec)
    }
}
