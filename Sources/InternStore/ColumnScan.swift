import GRDB
import GRDBSQLite

/// A query's rows read straight from SQLite's statement, for the scans of every trial or attempt
/// that an analysis makes (the digest's outcomes and cost). GRDB's `Row` costs about a
/// microsecond a row there, several times SQLite's own work: on 10,000 trials the digest spent
/// 9 ms of its scan of the outcomes and 20 ms of its scan of the attempts in it.
struct ColumnScan {
    /// One row, valid only inside the body it is given to.
    struct Columns {
        fileprivate let statement: SQLiteStatement

        /// A negative index is a column the query lacks: NULL.
        func isNull(_ index: Int32) -> Bool { index < 0 || sqlite3_column_type(statement, index) == SQLITE_NULL }
        func int64(_ index: Int32) -> Int64 { index < 0 ? 0 : sqlite3_column_int64(statement, index) }
        func int(_ index: Int32) -> Int { Int(int64(index)) }
        func double(_ index: Int32) -> Double { index < 0 ? 0 : sqlite3_column_double(statement, index) }
        func optionalInt64(_ index: Int32) -> Int64? { isNull(index) ? nil : int64(index) }
        func optionalDouble(_ index: Int32) -> Double? { isNull(index) ? nil : double(index) }
        /// An integer column as GRDB reads a `Bool`: nonzero is true.
        func optionalBool(_ index: Int32) -> Bool? { isNull(index) ? nil : int64(index) != 0 }

        func optionalText(_ index: Int32) -> String? {
            guard index >= 0, let bytes = sqlite3_column_text(statement, index) else { return nil }
            let count = Int(sqlite3_column_bytes(statement, index))
            return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
        }

        func text(_ index: Int32) -> String { optionalText(index) ?? "" }

        /// The position of each of the statement's columns, by name (the first, for a name given twice).
        func positions() -> [String: Int32] {
            var positions: [String: Int32] = [:]
            for index in 0..<sqlite3_column_count(statement) {
                guard let name = sqlite3_column_name(statement, index) else { continue }
                positions[String(cString: name)] = positions[String(cString: name)] ?? index
            }
            return positions
        }

        /// The case among `cases` whose raw value the text column holds, compared as bytes (no
        /// string is made); nil for NULL or another text.
        func value<E>(_ index: Int32, in cases: Cases<E>) -> E? {
            guard let bytes = sqlite3_column_text(statement, index) else { return nil }
            let column = UnsafeRawBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(statement, index)))
            for (raw, value) in cases.table where raw.count == column.count && raw.elementsEqual(column) { return value }
            return nil
        }

        /// How many strings a stored list of strings (`["0","1"]`) holds, counted without decoding
        /// it where no string in it has an escape; decoded otherwise. nil for NULL or not a list.
        func stringCount(_ index: Int32) -> Int? {
            guard let bytes = sqlite3_column_text(statement, index) else { return nil }
            let column = UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(statement, index)))
            guard column.first == UInt8(ascii: "["), column.last == UInt8(ascii: "]") else { return decodeStrings(text(index))?.count }
            if column.count == 2 { return 0 }
            var quotes = 0
            for byte in column {
                if byte == UInt8(ascii: "\\") { return decodeStrings(text(index))?.count }
                if byte == UInt8(ascii: "\"") { quotes += 1 }
            }
            return quotes % 2 == 0 ? quotes / 2 : decodeStrings(text(index))?.count
        }
    }

    /// Each case of an enumeration of strings with its raw value's bytes, made once per scan.
    struct Cases<E> {
        fileprivate let table: [([UInt8], E)]

        init(_: E.Type) where E: CaseIterable & RawRepresentable, E.RawValue == String {
            table = E.allCases.map { (Array($0.rawValue.utf8), $0) }
        }
    }

    /// Runs `sql` with `arguments` and gives `body` each row in turn.
    static func forEach(
        _ db: Database, sql: String, arguments: StatementArguments = StatementArguments(), _ body: (Columns) throws -> Void
    ) throws {
        let statement = try db.makeStatement(sql: sql)
        try statement.setArguments(arguments)
        let columns = Columns(statement: statement.sqliteStatement)
        while true {
            let code = sqlite3_step(statement.sqliteStatement)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: sql)
            }
            try body(columns)
        }
    }
}
