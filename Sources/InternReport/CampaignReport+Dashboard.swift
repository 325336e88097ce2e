import InternCore
import InternStore

// What the dashboard (`InternWeb`) reuses of the report rather than writing again: HTML escaping,
// the report's charts by section, its SVG line charts, and the campaign's parsed spec.

/// Text made safe for HTML: element content and quoted attribute values alike.
public enum HTMLText {
    /// `text` with `& < > " '` escaped.
    public static func escape(_ text: String) -> String { InternReport.escape(text) }
}

extension CampaignReport {
    /// The report's inline SVG charts, by the title of the section they belong to (`Progress`,
    /// `Parameter importance`, `Metric curves`, `Cost`).
    public var chartsBySection: [String: [String]] { charts }

    /// The report's charts named in `names` (their `data-chart`), by section: only those are drawn.
    public func charts(named names: Set<String>) -> [String: [String]] { charts(named: { names.contains($0) }) }

    /// The campaign in `store` and its spec (parsed from the copy the store keeps); throws when
    /// the directory holds no campaign.
    public static func spec(of store: CampaignStore) throws -> (CampaignInfo, CampaignSpec) { try specOf(store) }

    /// One line of points per series over shared axes, as an inline `<svg class="chart">` named
    /// `name` (the report's own chart, so the dashboard's curves look like the report's).
    public static func lineChart(
        name: String, title: String, series: [(label: String, points: [(x: Double, y: Double)])], xLabel: String, yLabel: String
    ) -> String {
        SVGChart(name: name, title: title).lines(
            series.map { SVGChart.Series(label: $0.label, points: $0.points, dots: $0.points.count < 40) }, xLabel: xLabel, yLabel: yLabel)
    }

    /// `state` as the report words it: `running`, `finished`, `stopped: why` or `not running`.
    public static func stateWord(_ info: CampaignInfo, now: Int64) -> String { state(info, now: now) }
}
