/// Why the database could not be opened or used. The message names the file and says what
/// to do; ``code`` is stable for programs.
public struct SidecarDatabaseError: Error, Sendable, CustomStringConvertible {
    /// The stable kind of failure.
    public enum Code: String, Sendable {
        /// The configuration is unusable (for example zero readers).
        case invalidConfiguration
        /// The data directory does not exist and could not be created, or is not a directory.
        case cannotCreateDirectory
        /// SQLite could not open the file (permissions, a directory in its place, ...).
        case cannotOpen
        /// The file is not an SQLite database or failed the integrity check. It was left as it was.
        case corrupt
        /// A migration threw; the database stays at the last migration that completed.
        case migrationFailed
        /// The database holds migrations this build does not know: a newer version wrote it.
        case newerSchema
        /// The database was closed with ``SidecarDatabase/close()``.
        case closed
    }

    /// The kind of failure.
    public var code: Code
    /// The file or directory concerned.
    public var path: String
    /// What went wrong and what to do, for people.
    public var message: String
    /// The error that caused this one, if any (usually a GRDB `DatabaseError`).
    public var underlying: (any Error)?

    public init(code: Code, path: String, message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.underlying = underlying
    }

    public var description: String { message }
}

extension SidecarDatabaseError {
    static func invalidConfiguration(_ path: String, _ detail: String) -> Self {
        Self(code: .invalidConfiguration, path: path, message: "invalid database configuration for \(path): \(detail)")
    }

    static func cannotCreateDirectory(_ path: String, _ detail: String, underlying: (any Error)? = nil) -> Self {
        Self(
            code: .cannotCreateDirectory, path: path,
            message: "cannot create the data directory \(path): \(detail). "
                + "Create it (mode 0700) or choose another directory with --data-dir.",
            underlying: underlying)
    }

    static func cannotOpen(_ path: String, _ detail: String, underlying: (any Error)? = nil) -> Self {
        Self(
            code: .cannotOpen, path: path,
            message: "cannot open the database \(path): \(detail). "
                + "Check that this user can read and write it and its directory, or choose another --data-dir.",
            underlying: underlying)
    }

    static func corrupt(_ path: String, _ detail: String, underlying: (any Error)? = nil) -> Self {
        Self(
            code: .corrupt, path: path,
            message: "the database \(path) is not a valid SQLite database or is damaged (\(detail)). "
                + "It was left untouched. Restore it from a backup, or move it aside "
                + "(for example to \(path).corrupt) to start with an empty database.",
            underlying: underlying)
    }

    static func migrationFailed(_ path: String, identifier: String, underlying: any Error) -> Self {
        Self(
            code: .migrationFailed, path: path,
            message: "migration '\(identifier)' failed on \(path): \(underlying). "
                + "The database was left at the last migration that completed; report this as a bug.",
            underlying: underlying)
    }

    static func newerSchema(_ path: String, unknown: [String]) -> Self {
        Self(
            code: .newerSchema, path: path,
            message: "the database \(path) was migrated by a newer version of sidecar "
                + "(unknown migrations: \(unknown.joined(separator: ", "))). "
                + "Run that version, or move the file aside to start with an empty database.")
    }

    static func closed(_ path: String) -> Self {
        Self(code: .closed, path: path, message: "the database \(path) is closed")
    }
}
