import InternCore
import Testing

/// A record that settles when it is done: what the table's own tests store.
private struct Entry: SettlingRecord, Equatable {
    var text: String
    var done = false

    init(_ text: String, done: Bool = false) {
        self.text = text
        self.done = done
    }

    var isSettled: Bool { done }
    var summary: Int { text.count }

    func pack(into packer: inout RecordPacker) {
        packer.write(text)
        packer.write(done)
    }

    init(unpacking unpacker: inout RecordUnpacker) {
        self.init(unpacker.read(), done: unpacker.read())
    }
}

/// The machine's table of trials and attempts reads like the dictionary it replaced, whether a
/// record is kept as it is or packed.
@Suite struct RecordTableTests {
    @Test(arguments: [false, true]) func getSetRemoveAndCount(settled: Bool) {
        var table = RecordTable<Int, Entry>()
        #expect(table.isEmpty && table[1] == nil && table[0] == nil && table[-3] == nil)
        table[1] = Entry("a", done: settled)
        table[3] = Entry("c", done: settled)
        #expect(table.count == 2)
        #expect(table[2] == nil && table[3] == Entry("c", done: settled) && table[4] == nil)
        table[3] = Entry("C", done: settled)
        #expect(table.count == 2 && table[3]?.text == "C")
        table[1] = nil
        table[9] = nil
        #expect(table.count == 1 && table[1] == nil)
        table[3]!.text.append("!")
        #expect(table[3]?.text == "C!")
        #expect(table.liveCount == (settled ? 0 : 1))
        #expect(table.packedBytes == (settled ? 5 : 0))  // a length, "C!" and a flag
    }

    @Test func iteratesInIDOrder() {
        var table = RecordTable<UInt64, Entry>()
        for id: UInt64 in [5, 2, 7] { table[id] = Entry(String(id * 10), done: id == 5) }
        #expect(table.values.map(\.text) == ["20", "50", "70"])
        #expect(table.keys == [2, 5, 7])
        #expect(table.map { $0.key } == [2, 5, 7])
        #expect(table.map { $0.value.text } == ["20", "50", "70"])
        #expect(table.values.filter { $0.done }.map(\.text) == ["50"])
        var summaries: [UInt64: Int] = [:]
        table.forEachSummary { id, summary in summaries[id] = summary }
        #expect(summaries == [2: 2, 5: 2, 7: 2])
    }

    /// A record that settles leaves the live records for the packed ones, and its live slot is
    /// used again; one set again while settled leaves its old bytes unused until they are most
    /// of the buffer, which is then compacted.
    @Test func settlingPacks_andReusesTheLiveSlot_andCompactsWhatIsUnused() {
        var table = RecordTable<Int, Entry>()
        for id in 1...1_000 { table[id] = Entry("trial \(id)") }
        #expect(table.liveCount == 1_000 && table.packedBytes == 0)
        for id in 1...1_000 { table[id]!.done = true }
        #expect(table.liveCount == 0)
        #expect(table.packedBytes == (1...1_000).reduce(0) { $0 + 3 + "trial \($1)".utf8.count })
        table[1_001] = Entry("new")
        #expect(table.liveCount == 1)
        for round in 1...100 {
            for id in 1...1_000 { table[id] = Entry("trial \(id) round \(round)", done: true) }
        }
        #expect(table.count == 1_001)
        #expect(table.values.prefix(1_000).allSatisfy { $0.text.hasSuffix(" round 100") && $0.done })
        #expect(table[1_001] == Entry("new"))
        let expected = (1...1_000).reduce(0) { $0 + 3 + "trial \($1) round 100".utf8.count }
        #expect(table.packedBytes == expected)
    }
}
