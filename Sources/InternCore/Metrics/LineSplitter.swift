/// Cuts a byte stream (a job's stdout or stderr, read in chunks of any size) into lines.
///
/// - `\n` and `\r` both end a line, so a tqdm bar that redraws itself with `\r` yields one
///   line per redraw and a metric printed after it starts a line of its own.
/// - `\r\n` counts as ONE terminator, even when the chunk boundary falls between the two
///   bytes. Other empty lines (`\n\n`, `\r\r`) ARE emitted, as empty buffers.
/// - Terminators are not part of the emitted line.
/// - A line longer than `maxLineLength` bytes (terminator excluded) is dropped whole: it is
///   never emitted, not even truncated, and `droppedLineCount` goes up by one. The buffer
///   never holds more than `maxLineLength` bytes, so memory stays bounded whatever the job
///   prints. The result does not depend on how the stream was chunked.
/// - A line that lies wholly inside one chunk is handed to `body` straight from that chunk
///   (no copy); only a line spread over several chunks goes through the internal buffer,
///   whose capacity is kept from line to line.
///
/// The buffer passed to `body` is valid only during the call.
public struct LineSplitter: Sendable {
    /// 64 KiB.
    public static let defaultMaxLineLength = 65_536

    /// Lines longer than this (in bytes, terminator excluded) are dropped.
    public let maxLineLength: Int

    /// How many over-long lines were dropped so far.
    public private(set) var droppedLineCount: Int = 0

    /// The start of the current line when it began in an earlier chunk.
    private var pending: [UInt8] = []
    /// The current line is already too long: drop everything up to its terminator.
    private var overflowing = false
    /// The last byte seen was `\r`: a `\n` at the start of the next chunk belongs to it.
    private var afterCR = false

    public init(maxLineLength: Int = LineSplitter.defaultMaxLineLength) {
        precondition(maxLineLength >= 0, "maxLineLength must not be negative")
        self.maxLineLength = maxLineLength
    }

    /// Splits `bytes` and calls `body` once per complete line it ends.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        let n = bytes.count
        guard n > 0 else { return }
        var i = 0
        if afterCR {
            afterCR = false
            if bytes[0] == 0x0A { i = 1 }
        }
        var lineStart = i
        while true {
            i = Self.firstTerminator(in: bytes, from: i)
            if i == n { break }
            endLine(bytes, lineStart..<i, body)
            if bytes[i] == 0x0D {
                if i + 1 < n {
                    if bytes[i + 1] == 0x0A { i += 1 }
                } else {
                    afterCR = true
                }
            }
            i += 1
            lineStart = i
        }
        if lineStart < n { appendPartial(bytes, lineStart..<n) }
    }

    /// Emits the last line if the stream did not end with a terminator, and resets the
    /// splitter for a new stream (`droppedLineCount` is kept).
    public mutating func finish(_ body: (UnsafeRawBufferPointer) -> Void) {
        if overflowing {
            droppedLineCount += 1
        } else if !pending.isEmpty {
            pending.withUnsafeBytes { body($0) }
        }
        pending.removeAll(keepingCapacity: true)
        overflowing = false
        afterCR = false
    }

    private mutating func endLine(
        _ bytes: UnsafeRawBufferPointer, _ segment: Range<Int>, _ body: (UnsafeRawBufferPointer) -> Void
    ) {
        if overflowing {
            overflowing = false
            droppedLineCount += 1
            return
        }
        if pending.isEmpty {
            if segment.count > maxLineLength {
                droppedLineCount += 1
            } else {
                body(UnsafeRawBufferPointer(rebasing: bytes[segment]))
            }
            return
        }
        if pending.count + segment.count > maxLineLength {
            droppedLineCount += 1
        } else {
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[segment]))
            pending.withUnsafeBytes { body($0) }
        }
        pending.removeAll(keepingCapacity: true)
    }

    private mutating func appendPartial(_ bytes: UnsafeRawBufferPointer, _ segment: Range<Int>) {
        if overflowing { return }
        if pending.count + segment.count > maxLineLength {
            overflowing = true
            pending.removeAll(keepingCapacity: true)
            return
        }
        pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[segment]))
    }

    /// The index of the first `\n` or `\r` at or after `start`, or `bytes.count`.
    /// Looks at eight bytes at a time.
    @inline(__always)
    private static func firstTerminator(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        let n = bytes.count
        var i = start
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while i + 8 <= n {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let lf = word ^ (ones &* 0x0A)
            let cr = word ^ (ones &* 0x0D)
            // The lowest set bit of (x - 0x01…) & ~x & 0x80… marks the first zero byte of x.
            let hits = ((lf &- ones) & ~lf & highs) | ((cr &- ones) & ~cr & highs)
            if hits != 0 { return i + hits.trailingZeroBitCount / 8 }
            i += 8
        }
        while i < n {
            let b = bytes[i]
            if b == 0x0A || b == 0x0D { return i }
            i += 1
        }
        return n
    }
}
