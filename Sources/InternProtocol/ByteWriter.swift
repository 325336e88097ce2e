/// Appends wire primitives into one growing byte array.
///
/// Callers reserve the exact capacity up front (see `WireCodable.wireSize`),
/// so encoding a message performs a single allocation.
struct ByteWriter {
    private(set) var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    // MARK: Sizes

    /// Number of bytes of the LEB128 encoding of `value` (1...10).
    @inline(__always)
    static func uintSize(_ value: UInt64) -> Int {
        // 1 + floor(bitWidth-1 / 7), with 0 taking one byte.
        let bits = 64 - (value | 1).leadingZeroBitCount
        return (bits + 6) / 7
    }

    /// Number of bytes of the zigzag LEB128 encoding of `value`.
    @inline(__always)
    static func intSize(_ value: Int64) -> Int {
        uintSize(zigzag(value))
    }

    /// Number of bytes of a length-prefixed string.
    @inline(__always)
    static func stringSize(_ value: String) -> Int {
        let n = value.utf8.count
        return uintSize(UInt64(n)) + n
    }

    /// Number of bytes of a length-prefixed byte string.
    @inline(__always)
    static func bytesSize(_ value: [UInt8]) -> Int {
        uintSize(UInt64(value.count)) + value.count
    }

    static func uintListSize(_ values: [UInt64]) -> Int {
        var total = uintSize(UInt64(values.count))
        for v in values { total += uintSize(v) }
        return total
    }

    static func stringListSize(_ values: [String]) -> Int {
        var total = uintSize(UInt64(values.count))
        for v in values { total += stringSize(v) }
        return total
    }

    static func pairsSize(_ map: StringPairs) -> Int {
        var total = uintSize(UInt64(map.pairs.count))
        for p in map.pairs { total += stringSize(p.key) + stringSize(p.value) }
        return total
    }

    static func listSize<T: WireCodable>(_ values: [T]) -> Int {
        var total = uintSize(UInt64(values.count))
        for v in values { total += v.wireSize }
        return total
    }

    @inline(__always)
    static func zigzag(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value &<< 1) ^ (value >> 63))
    }

    // MARK: Primitives

    mutating func writeHeader(kind: MessageKind) {
        bytes.append(ProtocolVersion.magic.0)
        bytes.append(ProtocolVersion.magic.1)
        bytes.append(ProtocolVersion.current)
        bytes.append(kind.rawValue)
    }

    @inline(__always)
    mutating func writeUInt(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    @inline(__always)
    mutating func writeInt(_ value: Int64) {
        writeUInt(Self.zigzag(value))
    }

    mutating func writeDouble(_ value: Double) {
        var bits = value.bitPattern
        for _ in 0..<8 {
            bytes.append(UInt8(truncatingIfNeeded: bits))
            bits >>= 8
        }
    }

    @inline(__always)
    mutating func writeBool(_ value: Bool) {
        bytes.append(value ? 1 : 0)
    }

    mutating func writeString(_ value: String) {
        let utf8 = value.utf8
        writeUInt(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    mutating func writeBytes(_ value: [UInt8]) {
        writeUInt(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func writeOptionalString(_ value: String?) {
        if let value {
            bytes.append(1)
            writeString(value)
        } else {
            bytes.append(0)
        }
    }

    // MARK: Composites

    mutating func writeUIntList(_ values: [UInt64]) {
        writeUInt(UInt64(values.count))
        for v in values { writeUInt(v) }
    }

    mutating func writeStringList(_ values: [String]) {
        writeUInt(UInt64(values.count))
        for v in values { writeString(v) }
    }

    mutating func writePairs(_ map: StringPairs) {
        writeUInt(UInt64(map.pairs.count))
        for p in map.pairs {
            writeString(p.key)
            writeString(p.value)
        }
    }

    mutating func writeList<T: WireCodable>(_ values: [T]) {
        writeUInt(UInt64(values.count))
        for v in values { v.encode(to: &self) }
    }
}
