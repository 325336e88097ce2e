/// One key/value entry of a ``StringPairs`` map.
public struct KeyValue: Sendable, Hashable {
    /// The key.
    public var key: String
    /// The value.
    public var value: String

    /// Creates an entry.
    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// An ordered list of string key/value pairs: the wire type `map`.
///
/// Order is preserved exactly as sent. The codec does not reject duplicate
/// keys; senders should not produce them, and ``subscript(_:)`` resolves
/// duplicates to the last occurrence. Can be written as a dictionary literal
/// (`["CUDA_VISIBLE_DEVICES": "0", "SEED": "1"]`), which keeps source order.
public struct StringPairs: Sendable, Hashable, RandomAccessCollection, ExpressibleByDictionaryLiteral {
    /// The entries, in wire order.
    public var pairs: [KeyValue]

    /// Creates a map from entries in order.
    public init(_ pairs: [KeyValue] = []) {
        self.pairs = pairs
    }

    /// Creates a map from `(key, value)` tuples in order.
    public init<S: Sequence>(_ tuples: S) where S.Element == (String, String) {
        self.pairs = tuples.map { KeyValue($0.0, $0.1) }
    }

    /// Creates a map from a dictionary literal, keeping literal order.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The value of the last entry with `key`, or `nil`.
    public subscript(_ key: String) -> String? {
        pairs.last(where: { $0.key == key })?.value
    }

    /// Appends an entry (no deduplication).
    public mutating func append(_ key: String, _ value: String) {
        pairs.append(KeyValue(key, value))
    }

    /// The index of the first entry.
    public var startIndex: Int { pairs.startIndex }
    /// The index past the last entry.
    public var endIndex: Int { pairs.endIndex }
    /// The entry at `position`.
    public subscript(position: Int) -> KeyValue { pairs[position] }
}
