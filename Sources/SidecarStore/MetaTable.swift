import GRDB
import SidecarProtocol

/// A small key/value table for facts about the database itself (the next revision, when it
/// was created, ...): `meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)` with JSON values.
///
/// ```swift
/// try await database.write { db in try MetaTable.setValue(.int(42), forKey: "state.revision", in: db) }
/// let revision = try await database.read { db in try MetaTable.value(forKey: "state.revision", in: db) }
/// ```
public enum MetaTable {
    /// The table's name.
    public static let tableName = "meta"

    /// Creates the table; registered by the store itself as migration `sidecar-meta-v1`.
    static let migration = SidecarMigration("sidecar-meta-v1") { db in
        try db.execute(sql: """
            CREATE TABLE meta (
                key TEXT PRIMARY KEY NOT NULL,
                value TEXT NOT NULL
            ) WITHOUT ROWID
            """)
    }

    /// The value stored under `key`, or `nil` when there is none.
    /// - Throws: a GRDB `DatabaseError`, or a `JSONParseError` when the stored text is not JSON
    ///   (only possible if something other than ``setValue(_:forKey:in:)`` wrote it).
    public static func value(forKey key: String, in db: Database) throws -> JSONValue? {
        guard let text = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) else {
            return nil
        }
        return try JSONParser.parse(text)
    }

    /// Stores `value` under `key`, replacing what was there.
    public static func setValue(_ value: JSONValue, forKey key: String, in db: Database) throws {
        try db.execute(
            sql: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            arguments: [key, JSONWriter.string(value)])
    }

    /// Removes `key`.
    /// - Returns: whether there was a value to remove.
    @discardableResult
    public static func removeValue(forKey key: String, in db: Database) throws -> Bool {
        try db.execute(sql: "DELETE FROM meta WHERE key = ?", arguments: [key])
        return db.changesCount > 0
    }
}
