/// A record a ``RecordTable`` keeps packed once it has settled: an ended trial or attempt, which
/// the machine rarely reads again and never on a hot path. Packed, it takes its bytes (tens, where
/// the record takes hundreds with its collections' storage) and a small ``Summary`` of the fields
/// the machine's views scan across every record (counts by status, the best trial).
public protocol SettlingRecord: Sendable {
    /// What a scan across every record reads without unpacking one: a few fixed-size fields.
    associatedtype Summary: Sendable
    /// Whether the record has settled: it rarely changes again (its status is terminal).
    var isSettled: Bool { get }
    var summary: Summary { get }
    /// Writes every field; ``init(unpacking:)`` reads them back in the same order.
    func pack(into packer: inout RecordPacker)
    init(unpacking unpacker: inout RecordUnpacker)
}

/// Writes a record's fields as bytes: integers as varints (signed ones zigzagged), doubles as
/// their 8 bytes, strings as a length and their UTF-8, an optional as a flag and its value, an
/// enum as its index among its cases. Only ever read back by ``RecordUnpacker`` in the same
/// process: there is no version, and no field is named.
public struct RecordPacker {
    public private(set) var bytes: [UInt8] = []
    /// The words written so far by every record of the table (see ``write(word:)``).
    public var words = PackedWords()

    public init() {}

    /// A string that recurs across records (a parameter's name, a choice's value, a worker's id):
    /// written as its number in ``words``, so each record pays a byte or two for it.
    public mutating func write(word: String) {
        write(UInt64(words.number(of: word)))
    }

    /// The bytes written, after a varint of their count (how a table keeps them).
    public var lengthPrefixedBytes: [UInt8] {
        var prefixed = RecordPacker()
        prefixed.write(UInt64(bytes.count))
        return prefixed.bytes + bytes
    }

    public mutating func write(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    public mutating func write(_ value: Int64) {
        write(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    public mutating func write(_ value: Int) { write(Int64(value)) }
    public mutating func write(_ value: Int32) { write(Int64(value)) }
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func write(_ value: Double) {
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func write(_ value: String) {
        var text = value
        text.withUTF8 { utf8 in
            write(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func write<Case: CaseIterable & Equatable>(_ value: Case) {
        let cases = Case.allCases
        write(UInt64(cases.distance(from: cases.startIndex, to: cases.firstIndex(of: value)!)))
    }

    /// A flag, then the value when there is one.
    public mutating func write<Value>(_ value: Value?, _ writeValue: (inout RecordPacker, Value) -> Void) {
        write(value != nil)
        if let value { writeValue(&self, value) }
    }

    public mutating func write(_ values: [String]) {
        write(UInt64(values.count))
        for value in values { write(value) }
    }

    /// The pairs in key order, so that equal dictionaries pack to equal bytes; the keys as words.
    public mutating func write<Value>(_ values: [String: Value], _ writeValue: (inout RecordPacker, Value) -> Void) {
        write(UInt64(values.count))
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            write(word: key)
            writeValue(&self, value)
        }
    }
}

/// The strings that recur across a table's packed records, each numbered once.
public struct PackedWords: Sendable {
    var list: [String] = []
    var numbers: [String: Int] = [:]

    public init() {}

    public var count: Int { list.count }
    /// About what the words take: each one's bytes, in the list and as a key of `numbers`.
    var bytesHeld: Int { list.reduce(0) { $0 + 2 * (32 + $1.utf8.count) } }

    mutating func number(of word: String) -> Int {
        if let number = numbers[word] { return number }
        list.append(word)
        numbers[word] = list.count - 1
        return list.count - 1
    }

    subscript(number: Int) -> String { list[number] }
}

/// Reads back what a ``RecordPacker`` wrote, in the same order. The bytes never leave the process
/// that packed them, so bytes that do not read back are a bug here, not bad input: it traps.
public struct RecordUnpacker {
    let bytes: ArraySlice<UInt8>
    let words: PackedWords
    public internal(set) var position: Int

    public init(_ bytes: ArraySlice<UInt8>, words: PackedWords) {
        self.bytes = bytes
        self.words = words
        self.position = bytes.startIndex
    }

    public mutating func readWord() -> String { words[Int(read() as UInt64)] }

    /// Skips the varint of the record's length that a table keeps before it.
    public mutating func skipLength() { _ = read() as UInt64 }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { position == bytes.endIndex }

    public mutating func read() -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = bytes[position]
            position += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }

    public mutating func read() -> Int64 {
        let raw: UInt64 = read()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    public mutating func read() -> Int { Int(read() as Int64) }
    public mutating func read() -> Int32 { Int32(read() as Int64) }

    public mutating func read() -> Bool {
        defer { position += 1 }
        return bytes[position] != 0
    }

    public mutating func read() -> Double {
        var bits: UInt64 = 0
        for index in 0..<8 { bits |= UInt64(bytes[position + index]) << (8 * UInt64(index)) }
        position += 8
        return Double(bitPattern: bits)
    }

    public mutating func read() -> String {
        let count = Int(read() as UInt64)
        defer { position += count }
        return String(decoding: bytes[position..<position + count], as: UTF8.self)
    }

    public mutating func read<Case: CaseIterable>() -> Case {
        let cases = Case.allCases
        return cases[cases.index(cases.startIndex, offsetBy: Int(read() as UInt64))]
    }

    public mutating func read<Value>(_ readValue: (inout RecordUnpacker) -> Value) -> Value? {
        (read() as Bool) ? readValue(&self) : nil
    }

    public mutating func read() -> [String] {
        (0..<Int(read() as UInt64)).map { _ in read() as String }
    }

    public mutating func read<Value>(_ readValue: (inout RecordUnpacker) -> Value) -> [String: Value] {
        let count = Int(read() as UInt64)
        var values: [String: Value] = Dictionary(minimumCapacity: count)
        for _ in 0..<count {
            let key = readWord()
            values[key] = readValue(&self)
        }
        return values
    }
}
