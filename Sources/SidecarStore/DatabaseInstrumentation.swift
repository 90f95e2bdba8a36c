import Foundation
import GRDB
import Logging
import SidecarProtocol

/// The one owner of the store's query metrics. GRDB calls ``statementFinished(sql:duration:)``
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
    func install(on db: Database) {
        // `.profile` reports each statement once it finishes, with the time SQLite measured.
        // SQLite's Unix VFS measures it with a millisecond clock, so a single fast statement
        // shows 0 or 1 ms; totals over many statements are still right on average.
        db.trace(options: .profile) { [self] event in
            guard case .profile(let statement, let seconds) = event else { return }
            statementFinished(sql: statement.sql, duration: .nanoseconds(Int64((seconds * 1e9).rounded())))
        }
    }

    func statementFinished(sql: String, duration: Duration) {
        let kind = StatementKind(sql: sql)
        let slow = metrics.withLock { $0.recordStatement(kind: kind, duration: duration, sql: sql, at: Date()) }
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
