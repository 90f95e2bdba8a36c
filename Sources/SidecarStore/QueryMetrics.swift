import Foundation
import SidecarProtocol

/// The store's query metrics as a value: statement counts and times by kind, connection
/// wait times, busy times, group-commit counters and the slow-query log.
///
/// It does no I/O and reads no clock: ``SidecarDatabase`` owns one behind a lock, feeds it
/// from GRDB's trace hook and its own timings, and renders it with ``json(wallTime:readerCount:)``.
struct QueryMetrics: Sendable {
    /// Statements at least this slow go to the slow-query log.
    let slowQueryThreshold: Duration

    private(set) var statements = [TimingTotals](repeating: TimingTotals(), count: StatementKind.allCases.count)
    private(set) var readWait = TimingTotals()
    private(set) var writeWait = TimingTotals()
    private(set) var writerBusy = Duration.zero
    private(set) var readersBusy = Duration.zero
    private(set) var commits = 0
    private(set) var failedTransactions = 0
    private(set) var committedWrites = 0
    private(set) var failedWrites = 0
    private(set) var largestBatch = 0
    private(set) var slowQueries: SlowQueryLog

    init(slowQueryThreshold: Duration, slowQueryLogCapacity: Int) {
        self.slowQueryThreshold = slowQueryThreshold
        self.slowQueries = SlowQueryLog(capacity: slowQueryLogCapacity)
    }

    // MARK: - Recording

    /// Counts one executed statement.
    /// - Returns: the slow-query entry when the statement was slow enough to be logged.
    /// - Parameters:
    ///   - sql: the statement's text, kept only if it is slow.
    ///   - time: when it finished, read only if it is slow.
    mutating func recordStatement(
        kind: StatementKind, duration: Duration, sql: @autoclosure () -> String, at time: @autoclosure () -> Date
    ) -> SlowQuery? {
        statements[kind.index].add(duration)
        guard duration >= slowQueryThreshold else { return nil }
        let entry = SlowQuery(sql: sql(), duration: duration, at: time())
        slowQueries.append(entry)
        return entry
    }

    mutating func recordReadWait(_ duration: Duration) { readWait.add(duration) }
    mutating func recordWriteWait(_ duration: Duration) { writeWait.add(duration) }
    mutating func recordReaderBusy(_ duration: Duration) { readersBusy += duration }

    /// Counts one group-commit transaction: `committed` writes were acknowledged together
    /// (or, when `succeeded` is false, failed together with the transaction), `failed` writes
    /// failed on their own and were rolled back to their savepoint.
    mutating func recordTransaction(succeeded: Bool, committed: Int, failed: Int, busy: Duration) {
        writerBusy += busy
        if succeeded {
            commits += 1
            committedWrites += committed
        } else {
            failedTransactions += 1
            failedWrites += committed
        }
        failedWrites += failed
        largestBatch = max(largestBatch, committed + failed)
    }

    // MARK: - Rendering

    /// The metrics as JSON, for `sidecar.metrics` under `db`:
    ///
    /// ```json
    /// {"statements": {"select": {"count": 3, "totalMs": 0.2, "meanMs": 0.07}, "insert": ..., "other": ...},
    ///  "poolWaitMs": {"read": {"count", "totalMs", "meanMs", "maxMs"}, "write": {...}},
    ///  "utilisation": {"writer": 0.01, "readers": 0.002},
    ///  "transactions": {"commits", "failed", "writes", "failedWrites", "largestBatch"},
    ///  "slowQueryThresholdMs": 50,
    ///  "slowQueries": [{"sql", "durationMs", "at"}]}
    /// ```
    ///
    /// - Parameters:
    ///   - wallTime: how long the database has been open; utilisation is busy time over it.
    ///   - readerCount: the size of the reader pool; reader utilisation is over all of them.
    func json(wallTime: Duration, readerCount: Int) -> JSONValue {
        var byKind = JSONObject()
        for kind in StatementKind.allCases {
            byKind[kind.rawValue] = statements[kind.index].json(includingMaximum: false)
        }
        let wall = wallTime.milliseconds
        let writerUtilisation = wall > 0 ? min(1, writerBusy.milliseconds / wall) : 0
        let readersUtilisation = wall > 0 && readerCount > 0
            ? min(1, readersBusy.milliseconds / (wall * Double(readerCount))) : 0
        return [
            "statements": .object(byKind),
            "poolWaitMs": [
                "read": readWait.json(includingMaximum: true),
                "write": writeWait.json(includingMaximum: true),
            ],
            "utilisation": ["writer": .double(writerUtilisation), "readers": .double(readersUtilisation)],
            "transactions": [
                "commits": .int(Int64(commits)),
                "failed": .int(Int64(failedTransactions)),
                "writes": .int(Int64(committedWrites)),
                "failedWrites": .int(Int64(failedWrites)),
                "largestBatch": .int(Int64(largestBatch)),
            ],
            "slowQueryThresholdMs": .double(slowQueryThreshold.milliseconds),
            "slowQueries": .array(slowQueries.entries.map(\.json)),
        ]
    }
}

/// A count of timed events and their total and longest time.
struct TimingTotals: Sendable, Equatable {
    private(set) var count = 0
    private(set) var total = Duration.zero
    private(set) var maximum = Duration.zero

    mutating func add(_ duration: Duration) {
        count += 1
        total += duration
        maximum = max(maximum, duration)
    }

    func json(includingMaximum: Bool) -> JSONValue {
        var members: JSONObject = [
            "count": .int(Int64(count)),
            "totalMs": .double(total.milliseconds),
            "meanMs": .double(count > 0 ? total.milliseconds / Double(count) : 0),
        ]
        if includingMaximum { members["maxMs"] = .double(maximum.milliseconds) }
        return .object(members)
    }
}

extension StatementKind {
    /// The position in `allCases`, used to index per-kind counters without hashing.
    var index: Int {
        switch self {
        case .select: return 0
        case .insert: return 1
        case .update: return 2
        case .delete: return 3
        case .other: return 4
        }
    }
}

extension Duration {
    /// The duration in (fractional) milliseconds.
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1_000 + Double(attoseconds) / 1e15
    }
}
