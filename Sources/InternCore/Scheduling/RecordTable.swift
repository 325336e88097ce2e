/// Records keyed by the ids the coordinator hands out one after another (trials, attempts): one
/// slot per id in an array, where a dictionary kept an entry of key, value and hash bucket, at
/// most three quarters full and doubled at once when it filled (at 100,000 attempts of 336 bytes,
/// a dictionary's table takes up to 90 MB; the array takes 34, and grows by `mremap`, touching
/// only the slots in use).
///
/// Reads like the dictionary it replaces: `table[id]` to get or set (nil removes), `values`,
/// `keys`, `count`, and iteration over `(key, value)` pairs in id order. Ids start at 1; an id far
/// past the others leaves empty slots behind it, so ids must stay dense (the machine's are).
public struct RecordTable<ID: BinaryInteger & Sendable, Record: Sendable>: Sendable {
    private var slots: [Record?] = []
    /// The number of records held.
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    public subscript(id: ID) -> Record? {
        get {
            guard id >= 1, id <= ID(slots.count) else { return nil }
            return slots[Int(id) - 1]
        }
        set {
            precondition(id >= 1, "record ids start at 1, got \(id)")
            let index = Int(id) - 1
            if index >= slots.count {
                guard newValue != nil else { return }
                slots.append(contentsOf: repeatElement(nil, count: index - slots.count + 1))
            }
            switch (slots[index] == nil, newValue == nil) {
            case (true, false): count += 1
            case (false, true): count -= 1
            default: break
            }
            slots[index] = newValue
        }
    }

    /// The records, in id order (a view: nothing is copied).
    public var values: Values { Values(slots: slots, count: count) }

    /// The ids held, in order.
    public var keys: [ID] { map { $0.key } }

    /// The records of a table, in id order.
    public struct Values: Sequence {
        fileprivate let slots: [Record?]
        fileprivate let count: Int

        public func makeIterator() -> Iterator { Iterator(slots: slots.makeIterator()) }
        public var underestimatedCount: Int { count }

        public struct Iterator: IteratorProtocol {
            fileprivate var slots: IndexingIterator<[Record?]>

            public mutating func next() -> Record? {
                while let slot = slots.next() {
                    if let record = slot { return record }
                }
                return nil
            }
        }
    }
}

extension RecordTable: Sequence {
    public struct Iterator: IteratorProtocol {
        fileprivate var slots: IndexingIterator<[Record?]>
        fileprivate var position = 0

        public mutating func next() -> (key: ID, value: Record)? {
            while let slot = slots.next() {
                position += 1
                if let record = slot { return (ID(position), record) }
            }
            return nil
        }
    }

    public func makeIterator() -> Iterator { Iterator(slots: slots.makeIterator()) }
    public var underestimatedCount: Int { count }
}
