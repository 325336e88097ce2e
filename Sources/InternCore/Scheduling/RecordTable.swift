/// Records keyed by the ids the coordinator hands out one after another (trials, attempts): one
/// place per id in an array, where a dictionary kept an entry of key, value and hash bucket, at
/// most three quarters full and doubled at once when it filled.
///
/// A record that has settled (``SettlingRecord/isSettled``: an ended trial or attempt) is kept
/// packed, its fields as bytes in one shared buffer, and is unpacked when read; the others (those
/// in flight, a few thousand at most) are kept as they are. Of a campaign's 100,000 trials nearly
/// all have ended: as records, a `TrialRecord` (176 bytes, and its parameters' dictionary) and an
/// `AttemptRecord` (336) took about 1 KB per trial and the coordinator's memory grew with every
/// trial; packed, they take about a tenth of that. A scan across every record that needs only a
/// few fields (counts by status, the best trial) reads each record's ``SettlingRecord/Summary``,
/// kept beside it, without unpacking anything.
///
/// Reads like the dictionary it replaced: `table[id]` to get or set (nil removes), `values`,
/// `keys`, `count`, and iteration over `(key, value)` pairs in id order. Ids start at 1; an id far
/// past the others leaves empty places behind it, so ids must stay dense (the machine's are).
///
/// Inlinable, so that the coordinator's module specializes it: unspecialized, each lookup fetched
/// the generic type's metadata at run time (1 % of the coordinator's samples at ingest).
public struct RecordTable<ID: BinaryInteger & Sendable, Record: SettlingRecord>: Sendable {
    /// Where an id's record is, in 8 bytes: 0, none; odd, its index in `live` (shifted left by
    /// one); even, its offset in `packed` plus one (shifted left by one), where a varint of its
    /// length precedes it.
    @usableFromInline struct Place: Sendable {
        @usableFromInline var raw: UInt64

        @inlinable init(raw: UInt64) { self.raw = raw }
        @inlinable static var empty: Place { Place(raw: 0) }
        @inlinable static func live(_ slot: Int) -> Place { Place(raw: UInt64(slot) << 1 | 1) }
        @inlinable static func packed(at offset: Int) -> Place { Place(raw: UInt64(offset + 1) << 1) }

        @inlinable var isEmpty: Bool { raw == 0 }
        @inlinable var liveSlot: Int? { raw & 1 == 1 ? Int(raw >> 1) : nil }
        @inlinable var packedOffset: Int? { raw != 0 && raw & 1 == 0 ? Int(raw >> 1) - 1 : nil }
    }

    /// By id - 1.
    @usableFromInline var places: [Place] = []
    @usableFromInline var summaries: [Record.Summary?] = []
    /// Records not settled; nil where one was and has settled or gone (`freeLive` lists those).
    @usableFromInline var live: [Record?] = []
    @usableFromInline var freeLive: [Int] = []
    /// Settled records, packed one after another.
    @usableFromInline var packed: [UInt8] = []
    /// Bytes of `packed` no record uses any more (a settled record set again, or removed); the
    /// buffer is compacted when they are most of it.
    @usableFromInline var unusedBytes = 0
    /// The strings the packed records share (see ``RecordPacker/write(word:)``).
    @usableFromInline var words = PackedWords()
    @usableFromInline var held = 0
    /// The number of records held.
    @inlinable public var count: Int { held }

    @inlinable public init() {}

    @inlinable public var isEmpty: Bool { count == 0 }

    /// The bytes the settled records take packed (what a memory test or a report can check).
    public var packedBytes: Int { packed.count - unusedBytes }
    /// About what the table's contents take in memory: its places and summaries, its live records
    /// (without the storage their collections point to), its packed bytes and its words. Arrays
    /// grow by doubling, but their untouched capacity is not resident.
    public var bytesHeld: Int {
        places.count * MemoryLayout<Place>.stride + summaries.count * MemoryLayout<Record.Summary?>.stride
            + live.count * MemoryLayout<Record?>.stride + packed.count + words.bytesHeld
    }
    /// The number of records kept as they are (not settled).
    public var liveCount: Int { live.count - freeLive.count }

    @inlinable public subscript(id: ID) -> Record? {
        get {
            guard id >= 1, id <= ID(places.count) else { return nil }
            return record(at: places[Int(id) - 1])
        }
        set {
            precondition(id >= 1, "record ids start at 1, got \(id)")
            let index = Int(id) - 1
            if index >= places.count {
                guard newValue != nil else { return }
                places.append(contentsOf: repeatElement(.empty, count: index - places.count + 1))
                summaries.append(contentsOf: repeatElement(nil, count: index - summaries.count + 1))
            }
            let place = places[index]
            guard let newValue else {
                if place.isEmpty { return }
                release(place)
                places[index] = .empty
                summaries[index] = nil
                held -= 1
                return
            }
            if place.isEmpty { held += 1 }
            summaries[index] = newValue.summary
            if newValue.isSettled {
                release(place)
                var packer = RecordPacker()
                swap(&packer.words, &words)
                newValue.pack(into: &packer)
                swap(&packer.words, &words)
                places[index] = .packed(at: packed.count)
                packed.append(contentsOf: packer.lengthPrefixedBytes)
                compactIfMostlyUnused()
            } else if let slot = place.liveSlot {
                live[slot] = newValue
            } else {
                release(place)
                if let slot = freeLive.popLast() {
                    live[slot] = newValue
                    places[index] = .live(slot)
                } else {
                    places[index] = .live(live.count)
                    live.append(newValue)
                }
            }
        }
    }

    @inlinable func record(at place: Place) -> Record? {
        if let slot = place.liveSlot { return live[slot] }
        guard let offset = place.packedOffset else { return nil }
        var unpacker = RecordUnpacker(packed[offset...], words: words)
        unpacker.skipLength()
        return Record(unpacking: &unpacker)
    }

    /// The bytes a packed record takes in `packed`, its length's varint included.
    @usableFromInline func packedCount(at offset: Int) -> Int {
        var unpacker = RecordUnpacker(packed[offset...], words: words)
        let length = Int(unpacker.read() as UInt64)
        return unpacker.position - offset + length
    }

    /// Frees what a place held (its live slot, or its packed bytes).
    @usableFromInline mutating func release(_ place: Place) {
        if let slot = place.liveSlot {
            live[slot] = nil
            freeLive.append(slot)
        } else if let offset = place.packedOffset {
            unusedBytes += packedCount(at: offset)
        }
    }

    @usableFromInline mutating func compactIfMostlyUnused() {
        guard unusedBytes > 65_536, unusedBytes * 2 > packed.count else { return }
        var compacted: [UInt8] = []
        compacted.reserveCapacity(packed.count - unusedBytes)
        for index in places.indices {
            guard let offset = places[index].packedOffset else { continue }
            places[index] = .packed(at: compacted.count)
            compacted.append(contentsOf: packed[offset..<offset + packedCount(at: offset)])
        }
        packed = compacted
        unusedBytes = 0
    }

    /// The records, in id order (settled ones are unpacked as the iteration reaches them).
    @inlinable public var values: Values { Values(table: self) }

    /// The ids held, in order.
    @inlinable public var keys: [ID] {
        var keys: [ID] = []
        keys.reserveCapacity(count)
        forEachSummary { id, _ in keys.append(id) }
        return keys
    }

    /// Calls `body` with every record's summary, in id order, copying nothing.
    @inlinable public func forEachSummary(_ body: (ID, Record.Summary) throws -> Void) rethrows {
        for (index, summary) in summaries.enumerated() {
            if let summary { try body(ID(index + 1), summary) }
        }
    }

    /// The records of a table, in id order.
    public struct Values: Sequence {
        @usableFromInline let table: RecordTable

        @inlinable init(table: RecordTable) {
            self.table = table
        }

        @inlinable public func makeIterator() -> Iterator { Iterator(table: table) }
        @inlinable public var underestimatedCount: Int { table.count }

        public struct Iterator: IteratorProtocol {
            @usableFromInline var inner: RecordTable.Iterator

            @inlinable init(table: RecordTable) {
                self.inner = table.makeIterator()
            }

            @inlinable public mutating func next() -> Record? { inner.next()?.value }
        }
    }
}

extension RecordTable: Sequence {
    public struct Iterator: IteratorProtocol {
        @usableFromInline let table: RecordTable
        @usableFromInline var position = 0

        @inlinable init(table: RecordTable) {
            self.table = table
        }

        @inlinable public mutating func next() -> (key: ID, value: Record)? {
            while position < table.places.count {
                position += 1
                if let record = table.record(at: table.places[position - 1]) { return (ID(position), record) }
            }
            return nil
        }
    }

    @inlinable public func makeIterator() -> Iterator { Iterator(table: self) }
    @inlinable public var underestimatedCount: Int { count }
}
