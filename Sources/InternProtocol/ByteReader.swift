/// Reads wire primitives from a byte array, checking every length against
/// the bytes remaining before touching or allocating anything.
///
/// Every read takes the name of the field being read as an autoclosure; it is
/// only evaluated when building an error, so the happy path pays nothing.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var index: Int

    init(_ bytes: [UInt8], index: Int = 0) {
        self.bytes = bytes
        self.index = index
    }

    /// Bytes not yet consumed.
    var remaining: Int { bytes.count - index }

    typealias Field = () -> String

    @inline(__always)
    mutating func readByte(_ field: @autoclosure Field) throws(ProtocolError) -> UInt8 {
        guard index < bytes.count else { throw .truncated(field()) }
        let b = bytes[index]
        index += 1
        return b
    }

    /// Unsigned LEB128, at most 10 bytes, canonical (shortest) form only.
    mutating func readUInt(_ field: @autoclosure Field) throws(ProtocolError) -> UInt64 {
        // Fast path: single byte.
        guard index < bytes.count else { throw .truncated(field()) }
        let first = bytes[index]
        if first < 0x80 {
            index += 1
            return UInt64(first)
        }
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var i = index
        while true {
            guard i < bytes.count else { throw .truncated(field()) }
            let b = bytes[i]
            i += 1
            if shift == 63 {
                // Tenth byte: only the lowest bit is left to fill, and it
                // must be the last byte.
                guard b <= 1 else {
                    throw .malformed(field(), "varint overflows 64 bits")
                }
                guard b != 0 else {
                    throw .malformed(field(), "overlong varint")
                }
                result |= UInt64(b) << 63
                break
            }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 {
                // A terminating zero byte after a continuation byte is an
                // overlong (non-canonical) encoding.
                guard b != 0 else { throw .malformed(field(), "overlong varint") }
                break
            }
            shift += 7
        }
        index = i
        return result
    }

    /// Zigzag + LEB128 signed integer.
    mutating func readInt(_ field: @autoclosure Field) throws(ProtocolError) -> Int64 {
        let u = try readUInt(field())
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    /// IEEE-754 binary64, little-endian.
    mutating func readDouble(_ field: @autoclosure Field) throws(ProtocolError) -> Double {
        guard remaining >= 8 else { throw .truncated(field()) }
        var bits: UInt64 = 0
        for k in 0..<8 {
            bits |= UInt64(bytes[index + k]) << (8 * UInt64(k))
        }
        index += 8
        return Double(bitPattern: bits)
    }

    /// One byte, 0 or 1.
    mutating func readBool(_ field: @autoclosure Field) throws(ProtocolError) -> Bool {
        switch try readByte(field()) {
        case 0: return false
        case 1: return true
        case let b: throw .malformed(field(), "bool byte must be 0 or 1, got \(b)")
        }
    }

    /// A length (or count) that must not exceed `remaining / minUnit`.
    mutating func readLength(_ field: @autoclosure Field, minUnit: Int = 1) throws(ProtocolError) -> Int {
        let n = try readUInt(field())
        // Compare in UInt64 space so absurd values never reach Int conversion.
        guard n <= UInt64(remaining / minUnit) else { throw .truncated(field()) }
        return Int(n)
    }

    /// Length-prefixed UTF-8 text; invalid UTF-8 is malformed.
    mutating func readString(_ field: @autoclosure Field) throws(ProtocolError) -> String {
        let n = try readLength(field())
        if n == 0 { return "" }
        let end = index + n
        // A report carries a string per metric sample, and the generic validation looks up type
        // metadata at run time for each: ASCII (metric names, ids: nearly every string) is
        // valid UTF-8 as it stands, so only other text is validated.
        let start = index
        let decoded = bytes.withUnsafeBufferPointer { whole -> String? in
            let region = UnsafeBufferPointer(rebasing: whole[start..<end])
            var high: UInt8 = 0
            for byte in region { high |= byte }
            if high < 0x80 { return String(decoding: region, as: UTF8.self) }
            return String(validating: region, as: UTF8.self)
        }
        guard let s = decoded else {
            throw .malformed(field(), "invalid UTF-8")
        }
        index = end
        return s
    }

    /// Length-prefixed raw bytes, copied once out of the input.
    mutating func readBytes(_ field: @autoclosure Field) throws(ProtocolError) -> [UInt8] {
        let n = try readLength(field())
        let end = index + n
        let out = Array(bytes[index..<end])
        index = end
        return out
    }

    /// Presence byte (0 or 1) followed by a string when present.
    mutating func readOptionalString(_ field: @autoclosure Field) throws(ProtocolError) -> String? {
        switch try readByte(field()) {
        case 0: return nil
        case 1: return try readString(field())
        case let b: throw .malformed(field(), "optional presence byte must be 0 or 1, got \(b)")
        }
    }

    /// A count followed by that many elements; `minElementSize` is the least
    /// number of bytes one element can occupy (at least 1), which bounds the
    /// count before anything is allocated.
    mutating func readList<T>(
        _ field: @autoclosure Field,
        minElementSize: Int = 1,
        _ element: (inout ByteReader, Int) throws(ProtocolError) -> T
    ) throws(ProtocolError) -> [T] {
        let count = try readLength(field(), minUnit: minElementSize)
        var out: [T] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            out.append(try element(&self, i))
        }
        return out
    }

    mutating func readUIntList(_ field: @autoclosure Field) throws(ProtocolError) -> [UInt64] {
        try readList(field()) { (r: inout ByteReader, i: Int) throws(ProtocolError) in
            try r.readUInt("\(field())[\(i)]")
        }
    }

    mutating func readStringList(_ field: @autoclosure Field) throws(ProtocolError) -> [String] {
        try readList(field()) { (r: inout ByteReader, i: Int) throws(ProtocolError) in
            try r.readString("\(field())[\(i)]")
        }
    }

    mutating func readPairs(_ field: @autoclosure Field) throws(ProtocolError) -> StringPairs {
        let list = try readList(field(), minElementSize: 2) { (r: inout ByteReader, i: Int) throws(ProtocolError) in
            let key = try r.readString("\(field())[\(i)].key")
            let value = try r.readString("\(field())[\(i)].value")
            return KeyValue(key, value)
        }
        return StringPairs(list)
    }

    mutating func readRecords<T: WireCodable>(_ field: @autoclosure Field, _ type: T.Type) throws(ProtocolError) -> [T] {
        try readList(field(), minElementSize: T.minWireSize) { (r: inout ByteReader, i: Int) throws(ProtocolError) in
            try T(from: &r, path: { "\(field())[\(i)]" })
        }
    }
}
