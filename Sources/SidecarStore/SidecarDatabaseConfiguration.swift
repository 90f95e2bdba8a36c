/// Where the database lives and how it behaves: pool size, slow-query threshold, durability.
///
/// ```swift
/// var configuration = SidecarDatabaseConfiguration(dataDirectory: dataDirectory)
/// configuration.maximumReaderCount = 8
/// configuration.slowQueryThreshold = .milliseconds(20)
/// ```
public struct SidecarDatabaseConfiguration: Sendable {
    /// The database file's name inside ``dataDirectory``.
    public static let defaultFileName = "sidecar.sqlite"

    /// The directory that holds the database; created with mode 0700 when missing.
    public var dataDirectory: String
    /// The database file's name inside ``dataDirectory``.
    public var fileName: String = SidecarDatabaseConfiguration.defaultFileName
    /// The number of reader connections (`--db-readers`); reads beyond it wait for a free one.
    public var maximumReaderCount: Int = 5
    /// Statements that run at least this long are logged and kept in the slow-query log
    /// (`--slow-query-ms`).
    public var slowQueryThreshold: Duration = .milliseconds(50)
    /// How many slow queries the log keeps; older ones make room for newer ones.
    public var slowQueryLogCapacity: Int = 100
    /// How hard a commit pushes data to the disk. See ``SynchronousMode``.
    public var synchronous: SynchronousMode = .normal
    /// Whether opening runs `PRAGMA quick_check`, refusing a damaged database. It reads the
    /// whole file once, which is quick for the sizes a desktop sidecar keeps.
    public var checksIntegrityOnOpen = true
    /// The most writes one group-commit transaction holds; more wait for the next one. It
    /// bounds how long the first write of a burst waits for its acknowledgement.
    public var maximumWritesPerTransaction = 1_000
    /// How long a connection waits for a lock that another process holds (for example the
    /// `sqlite3` shell reading the file) before failing with `SQLITE_BUSY`.
    public var busyTimeout: Duration = .seconds(5)

    /// - Parameter dataDirectory: the directory that holds (or will hold) the database.
    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    /// The database file: ``dataDirectory`` + `/` + ``fileName``.
    public var databasePath: String {
        dataDirectory.hasSuffix("/") ? dataDirectory + fileName : dataDirectory + "/" + fileName
    }

    /// The data directory used when none is given: `$XDG_STATE_HOME/sidecar`, else
    /// `$HOME/.local/state/sidecar`; `nil` when neither variable is set.
    /// - Parameter environment: the process environment (injectable for tests).
    public static func defaultDataDirectory(environment: [String: String]) -> String? {
        if let state = environment["XDG_STATE_HOME"], !state.isEmpty { return state + "/sidecar" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.local/state/sidecar" }
        return nil
    }
}

/// SQLite's `PRAGMA synchronous` for the writer connection.
///
/// In WAL mode a commit appends the transaction to the `-wal` file with `write(2)` before
/// `COMMIT` returns, in both modes. Once it is in the kernel's page cache it survives the
/// process dying in any way, `kill -9` included; the next open replays the WAL.
/// The modes differ only when the machine itself stops (power loss, kernel panic):
public enum SynchronousMode: String, Sendable {
    /// `fsync` only at checkpoints. A power loss may undo the last transactions acknowledged
    /// before it (the database stays consistent). This is the default: it meets "an
    /// acknowledged write survives `kill -9`" and costs no `fsync` per commit.
    case normal = "NORMAL"
    /// `fsync` of the WAL at every commit: acknowledged writes survive a power loss too.
    /// Group commit pays it once per batch, not once per write.
    case full = "FULL"
}
