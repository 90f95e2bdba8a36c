import Foundation
import GRDB
import GRDBSQLite
import Logging
import SidecarProtocol

/// The one owner of the store's query metrics. SQLite calls ``statementFinished(sql:duration:)``
/// from each connection's own queue (the writer's and every reader's, concurrently), so the
/// metrics sit behind a lock rather than in an actor: a trace hook is a synchronous C
/// callback that cannot `await`.
final class DatabaseInstrumentation: Sendable {
    private let metrics: Locked<QueryMetrics>
    private let logger: Logger
    private let openedAt: ContinuousClock.Instant
    private let readerCount: Int

    init(configuration: SidecarDatabaseConfiguration, logger: Logger) {
        metrics = Locked(QueryMetrics(
            slowQueryThreshold: configuration.slowQueryThreshold,
            slowQueryLogCapacity: configuration.slowQueryLogCapacity))
        self.logger = logger
        self.readerCount = configuration.maximumReaderCount
        openedAt = .now
    }

    /// Installs the per-statement hook on a connection; called from `prepareDatabase`, i.e.
    /// once for the writer and once for each reader as the pool creates it.
    ///
    /// The hook is SQLite's own `SQLITE_TRACE_PROFILE` callback rather than GRDB's
    /// `Database.trace`: GRDB hands the statement over as a trimmed Swift `String`, built
    /// through Foundation for every statement (12% of the daemon's CPU under `state.set` load).
    /// Here the statement kind is read from SQLite's C string in place, and a `String` is made
    /// only for a slow statement. The instrumentation outlives every connection (the database
    /// owns both), so the unretained context pointer stays valid.
    func install(on db: Database) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_trace_v2(db.sqliteConnection, CUnsignedInt(SQLITE_TRACE_PROFILE), { _, context, statement, nanoseconds in
            guard let context, let statement, let nanoseconds else { return 0 }
            let instrumentation = Unmanaged<DatabaseInstrumentation>.fromOpaque(context).takeUnretainedValue()
            // SQLite measures with the VFS's millisecond clock: a single fast statement shows
            // 0 or 1 ms; totals over many statements are still right on average.
            let duration = Duration.nanoseconds(nanoseconds.assumingMemoryBound(to: Int64.self).pointee)
            guard let text = sqlite3_sql(OpaquePointer(statement)) else { return 0 }
            instrumentation.statementFinished(sql: text, duration: duration)
            return 0
        }, context)
    }

    /// Records one finished statement whose text is SQLite's C string `sql`.
    func statementFinished(sql: UnsafePointer<CChar>, duration: Duration) {
        let bytes = UnsafeRawPointer(sql).assumingMemoryBound(to: UInt8.self)
        let kind = StatementKind(utf8: UnsafeBufferPointer(start: bytes, count: strlen(sql)))
        let slow = metrics.withLock { $0.recordStatement(kind: kind, duration: duration, sql: String(cString: sql), at: Date()) }
        if let slow {
            logger.warning("slow query", metadata: [
                "sql": "\(slow.sql)",
                "durationMs": "\(slow.duration.milliseconds)",
            ])
        }
    }

    /// Records one read: how long it waited for a reader connection, then how long it used it.
    func recordRead(wait: Duration, busy: Duration) {
        metrics.withLock {
            $0.recordReadWait(wait)
            $0.recordReaderBusy(busy)
        }
    }

    func recordWriteWaits(_ durations: some Sequence<Duration>) {
        metrics.withLock { metrics in
            for duration in durations { metrics.recordWriteWait(duration) }
        }
    }

    func recordTransaction(succeeded: Bool, committed: Int, failed: Int, busy: Duration) {
        metrics.withLock { $0.recordTransaction(succeeded: succeeded, committed: committed, failed: failed, busy: busy) }
    }

    /// A copy of the metrics as they are now.
    var current: QueryMetrics {
        metrics.withLock { $0 }
    }

    func snapshot() -> JSONValue {
        let current = self.current
        return current.json(wallTime: .now - openedAt, readerCount: readerCount)
    }
}
