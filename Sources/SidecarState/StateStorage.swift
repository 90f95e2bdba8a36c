import GRDB
import SidecarProtocol
import SidecarStore

/// How the state document lives in SQLite: a log of changes (each with the patches that redo
/// and undo it) and a snapshot of the whole document, taken every so often so that start-up
/// replays only the changes after it.
enum StateStorage {
    static let migration = SidecarMigration("state-v1") { db in
        try db.execute(sql: """
            CREATE TABLE state_change (
                revision INTEGER PRIMARY KEY,
                time INTEGER NOT NULL,
                action TEXT,
                path TEXT NOT NULL,
                patch TEXT NOT NULL,
                inverse TEXT NOT NULL
            );
            CREATE TABLE state_snapshot (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                revision INTEGER NOT NULL,
                document TEXT NOT NULL
            );
            """)
    }

    /// What start-up reads back: the document, and what the snapshot policy needs to go on.
    struct Loaded {
        var document: StateDocument
        var snapshotPolicy: SnapshotPolicy
    }

    /// What a batch wrote, in bytes of JSON text.
    struct Written: Sendable {
        var logBytes = 0
        /// The size of the batch's last snapshot, if it stored one.
        var snapshotBytes: Int?
    }

    /// Loads the document: the snapshot, then every later change in order.
    static func load(_ db: Database, snapshotMinimumChanges: Int = 100) throws -> Loaded {
        var document = StateDocument()
        var snapshotBytes = 0
        if let row = try Row.fetchOne(db, sql: "SELECT revision, document FROM state_snapshot WHERE id = 1") {
            let text: String = row["document"]
            snapshotBytes = text.utf8.count
            document = StateDocument(root: try JSONParser.parse(text), revision: row["revision"])
        }
        let rows = try Row.fetchCursor(
            db,
            sql: "SELECT revision, time, action, path, patch, inverse FROM state_change WHERE revision > ? ORDER BY revision",
            arguments: [document.revision]
        )
        var replayed = 0
        var replayedBytes = 0
        while let row = try rows.next() {
            let stored = try storedChange(from: row)
            replayedBytes += stored.logBytes
            replayed += 1
            try document.replay(stored.change)
        }
        let policy = SnapshotPolicy(
            minimumChanges: snapshotMinimumChanges, changesSinceSnapshot: replayed,
            logBytesSinceSnapshot: replayedBytes, snapshotBytes: snapshotBytes)
        return Loaded(document: document, snapshotPolicy: policy)
    }

    /// Records `changes` in order; with a `snapshot`, a change also replaces the snapshot and
    /// trims the history to the newest `historyLimit` changes (never past the snapshot, which
    /// replay starts from).
    ///
    /// Batches may be queued while earlier ones are still on their way to disk, so each one
    /// first checks that it follows the newest stored change: a batch whose predecessor failed
    /// is refused rather than leave a gap that replay would stumble over.
    /// - Throws: ``StateStorageGap`` when the log does not end right before the first change.
    @discardableResult
    static func record(_ changes: [(change: StateChange, snapshot: JSONValue?)], historyLimit: Int, in db: Database) throws -> Written {
        var written = Written()
        guard let first = changes.first?.change.revision else { return written }
        let newest = try newestStoredRevision(db)
        guard newest == first - 1 else { throw StateStorageGap(newestStored: newest, next: first) }
        // Prepared once per transaction: the insert runs once per change, and parsing (or even
        // looking up) its SQL each time costs more than running it.
        let insert = try db.cachedStatement(
            sql: "INSERT INTO state_change (revision, time, action, path, patch, inverse) VALUES (?, ?, ?, ?, ?, ?)"
        )
        // One buffer each for the patch and its inverse, reused: SQLite copies what is bound.
        var patch: [UInt8] = []
        var inverse: [UInt8] = []
        patch.reserveCapacity(256)
        inverse.reserveCapacity(256)
        for (change, snapshot) in changes {
            var binder = StatementBinder(insert)
            binder.bind(change.revision)
            binder.bind(change.timeMilliseconds)
            binder.bind(change.action)
            binder.bind(change.path.description)
            patch.removeAll(keepingCapacity: true)
            inverse.removeAll(keepingCapacity: true)
            change.patch.writeJSON(into: &patch)
            change.inverse.writeJSON(into: &inverse)
            binder.bind(utf8: patch)
            binder.bind(utf8: inverse)
            try binder.execute()
            written.logBytes += patch.count + inverse.count
            guard let snapshot else { continue }
            let text = JSONWriter.string(snapshot)
            try db.execute(
                sql: "INSERT OR REPLACE INTO state_snapshot (id, revision, document) VALUES (1, ?, ?)",
                arguments: [change.revision, text]
            )
            try db.execute(sql: "DELETE FROM state_change WHERE revision <= ?", arguments: [change.revision - Int64(historyLimit)])
            written.snapshotBytes = text.utf8.count
            written.logBytes = 0  // what came before the snapshot no longer counts
        }
        return written
    }

    /// The revision of the newest change on disk: the change log's last row, or the snapshot's
    /// (or 0) when the log is empty. Trimming never removes the log's newest row.
    static func newestStoredRevision(_ db: Database) throws -> Int64 {
        let statement = try db.cachedStatement(sql: """
            SELECT COALESCE((SELECT MAX(revision) FROM state_change), (SELECT revision FROM state_snapshot WHERE id = 1), 0)
            """)
        return try Int64.fetchOne(statement) ?? 0
    }

    /// Changes newest first, at most `limit`, below `beforeRevision` when given, and touching
    /// `path` (above, at or below it) when given.
    static func history(path: JSONPointer?, limit: Int, beforeRevision: Int64?, in db: Database) throws -> [StateChange] {
        let rows = try Row.fetchCursor(
            db,
            sql: "SELECT revision, time, action, path, patch, inverse FROM state_change WHERE revision < ? ORDER BY revision DESC",
            arguments: [beforeRevision ?? Int64.max]
        )
        var changes: [StateChange] = []
        while changes.count < limit, let row = try rows.next() {
            let change = try change(from: row)
            if let path, !(change.path.hasPrefix(path) || path.hasPrefix(change.path)) { continue }
            changes.append(change)
        }
        return changes
    }

    /// The changes after `revision`, oldest first; `nil` when the history no longer reaches back that far.
    static func changes(after revision: Int64, in db: Database) throws -> [StateChange]? {
        let oldest = try Int64.fetchOne(db, sql: "SELECT MIN(revision) FROM state_change")
        let current = try Int64.fetchOne(db, sql: "SELECT MAX(revision) FROM state_change")
        if let current, revision < current {
            guard let oldest, oldest <= revision + 1 else { return nil }
        }
        let rows = try Row.fetchCursor(
            db,
            sql: "SELECT revision, time, action, path, patch, inverse FROM state_change WHERE revision > ? ORDER BY revision",
            arguments: [revision]
        )
        var changes: [StateChange] = []
        while let row = try rows.next() { changes.append(try change(from: row)) }
        return changes
    }

    private static func change(from row: Row) throws -> StateChange {
        try storedChange(from: row).change
    }

    /// A change log row, and the bytes of its patch and inverse (what ``SnapshotPolicy`` counts).
    private static func storedChange(from row: Row) throws -> (change: StateChange, logBytes: Int) {
        let pathText: String = row["path"]
        let patchText: String = row["patch"]
        let inverseText: String = row["inverse"]
        let change = StateChange(
            revision: row["revision"],
            action: row["action"],
            timeMilliseconds: row["time"],
            path: try JSONPointer(pathText),
            patch: try JSONPatch(json: try JSONParser.parse(patchText)),
            inverse: try JSONPatch(json: try JSONParser.parse(inverseText))
        )
        return (change, patchText.utf8.count + inverseText.utf8.count)
    }
}

/// A batch of changes that does not follow the newest stored one: an earlier batch failed.
struct StateStorageGap: Error, Equatable, CustomStringConvertible {
    var newestStored: Int64
    var next: Int64

    var description: String {
        "revision \(next) does not follow the newest stored revision \(newestStored); an earlier change failed to store"
    }
}
