import InternCore
import Testing

/// The machine's table of trials and attempts reads like the dictionary it replaced.
@Suite struct RecordTableTests {
    @Test func getSetRemoveAndCount() {
        var table = RecordTable<Int, String>()
        #expect(table.isEmpty && table[1] == nil && table[0] == nil && table[-3] == nil)
        table[1] = "a"
        table[3] = "c"
        #expect(table.count == 2)
        #expect(table[2] == nil && table[3] == "c" && table[4] == nil)
        table[3] = "C"
        #expect(table.count == 2 && table[3] == "C")
        table[1] = nil
        table[9] = nil
        #expect(table.count == 1 && table[1] == nil)
        table[3]!.append("!")
        #expect(table[3] == "C!")
    }

    @Test func iteratesInIDOrder() {
        var table = RecordTable<UInt64, Int>()
        for id: UInt64 in [5, 2, 7] { table[id] = Int(id) * 10 }
        #expect(Array(table.values) == [20, 50, 70])
        #expect(table.keys == [2, 5, 7])
        #expect(table.map { $0.key } == [2, 5, 7])
        #expect(table.map { $0.value } == [20, 50, 70])
        #expect(table.values.filter { $0 > 30 } == [50, 70])
    }
}
