import GRDB

/// One schema change, applied once per database, in the order given, through GRDB's
/// `DatabaseMigrator` (which records applied identifiers in `grdb_migrations`).
///
/// Each service contributes its migrations when the daemon opens the store:
///
/// ```swift
/// let stateV1 = SidecarMigration("state-v1") { db in
///     try db.execute(sql: "CREATE TABLE state_history (revision INTEGER PRIMARY KEY, patch TEXT NOT NULL)")
/// }
/// let database = try SidecarDatabase(configuration: configuration, migrations: [stateV1])
/// ```
///
/// An identifier is forever: once released, a migration is never edited or renamed; change
/// the schema with a new migration instead.
public struct SidecarMigration: Sendable {
    /// The unique, permanent name of the migration, such as `state-v1`.
    public var identifier: String
    /// The schema change. It runs inside a transaction: if it throws, nothing of it remains.
    public var migrate: @Sendable (Database) throws -> Void

    /// - Parameters:
    ///   - identifier: the unique, permanent name of the migration.
    ///   - migrate: the schema change.
    public init(_ identifier: String, migrate: @escaping @Sendable (Database) throws -> Void) {
        self.identifier = identifier
        self.migrate = migrate
    }
}

extension SidecarMigration {
    /// The store's own migrations, applied before any service's.
    static let builtIn: [SidecarMigration] = [MetaTable.migration]
}
