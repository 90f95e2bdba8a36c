import Foundation
import GRDB
import GRDBSQLite
import SidecarProtocol

/// Keeps the WAL short without stalling the writer: checkpoints run on a connection of
/// their own, in the background.
///
/// SQLite's automatic checkpoint runs on the connection that committed, inside its commit:
/// the writer copies the WAL into the main file and `fsync`s both while every write queued
/// behind it waits. Under a steady stream of small writes that made one commit in a hundred
/// take milliseconds. Instead, the writer's WAL hook only notes the WAL's length after each
/// commit; each time it has grown by ``backgroundInterval`` frames, a `PASSIVE` checkpoint
/// runs on this connection while the writer goes on.
///
/// SQLite starts the WAL over at the first commit after a checkpoint has copied all of it. A
/// passive checkpoint copies only what was committed when it began, so:
/// - when commits arrived while it ran, another one follows ``catchUpDelay`` later (or sooner,
///   at the next interval), which copies the rest once the writes pause;
/// - a writer that never pauses stays ahead of every background checkpoint. Past
///   ``writerThreshold`` frames the writer therefore checkpoints itself, as SQLite would have
///   (most of the WAL is in the main file by then, so little is left to copy), which bounds
///   the WAL.
final class WALCheckpointer: Sendable {
    /// How many frames (pages) the WAL grows by between background checkpoints: SQLite's own
    /// automatic checkpoint threshold.
    static let backgroundInterval: Int32 = 1_000
    /// The WAL length at which the writer checkpoints itself, the background ones not having
    /// caught up with it.
    static let writerThreshold: Int32 = 8_000
    /// How long after a background checkpoint that did not copy the whole WAL the next one starts.
    static let catchUpDelay = DispatchTimeInterval.milliseconds(100)
    /// The size the WAL file is cut back to when it starts over, in bytes: what it reaches
    /// between two background checkpoints with 4 KiB pages. SQLite otherwise keeps the file at
    /// the longest it ever grew (up to ``writerThreshold`` pages, 32 MiB, while a long read
    /// held it) and only writes over it from the start.
    static let walSizeLimit = 4 * 1024 * 1024

    private struct State {
        /// The WAL's length when the last background checkpoint began (0 once it starts over).
        var mark: Int32 = 0
        /// The WAL's length after the latest commit.
        var walFrames: Int32 = 0
        var isRunning = false
        /// A catch-up checkpoint is due after ``WALCheckpointer/catchUpDelay``.
        var isCatchUpScheduled = false
        var isClosed = false
        var background = TimingTotals()
        var onWriter = 0
    }

    private let connection: DatabaseQueue
    private let state = Locked(State())

    /// Opens the checkpoint connection on the database at `path`, which the pool has already
    /// switched to WAL mode.
    init(path: String, busyTimeout: Duration) throws {
        var configuration = Configuration()
        configuration.label = "sidecar.checkpointer"
        configuration.busyMode = .timeout(Double(busyTimeout.milliseconds) / 1_000)
        connection = try DatabaseQueue(path: path, configuration: configuration)
    }

    /// Replaces SQLite's automatic checkpoint on the writer connection `db` with this one, and
    /// has the writer cut the WAL file back to ``walSizeLimit`` when the WAL starts over.
    /// The checkpointer must outlive the connection's use (the database owns both and closes
    /// the pool last), so the unretained context pointer stays valid.
    func install(on db: Database) throws {
        // The writer truncates the file at the first commit after the WAL starts over.
        try db.execute(sql: "PRAGMA journal_size_limit = \(Self.walSizeLimit)")
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_wal_hook(db.sqliteConnection, { context, connection, _, frames in
            guard let context else { return SQLITE_OK }
            let checkpointer = Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue()
            checkpointer.committed(walFrames: frames, writer: connection)
            return SQLITE_OK
        }, context)
    }

    /// What the writer does after a commit.
    private enum Step {
        case nothing
        case startBackground
        case checkpointOnWriter
    }

    /// Called by the writer after each commit, with the WAL's length in frames.
    private func committed(walFrames: Int32, writer: OpaquePointer?) {
        let step = state.withLock { state -> Step in
            state.walFrames = walFrames
            // Started over: the next interval counts from the beginning.
            if state.mark > walFrames { state.mark = 0 }
            guard !state.isClosed else { return .nothing }
            if walFrames >= Self.writerThreshold {
                state.onWriter += 1
                return .checkpointOnWriter
            }
            guard walFrames - state.mark >= Self.backgroundInterval, !state.isRunning else { return .nothing }
            state.mark = walFrames
            state.isRunning = true
            return .startBackground
        }
        switch step {
        case .nothing:
            break
        case .checkpointOnWriter:
            // Behind: copy the rest now, on the writer, as SQLite's own checkpoint does. A
            // background checkpoint under way makes this one return SQLITE_BUSY: harmless.
            sqlite3_wal_checkpoint_v2(writer, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        case .startBackground:
            runInBackground()
        }
    }

    /// Runs one passive checkpoint on the checkpoint connection (``State/isRunning`` is set).
    private func runInBackground() {
        connection.asyncWriteWithoutTransaction { db in
            let began = ContinuousClock.now
            // A failure (the disk is full, another process holds a lock) leaves the WAL as it
            // is; a later commit tries again.
            _ = try? db.checkpoint(.passive)
            let busy = ContinuousClock.now - began
            let catchUp = self.state.withLock { state -> Bool in
                state.isRunning = false
                state.background.add(busy)
                // Commits that arrived meanwhile are not copied: see to them once writes pause.
                guard state.walFrames > state.mark, !state.isCatchUpScheduled, !state.isClosed else { return false }
                state.isCatchUpScheduled = true
                return true
            }
            if catchUp {
                DispatchQueue.global().asyncAfter(deadline: .now() + Self.catchUpDelay) { self.catchUp() }
            }
        }
    }

    private func catchUp() {
        let starts = state.withLock { state -> Bool in
            state.isCatchUpScheduled = false
            guard state.walFrames > state.mark, !state.isRunning, !state.isClosed else { return false }
            state.mark = state.walFrames
            state.isRunning = true
            return true
        }
        if starts { runInBackground() }
    }

    /// The checkpoints so far, for `sidecar.metrics` under `db.checkpoints`: the background
    /// ones (`count`, `totalMs`, `meanMs`, `maxMs`), those the writer had to run itself
    /// (`onWriter`), and the WAL's length in pages after the latest commit (`walFrames`).
    func json() -> JSONValue {
        state.withLock { state in
            var members = state.background.json(includingMaximum: true).objectValue ?? [:]
            members["onWriter"] = .int(Int64(state.onWriter))
            members["walFrames"] = .int(Int64(state.walFrames))
            return .object(members)
        }
    }

    /// Stops starting checkpoints and closes the connection once a running one has finished.
    func close() throws {
        state.withLock { $0.isClosed = true }
        try connection.close()
    }
}
