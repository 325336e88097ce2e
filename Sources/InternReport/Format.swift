import Foundation
import InternCore

/// Small text helpers shared by the commands' output (`intern status`, `best`, `trials`, …) and
/// by `intern-mcp`, which answers some of them itself: the same values print the same.
public enum Format {
    /// `1h02m`, `3m05s`, `12.3s`.
    public static func duration(seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-" }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let total = Int(seconds.rounded())
        if total < 3600 { return String(format: "%dm%02ds", total / 60, total % 60) }
        return String(format: "%dh%02dm", total / 3600, (total % 3600) / 60)
    }

    /// A metric value with enough digits to compare trials.
    public static func value(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value == value.rounded(), abs(value) < 1e9 { return String(format: "%.0f", value) }
        return String(format: "%.6g", value)
    }

    /// `lr=0.01 hidden=64`.
    public static func parameters(_ parameters: Parameters) -> String {
        parameters.sortedPairs.map { "\($0.0)=\(clipped($0.1.text))" }.joined(separator: " ")
    }

    /// A value for a line of text: whole up to 200 characters, else its start and its size (a
    /// parameter may hold a megabyte; a screen should not).
    public static func clipped(_ text: String, limit: Int = 200) -> String {
        guard text.count > limit else { return text }
        return String(text.prefix(limit)) + "… (\(text.utf8.count) bytes)"
    }

    /// Left-aligned columns.
    public static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    /// Unix milliseconds as local `yyyy-MM-dd HH:mm:ss`.
    public static func clock(_ millis: Timestamp?) -> String { clocks()(millis) }

    /// ``clock(_:)`` for many times in a row: one formatter for all of them (making one costs
    /// about 0.2 ms, which a table of 500 rows paid 500 times). Use the function from one thread.
    public static func clocks() -> (Timestamp?) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return { millis in millis.map { formatter.string(from: Date(timeIntervalSince1970: Double($0) / 1000)) } ?? "-" }
    }
}
