import Foundation

/// Charts drawn as inline SVG, for a report that needs no network and no script: lines, points,
/// bars with error bars, and parallel coordinates. Every chart is an `<svg class="chart">` with a
/// `data-chart` name, axes with ticks and labels, and its marks.
struct SVGChart {
    let name: String
    let title: String
    var width = 640.0
    var height = 300.0
    let margin = (left: 64.0, right: 16.0, top: 28.0, bottom: 44.0)

    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]

    /// A data range, widened when empty so that a single value still has room.
    struct Scale {
        var low: Double
        var high: Double
        var log: Bool
        var from: Double
        var to: Double

        init(_ values: [Double], log: Bool, from: Double, to: Double) {
            let finite = values.filter { $0.isFinite && (!log || $0 > 0) }
            var low = finite.min() ?? 0, high = finite.max() ?? 1
            if log { low = Foundation.log10(low); high = Foundation.log10(high) }
            if low == high { low -= 0.5; high += 0.5 }
            self.low = low
            self.high = high
            self.log = log && !finite.isEmpty
            self.from = from
            self.to = to
        }

        func callAsFunction(_ value: Double) -> Double {
            let v = log ? Foundation.log10(max(value, 1e-300)) : value
            return from + (v - low) / (high - low) * (to - from)
        }

        /// About five round tick values inside the range.
        var ticks: [Double] {
            if log {
                let first = Int(low.rounded(.up)), last = Int(high.rounded(.down))
                let step = max(1, (last - first + 1) / 5)
                let decades = stride(from: first, through: last, by: step).map { Foundation.pow(10, Double($0)) }
                return decades.isEmpty ? [Foundation.pow(10, low), Foundation.pow(10, high)] : decades
            }
            let span = high - low
            let raw = span / 5
            let magnitude = Foundation.pow(10, Foundation.floor(Foundation.log10(raw)))
            let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
            var ticks: [Double] = []
            var tick = (low / step).rounded(.up) * step
            while tick <= high + step * 1e-9, ticks.count < 12 {
                ticks.append(abs(tick) < step * 1e-9 ? 0 : tick)
                tick += step
            }
            return ticks
        }
    }

    struct Series {
        var label: String
        var points: [(x: Double, y: Double)]
        var line = true
        var dots = false
        var step = false
    }

    private var plotLeft: Double { margin.left }
    private var plotRight: Double { width - margin.right }
    private var plotTop: Double { margin.top }
    private var plotBottom: Double { height - margin.bottom }

    /// Lines and/or points over shared x and y axes.
    func lines(_ series: [Series], xLabel: String, yLabel: String, logX: Bool = false) -> String {
        let xs = series.flatMap { $0.points.map(\.x) }, ys = series.flatMap { $0.points.map(\.y) }
        let x = Scale(xs, log: logX, from: plotLeft, to: plotRight)
        let y = Scale(ys, log: false, from: plotBottom, to: plotTop)
        var body = axes(x: x, y: y, xLabel: xLabel, yLabel: yLabel)
        for (index, serie) in series.enumerated() {
            let color = Self.palette[index % Self.palette.count]
            let points = serie.points.filter { $0.x.isFinite && $0.y.isFinite && (!x.log || $0.x > 0) }
            if serie.line, points.count > 1 {
                var path = ""
                for (k, point) in points.enumerated() {
                    if k == 0 {
                        path += "M\(f(x(point.x))),\(f(y(point.y)))"
                    } else {
                        if serie.step { path += " H\(f(x(point.x)))" }
                        path += " L\(f(x(point.x))),\(f(y(point.y)))"
                    }
                }
                body += "<path class=\"mark\" d=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            }
            if serie.dots || points.count == 1 {
                for point in points {
                    body += "<circle class=\"mark\" cx=\"\(f(x(point.x)))\" cy=\"\(f(y(point.y)))\" r=\"3\" fill=\"\(color)\" fill-opacity=\"0.7\"/>"
                }
            }
        }
        if series.count > 1 { body += legend(series.map(\.label)) }
        return wrap(body)
    }

    /// Horizontal bars with an error bar each (value ± error), labels on the left.
    func bars(_ items: [(label: String, value: Double, error: Double)], valueLabel: String) -> String {
        let rowHeight = 22.0
        var chart = self
        chart.height = margin.top + margin.bottom + rowHeight * Double(max(1, items.count))
        let x = Scale([0] + items.map { min(1, $0.value + $0.error) }, log: false, from: chart.plotLeft + 90, to: chart.plotRight)
        var body = "<text x=\"\(f(chart.plotLeft + 90))\" y=\"\(f(chart.height - 10))\" class=\"label\">\(escape(valueLabel))</text>"
        for tick in x.ticks {
            body += "<line x1=\"\(f(x(tick)))\" x2=\"\(f(x(tick)))\" y1=\"\(f(chart.plotTop))\" y2=\"\(f(chart.plotBottom))\" class=\"grid\"/>"
            body += "<text x=\"\(f(x(tick)))\" y=\"\(f(chart.plotBottom + 14))\" text-anchor=\"middle\" class=\"tick\">\(label(tick))</text>"
        }
        for (index, item) in items.enumerated() {
            let top = chart.plotTop + rowHeight * Double(index)
            body += "<text x=\"\(f(chart.plotLeft + 84))\" y=\"\(f(top + 15))\" text-anchor=\"end\" class=\"tick\">\(escape(item.label))</text>"
            body += "<rect class=\"mark\" x=\"\(f(x(0)))\" y=\"\(f(top + 4))\" width=\"\(f(max(1, x(item.value) - x(0))))\" height=\"\(f(rowHeight - 8))\" fill=\"\(Self.palette[0])\"/>"
            let low = x(max(0, item.value - item.error)), high = x(min(1, item.value + item.error))
            body += "<line x1=\"\(f(low))\" x2=\"\(f(high))\" y1=\"\(f(top + rowHeight / 2))\" y2=\"\(f(top + rowHeight / 2))\" stroke=\"#222\" stroke-width=\"1.5\"/>"
        }
        return chart.wrap(body)
    }

    /// One vertical axis per dimension, one polyline per row; the first `highlight` rows (the
    /// best) drawn on top in color.
    func parallelCoordinates(axes names: [String], logAxes: Set<String>, rows: [[Double?]], highlight: Int) -> String {
        guard names.count >= 2 else { return wrap("") }
        let step = (plotRight - plotLeft) / Double(names.count - 1)
        let scales = names.indices.map { index in
            Scale(rows.compactMap { $0[index] }, log: logAxes.contains(names[index]), from: plotBottom, to: plotTop)
        }
        var body = ""
        for (index, name) in names.enumerated() {
            let xPos = plotLeft + step * Double(index)
            body += "<line x1=\"\(f(xPos))\" x2=\"\(f(xPos))\" y1=\"\(f(plotTop))\" y2=\"\(f(plotBottom))\" class=\"axis\"/>"
            body += "<text x=\"\(f(xPos))\" y=\"\(f(plotBottom + 16))\" text-anchor=\"middle\" class=\"label\">\(escape(name))</text>"
            let scale = scales[index]
            body += "<text x=\"\(f(xPos + 3))\" y=\"\(f(plotTop - 4))\" class=\"tick\">\(label(scale.log ? Foundation.pow(10, scale.high) : scale.high))</text>"
            body += "<text x=\"\(f(xPos + 3))\" y=\"\(f(plotBottom - 3))\" class=\"tick\">\(label(scale.log ? Foundation.pow(10, scale.low) : scale.low))</text>"
        }
        for (rowIndex, row) in rows.enumerated().reversed() {
            var path = ""
            for (index, value) in row.enumerated() {
                guard let value, value.isFinite else { continue }
                path += (path.isEmpty ? "M" : " L") + "\(f(plotLeft + step * Double(index))),\(f(scales[index](value)))"
            }
            guard !path.isEmpty else { continue }
            let best = rowIndex < highlight
            body += "<path class=\"mark\" d=\"\(path)\" fill=\"none\" stroke=\"\(best ? Self.palette[1] : "#9ab")\" stroke-opacity=\"\(best ? 1 : 0.45)\" stroke-width=\"\(best ? 2 : 1)\"/>"
        }
        return wrap(body)
    }

    private func axes(x: Scale, y: Scale, xLabel: String, yLabel: String) -> String {
        var body = "<line x1=\"\(f(plotLeft))\" x2=\"\(f(plotRight))\" y1=\"\(f(plotBottom))\" y2=\"\(f(plotBottom))\" class=\"axis\"/>"
        body += "<line x1=\"\(f(plotLeft))\" x2=\"\(f(plotLeft))\" y1=\"\(f(plotTop))\" y2=\"\(f(plotBottom))\" class=\"axis\"/>"
        for tick in x.ticks {
            body += "<line x1=\"\(f(x(tick)))\" x2=\"\(f(x(tick)))\" y1=\"\(f(plotBottom))\" y2=\"\(f(plotBottom + 4))\" class=\"axis\"/>"
            body += "<text x=\"\(f(x(tick)))\" y=\"\(f(plotBottom + 16))\" text-anchor=\"middle\" class=\"tick\">\(label(tick))</text>"
        }
        for tick in y.ticks {
            body += "<line x1=\"\(f(plotLeft))\" x2=\"\(f(plotRight))\" y1=\"\(f(y(tick)))\" y2=\"\(f(y(tick)))\" class=\"grid\"/>"
            body += "<text x=\"\(f(plotLeft - 6))\" y=\"\(f(y(tick) + 4))\" text-anchor=\"end\" class=\"tick\">\(label(tick))</text>"
        }
        body += "<text x=\"\(f((plotLeft + plotRight) / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\" class=\"label\">\(escape(xLabel))</text>"
        body += "<text transform=\"translate(14,\(f((plotTop + plotBottom) / 2))) rotate(-90)\" text-anchor=\"middle\" class=\"label\">\(escape(yLabel))</text>"
        return body
    }

    private func legend(_ labels: [String]) -> String {
        var body = ""
        for (index, text) in labels.enumerated() {
            let xPos = plotLeft + 8 + Double(index % 4) * 140, yPos = plotTop + 12 + Double(index / 4) * 14
            body += "<rect x=\"\(f(xPos))\" y=\"\(f(yPos - 8))\" width=\"10\" height=\"10\" fill=\"\(Self.palette[index % Self.palette.count])\"/>"
            body += "<text x=\"\(f(xPos + 14))\" y=\"\(f(yPos + 1))\" class=\"tick\">\(escape(text))</text>"
        }
        return body
    }

    private func wrap(_ body: String) -> String {
        "<figure><svg class=\"chart\" data-chart=\"\(escape(name))\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(f(width)) \(f(height))\" width=\"\(f(width))\" height=\"\(f(height))\" role=\"img\" aria-label=\"\(escape(title))\">"
            + "<text x=\"\(f(plotLeft))\" y=\"16\" class=\"title\">\(escape(title))</text>" + body + "</svg></figure>"
    }

    private func f(_ value: Double) -> String { Self.oneDecimal(value) }

    /// `value` with one decimal, as `%.1f` writes it (to the rounding of a half), without
    /// formatting through Foundation: a chart of 500 points writes thousands of them.
    static func oneDecimal(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return String(format: "%.1f", value) }
        let tenths = Int((value * 10).rounded())
        return (tenths < 0 ? "-" : "") + String(abs(tenths) / 10) + "." + String(abs(tenths) % 10)
    }

    private func label(_ value: Double) -> String { escape(ReportText.number(value)) }
}

/// Text helpers shared by the renderers.
enum ReportText {
    static func number(_ value: Double?) -> String {
        guard let value else { return "-" }
        guard value.isFinite else { return String(value) }
        let magnitude = abs(value)
        if magnitude != 0, magnitude < 1e-3 || magnitude >= 1e6 { return String(format: "%.3g", value) }
        if value == value.rounded() { return String(format: "%.0f", value) }
        var text = String(format: "%.4f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    static func hours(_ value: Double) -> String {
        value == 0 ? "0" : value < 0.01 ? String(format: "%.4f", value) : String(format: "%.2f", value)
    }

    static func time(_ millis: Int64?) -> String {
        guard let millis else { return "-" }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000)) + " UTC"
    }

    static func parameters(_ values: [String: String]) -> String {
        values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}

func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for character in text {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(character)
        }
    }
    return out
}
