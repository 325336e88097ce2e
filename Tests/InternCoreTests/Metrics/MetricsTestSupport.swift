import InternCore

import InternTestKit

/// The seeded generator the metric tests use (SplitMix64).
typealias MetricsSplitMix64 = SeededGenerator

/// Parses bytes held in an array.
func metricsParse(_ parser: MetricLineParser, _ bytes: [UInt8]) -> [MetricPoint] {
    bytes.withUnsafeBytes { parser.parse($0) }
}

/// Splits `stream` into lines, feeding it in the given chunk sizes (the rest in one piece).
func metricsSplit(_ stream: [UInt8], chunks: [Int], maxLineLength: Int = LineSplitter.defaultMaxLineLength)
    -> (lines: [[UInt8]], dropped: Int)
{
    var splitter = LineSplitter(maxLineLength: maxLineLength)
    var lines: [[UInt8]] = []
    var offset = 0
    var sizes = chunks[...]
    while offset < stream.count {
        let size = min(sizes.popFirst() ?? stream.count, stream.count - offset)
        stream[offset..<(offset + size)].withUnsafeBytes { chunk in
            splitter.feed(chunk) { lines.append(Array($0)) }
        }
        offset += size
    }
    splitter.finish { lines.append(Array($0)) }
    return (lines, splitter.droppedLineCount)
}

/// Point lists compared with NaN equal to NaN.
func metricsSame(_ a: [MetricPoint], _ b: [MetricPoint]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { x, y in
        x.name == y.name && x.step == y.step && (x.value == y.value || (x.value.isNaN && y.value.isNaN))
    }
}
