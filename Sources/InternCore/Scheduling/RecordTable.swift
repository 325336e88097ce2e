/// Records keyed by the ids the coordinator hands out one after another (trials, attempts): one
/// slot per id in an array, where a dictionary kept an entry of key, value and hash bucket, at
/// most three quarters full and doubled at once when it filled (at 100,000 attempts of 336 bytes,
/// a dictionary's table takes up to 90 MB; the array takes 34, and grows by `mremap`, touching
/// only the slots in use).
///
/// Reads like the dictionary it replaces: `table[id]` to get or set (nil removes), `values`,
/// `keys`, `count`, and iteration over `(key, value)` pairs in id order. Ids start at 1; an id far
/// past the others leaves empty slots behind it, so ids must stay dense (the machine's are).
///
/// Inlinable, so that the coordinator's module specializes it: unspecialized, each lookup fetched
/// the generic type's metadata at run time (1 % of the coordinator's samples at ingest).
public struct RecordTable<ID: BinaryInteger & Sendable, Record: Sendable>: Sendable {
    @usableFromInline var slots: [Record?] = []
    @usableFromInline var held = 0
    /// The number of records held.
    @inlinable public var count: Int { held }

    @inlinable public init() {}

    @inlinable public var isEmpty: Bool { count == 0 }

    @inlinable public subscript(id: ID) -> Record? {
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
            case (true, false): held += 1
            case (false, true): held -= 1
            default: break
            }
            slots[index] = newValue
        }
    }

    /// The records, in id order (a view: nothing is copied).
    @inlinable public var values: Values { Values(slots: slots, count: count) }

    /// The ids held, in order.
    @inlinable public var keys: [ID] { map { $0.key } }

    /// The records of a table, in id order.
    public struct Values: Sequence {
        @usableFromInline let slots: [Record?]
        @usableFromInline let count: Int

        @inlinable init(slots: [Record?], count: Int) {
            self.slots = slots
            self.count = count
        }

        @inlinable public func makeIterator() -> Iterator { Iterator(slots: slots.makeIterator()) }
        @inlinable public var underestimatedCount: Int { count }

        public struct Iterator: IteratorProtocol {
            @usableFromInline var slots: IndexingIterator<[Record?]>

            @inlinable init(slots: IndexingIterator<[Record?]>) {
                self.slots = slots
            }

            @inlinable public mutating func next() -> Record? {
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
        @usableFromInline var slots: IndexingIterator<[Record?]>
        @usableFromInline var position = 0

        @inlinable init(slots: IndexingIterator<[Record?]>) {
            self.slots = slots
        }

        @inlinable public mutating func next() -> (key: ID, value: Record)? {
            while let slot = slots.next() {
                position += 1
                if let record = slot { return (ID(position), record) }
            }
            return nil
        }
    }

    @inlinable public func makeIterator() -> Iterator { Iterator(slots: slots.makeIterator()) }
    @inlinable public var underestimatedCount: Int { count }
}
