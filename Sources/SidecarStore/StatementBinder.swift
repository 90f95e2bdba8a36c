import GRDB
import GRDBSQLite
import SidecarProtocol

/// Runs a prepared GRDB statement with its parameters bound through SQLite's C API, for the
/// statements the daemon runs once per change or per task. GRDB's `StatementArguments` boxes
/// every value in an existential; on the writer thread that was a third of the time per row.
///
/// ```swift
/// var binder = StatementBinder(statement)
/// binder.bind(task.id)
/// binder.bind(task.attempt)
/// try binder.execute()
/// ```
public struct StatementBinder {
    private let statement: Statement
    private let handle: OpaquePointer
    private var index: Int32 = 1
    /// `SQLITE_TRANSIENT`, which Swift cannot import: SQLite copies the text before returning.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// Starts binding `statement`'s parameters from the first.
    public init(_ statement: Statement) {
        self.statement = statement
        self.handle = statement.sqliteStatement
        sqlite3_reset(handle)
    }

    /// Binds the next parameter to `text`, or to NULL.
    public mutating func bind(_ text: String?) {
        guard var text else {
            sqlite3_bind_null(handle, index)
            index += 1
            return
        }
        // Through `withUTF8`, not by passing the String as a C string: a short string has no
        // storage of its own, and that conversion would allocate a copy of it for every row.
        text.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { bind(text: $0) }
        }
    }

    /// Binds the next parameter to the text `utf8` holds (valid UTF-8, such as JSON that
    /// `JSONWriter` wrote), without making a `String` of it first.
    public mutating func bind(utf8 bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { bind(text: $0) }
        }
    }

    /// Binds the next parameter to `value` as JSON text, or to NULL. The text is written into
    /// `scratch`, which the caller keeps for the next value (SQLite copies what is bound), so
    /// that a row of several JSON columns allocates nothing once `scratch` has grown.
    public mutating func bind(json value: JSONValue?, scratch: inout [UInt8]) {
        guard let value else {
            bind(nil as String?)
            return
        }
        scratch.removeAll(keepingCapacity: true)
        JSONWriter.write(value, into: &scratch)
        bind(utf8: scratch)
    }

    /// Binds the next parameter to the UTF-8 text in `text` (which SQLite copies).
    private mutating func bind(text: UnsafeBufferPointer<CChar>) {
        if let start = text.baseAddress {
            sqlite3_bind_text(handle, index, start, Int32(text.count), Self.transient)
        } else {
            sqlite3_bind_text(handle, index, "", 0, Self.transient)  // a null pointer would bind NULL
        }
        index += 1
    }

    /// Binds the next parameter to `integer`, or to NULL.
    public mutating func bind(_ integer: Int64?) {
        if let integer {
            sqlite3_bind_int64(handle, index, integer)
        } else {
            sqlite3_bind_null(handle, index)
        }
        index += 1
    }

    /// Binds the next parameter to `integer`.
    public mutating func bind(_ integer: Int) {
        bind(Int64(integer))
    }

    /// Binds the next parameter to `number`.
    public mutating func bind(_ number: Double) {
        sqlite3_bind_double(handle, index, number)
        index += 1
    }

    /// Runs the statement once (it must return no rows).
    /// - Throws: GRDB's `DatabaseError` with SQLite's code and message and the statement's SQL.
    public func execute() throws {
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: code),
                message: String(cString: sqlite3_errmsg(sqlite3_db_handle(handle))),
                sql: statement.sql)
        }
    }
}
