import Foundation
import GRDB
import Logging
import SidecarProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The daemon's SQLite database: one file in WAL mode behind a GRDB `DatabasePool` (one
/// writer connection, a pool of reader connections), migrated on open, with group commit for
/// writes and query metrics for `sidecar.metrics`.
///
/// ```swift
/// let historyV1 = SidecarMigration("state-history-v1") { db in
///     try db.execute(sql: "CREATE TABLE state_history (revision INTEGER PRIMARY KEY, patch TEXT NOT NULL)")
/// }
/// let database = try SidecarDatabase(
///     configuration: SidecarDatabaseConfiguration(dataDirectory: dataDirectory),
///     migrations: [historyV1])
/// try await database.write { db in
///     try db.execute(sql: "INSERT INTO state_history (revision, patch) VALUES (?, ?)", arguments: [7, patch])
/// }
/// let count = try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM state_history") }
/// try await database.close()
/// ```
///
/// Opening never replaces a file it cannot read: a file that is not a database, or is damaged,
/// is an error that names it (``SidecarDatabaseError/Code/corrupt``), and the file is left as it was.
public final class SidecarDatabase: Sendable {
    /// The configuration the database was opened with.
    public let configuration: SidecarDatabaseConfiguration
    /// The database file.
    public var path: String { configuration.databasePath }

    let pool: DatabasePool
    private let instrumentation: DatabaseInstrumentation
    private let checkpointer: WALCheckpointer
    let committer: GroupCommitter

    // MARK: - Opening

    /// Opens the database, creating the data directory (mode 0700) and an empty database when
    /// they are missing, checks the file, and applies the store's own migrations followed by
    /// `migrations`, each once, in order. Blocks while it does so: call it at startup.
    ///
    /// - Parameters:
    ///   - configuration: where the file is and how the pool behaves.
    ///   - migrations: the services' schema changes, in the order they must run.
    ///   - logger: receives the slow-query log.
    /// - Throws: ``SidecarDatabaseError``: the directory cannot be created, the file cannot be
    ///   opened, is not a database or is damaged, a migration fails, or the file was migrated
    ///   by a newer version.
    public init(
        configuration: SidecarDatabaseConfiguration,
        migrations: [SidecarMigration] = [],
        logger: Logger = Logger(label: "sidecar.store")
    ) throws {
        let path = configuration.databasePath
        try Self.validate(configuration, migrations: migrations)
        try Self.prepareDirectory(configuration.dataDirectory)
        try Self.prepareFile(path)

        if configuration.checksIntegrityOnOpen {
            try Self.checkIntegrity(path)
        }

        let instrumentation = DatabaseInstrumentation(configuration: configuration, logger: logger)
        var grdbConfiguration = Configuration()
        grdbConfiguration.label = "sidecar"
        grdbConfiguration.maximumReaderCount = configuration.maximumReaderCount
        grdbConfiguration.busyMode = .timeout(Double(configuration.busyTimeout.milliseconds) / 1_000)
        grdbConfiguration.prepareDatabase { db in instrumentation.install(on: db) }

        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: grdbConfiguration)
        } catch {
            throw Self.openError(path, error)
        }
        let checkpointer: WALCheckpointer
        do {
            try Self.setUp(pool, configuration: configuration, migrations: migrations)
            checkpointer = try WALCheckpointer(path: path, busyTimeout: configuration.busyTimeout)
            try pool.writeWithoutTransaction { db in try checkpointer.install(on: db) }
        } catch let error as SidecarDatabaseError {
            try? pool.close()
            throw error
        } catch {
            try? pool.close()
            throw Self.openError(path, error)
        }

        self.configuration = configuration
        self.pool = pool
        self.instrumentation = instrumentation
        self.checkpointer = checkpointer
        self.committer = GroupCommitter(
            pool: pool, instrumentation: instrumentation,
            maximumBatch: configuration.maximumWritesPerTransaction)
    }

    private static func validate(_ configuration: SidecarDatabaseConfiguration, migrations: [SidecarMigration]) throws {
        let path = configuration.databasePath
        guard configuration.maximumReaderCount >= 1 else {
            throw SidecarDatabaseError.invalidConfiguration(path, "maximumReaderCount must be at least 1")
        }
        guard configuration.maximumWritesPerTransaction >= 1 else {
            throw SidecarDatabaseError.invalidConfiguration(path, "maximumWritesPerTransaction must be at least 1")
        }
        guard !configuration.fileName.isEmpty, !configuration.fileName.contains("/") else {
            throw SidecarDatabaseError.invalidConfiguration(path, "fileName must be a plain file name")
        }
        var identifiers = Set<String>()
        for migration in SidecarMigration.builtIn + migrations {
            guard identifiers.insert(migration.identifier).inserted else {
                throw SidecarDatabaseError.invalidConfiguration(
                    path, "migration '\(migration.identifier)' is registered twice")
            }
        }
    }

    /// Creates the data directory with mode 0700 (and any missing parents) when missing.
    private static func prepareDirectory(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw SidecarDatabaseError.cannotCreateDirectory(directory, "a file that is not a directory is in the way")
            }
            return
        }
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw SidecarDatabaseError.cannotCreateDirectory(directory, "\(error)", underlying: error)
        }
        // The umask can only remove bits; make sure the final mode is exactly 0700.
        if chmod(directory, 0o700) != 0 {
            throw SidecarDatabaseError.cannotCreateDirectory(directory, String(cString: strerror(errno)))
        }
    }

    /// Creates an empty database file with mode 0600 when there is none, so that SQLite's
    /// `-wal` and `-shm` files, which copy the database file's mode, are private too. An empty
    /// file is a valid empty database to SQLite. An existing file is left alone.
    private static func prepareFile(_ path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if descriptor >= 0 {
            closeDescriptor(descriptor)
            return
        }
        let code = errno
        guard code == EEXIST else {
            throw SidecarDatabaseError.cannotOpen(path, String(cString: strerror(code)))
        }
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw SidecarDatabaseError.cannotOpen(path, String(cString: strerror(errno)))
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw SidecarDatabaseError.cannotOpen(path, "it is not a regular file")
        }
    }

    /// Runs `PRAGMA quick_check` on a read-only connection, before the pool opens: the pool
    /// writes as soon as it opens (GRDB switches the file to WAL and makes sure the WAL is not
    /// empty), and closing the last read-write connection checkpoints the WAL into the main
    /// file. A damaged file must not be written to, so the check comes first and cannot write.
    private static func checkIntegrity(_ path: String) throws {
        var readOnly = Configuration()
        readOnly.readonly = true
        readOnly.label = "sidecar.integrity-check"
        let problems: [String]
        do {
            let connection = try DatabaseQueue(path: path, configuration: readOnly)
            defer { try? connection.close() }
            problems = try connection.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
        } catch {
            throw openError(path, error)
        }
        guard problems == ["ok"] else {
            throw SidecarDatabaseError.corrupt(path, "quick_check: " + problems.prefix(5).joined(separator: "; "))
        }
    }

    /// Durability and migrations: everything after the pool exists.
    private static func setUp(
        _ pool: DatabasePool,
        configuration: SidecarDatabaseConfiguration,
        migrations: [SidecarMigration]
    ) throws {
        let path = configuration.databasePath
        // GRDB sets NORMAL when it switches the pool to WAL; only the writer commits, so only
        // its connection needs another setting.
        if configuration.synchronous != .normal {
            do {
                try pool.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA synchronous = \(configuration.synchronous.rawValue)")
                }
            } catch {
                throw openError(path, error)
            }
        }

        var migrator = DatabaseMigrator()
        for migration in SidecarMigration.builtIn + migrations {
            migrator.registerMigration(migration.identifier) { db in
                do {
                    try migration.migrate(db)
                } catch {
                    throw MigrationFailure(identifier: migration.identifier, underlying: error)
                }
            }
        }
        do {
            let applied = try pool.read { db in try migrator.appliedIdentifiers(db) }
            let unknown = applied.subtracting(migrator.migrations)
            guard unknown.isEmpty else {
                throw SidecarDatabaseError.newerSchema(path, unknown: unknown.sorted())
            }
            try migrator.migrate(pool)
        } catch let error as SidecarDatabaseError {
            throw error
        } catch let failure as MigrationFailure {
            throw SidecarDatabaseError.migrationFailed(path, identifier: failure.identifier, underlying: failure.underlying)
        } catch {
            throw openError(path, error)
        }
    }

    /// A migration's error tagged with the migration, so that the report can name it.
    private struct MigrationFailure: Error {
        var identifier: String
        var underlying: any Error
    }

    /// Sorts an error from opening or checking the file into "damaged" or "cannot open".
    private static func openError(_ path: String, _ error: any Error) -> SidecarDatabaseError {
        if let error = error as? DatabaseError {
            let detail = error.message ?? "\(error.resultCode)"
            switch error.resultCode.primaryResultCode {
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                return .corrupt(path, detail, underlying: error)
            default:
                return .cannotOpen(path, detail, underlying: error)
            }
        }
        return .cannotOpen(path, "\(error)", underlying: error)
    }

    // MARK: - Access

    /// Runs `work` on a reader connection, in a read-only transaction that sees the database
    /// as of the last commit before it started; reads run concurrently with each other and
    /// with writes, up to ``SidecarDatabaseConfiguration/maximumReaderCount`` at a time.
    ///
    /// - Parameter work: reads the database. It must not write (SQLite refuses).
    /// - Returns: what `work` returns.
    /// - Throws: what `work` throws, a GRDB `DatabaseError`, or ``SidecarDatabaseError`` (`closed`).
    public func read<T: Sendable>(_ work: @Sendable (Database) throws -> T) async throws -> T {
        guard !committer.isClosed else { throw SidecarDatabaseError.closed(path) }
        let requested = ContinuousClock.now
        return try await pool.read { db in
            let started = ContinuousClock.now
            defer { instrumentation.recordRead(wait: started - requested, busy: .now - started) }
            return try work(db)
        }
    }

    /// Runs `work` in the next group-commit transaction and returns once that transaction has
    /// committed: an acknowledged write is on disk (in the WAL) and survives the process being
    /// killed.
    ///
    /// Writes that arrive while a transaction runs are committed together in the next one,
    /// each inside its own savepoint: if `work` throws, only its changes are rolled back and
    /// only this call fails; the others commit.
    ///
    /// - Parameter work: changes the database. It runs on the writer connection, serialised
    ///   with every other write. It must not begin, commit or roll back transactions itself,
    ///   and must have no effects outside the database: in the rare case SQLite aborts a whole
    ///   transaction because of another write (disk full, I/O error), it runs again.
    /// - Returns: what `work` returns.
    /// - Throws: what `work` throws; a GRDB `DatabaseError` when the transaction cannot begin or
    ///   commit (the write did not happen); ``SidecarDatabaseError`` (`closed`). Cancelling the
    ///   calling task does not withdraw a write once submitted.
    public func write<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            write(work) { continuation.resume(with: $0) }
        }
    }

    /// ``write(_:)`` for a caller that is not a task: `completion` is called once, on the
    /// writer's queue, after the transaction holding `work` has committed (or failed). Keep it
    /// short: hand the result to the caller's own executor (an event loop) and return.
    ///
    /// - Parameters:
    ///   - work: as for ``write(_:)``.
    ///   - completion: receives what `work` returned, or the error (as for ``write(_:)``).
    public func write<T: Sendable>(
        _ work: @escaping @Sendable (Database) throws -> T,
        completion: @escaping @Sendable (Result<T, any Error>) -> Void
    ) {
        let write = PendingWrite(
            enqueuedAt: .now,
            run: { db in
                let value = try work(db)
                return { completion(.success(value)) }
            },
            fail: { completion(.failure($0)) })
        if !committer.submit(write) {
            completion(.failure(SidecarDatabaseError.closed(path)))
        }
    }

    // MARK: - Metrics

    /// The query metrics, for `sidecar.metrics` under `db`:
    ///
    /// ```json
    /// {"statements": {"select": {"count": 120, "totalMs": 4.0, "meanMs": 0.03}, "insert": {...},
    ///                 "update": {...}, "delete": {...}, "other": {...}},
    ///  "poolWaitMs": {"read": {"count", "totalMs", "meanMs", "maxMs"}, "write": {...}},
    ///  "utilisation": {"writer": 0.02, "readers": 0.004},
    ///  "transactions": {"commits", "failed", "writes", "failedWrites", "largestBatch"},
    ///  "checkpoints": {"count", "totalMs", "meanMs", "maxMs", "onWriter", "walFrames"},
    ///  "slowQueryThresholdMs": 50,
    ///  "slowQueries": [{"sql": "SELECT ...", "durationMs": 72.0, "at": "2025-01-01T12:00:00.000Z"}]}
    /// ```
    ///
    /// Statement times are SQLite's own (millisecond resolution per statement). Pool wait is
    /// the time between a call to ``read(_:)`` or ``write(_:)`` and the start of its work on a
    /// connection (for a write, that includes waiting for the previous transaction).
    /// Utilisation is busy time over the time since opening; for readers, over all
    /// ``SidecarDatabaseConfiguration/maximumReaderCount`` connections. `slowQueries` holds the
    /// last ``SidecarDatabaseConfiguration/slowQueryLogCapacity`` entries, oldest first.
    public func metricsSnapshot() -> JSONValue {
        var metrics = instrumentation.snapshot().objectValue ?? [:]
        metrics["checkpoints"] = checkpointer.json()
        return .object(metrics)
    }

    /// The slow-query log, oldest first.
    public var slowQueries: [SlowQuery] {
        instrumentation.current.slowQueries.entries
    }

    // MARK: - Closing

    /// Refuses new reads and writes, waits for queued writes to be answered, moves the WAL's
    /// content into the main file, and closes the connections. Reads still running when it is
    /// called finish first.
    /// - Throws: a GRDB `DatabaseError` if SQLite cannot close a connection.
    public func close() async throws {
        await committer.close()
        try? checkpointer.close()
        // SQLite folds the WAL back into the main file only when the last connection closes,
        // and that is a read-only reader here, which cannot. A checkpoint now leaves a
        // self-contained main file and an empty WAL. If it fails (another process is reading)
        // nothing is lost: the WAL stays and the next open uses it.
        _ = try? await pool.writeWithoutTransaction { db in
            try db.checkpoint(.truncate)
        }
        try pool.close()
    }
}

/// `close(2)`, out of reach of ``SidecarDatabase/close()`` inside the class.
private func closeDescriptor(_ descriptor: Int32) {
    close(descriptor)
}
