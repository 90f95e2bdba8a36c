import Dispatch
import Foundation
import GRDB
import Logging
import SidecarProtocol
import Testing
@testable import SidecarStore

/// Keeps every log record, so tests can check what the store logged.
private struct CapturingLogHandler: LogHandler {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    let records: Locked<[Record]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        records.withLock {
            $0.append(Record(level: event.level, message: "\(event.message)", metadata: event.metadata ?? [:]))
        }
    }
}

private let slowSQL = """
    WITH RECURSIVE counter(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM counter WHERE n < 2000000) \
    SELECT count(*) FROM counter
    """

private func number(_ value: JSONValue?, _ keys: String...) -> Int64? {
    var value = value
    for key in keys { value = value?[key] }
    return value?.intValue
}

@Suite("Query metrics")
struct QueryMetricsTests {
    @Test("a statement slower than the threshold is logged with its SQL and duration and kept")
    func slowQueryLogged() async throws {
        try await withScratchDirectory { directory in
            let records = Locked<[CapturingLogHandler.Record]>([])
            let logger = Logger(label: "test") { _ in CapturingLogHandler(records: records) }
            let database = try openDatabase(in: directory, logger: logger) { $0.slowQueryThreshold = .milliseconds(1) }
            let count = try await database.read { db in try Int.fetchOne(db, sql: slowSQL) }
            #expect(count == 2_000_000)

            let entry = try #require(database.slowQueries.last { $0.sql.contains("WITH RECURSIVE counter") })
            #expect(entry.duration >= .milliseconds(1))

            let logged = try #require(records.withLock { $0 }.last { $0.metadata["sql"]?.description.contains("WITH RECURSIVE counter") == true })
            #expect(logged.message == "slow query")
            #expect(logged.level == .warning)
            let loggedMs = try #require(logged.metadata["durationMs"].flatMap { Double($0.description) })
            #expect(loggedMs >= 1)

            let snapshot = database.metricsSnapshot()
            let slowQueries = try #require(snapshot["slowQueries"]?.arrayValue)
            let json = try #require(slowQueries.last { $0["sql"]?.stringValue?.contains("WITH RECURSIVE counter") == true })
            #expect((json["durationMs"]?.doubleValue ?? 0) >= 1)
            #expect(json["at"]?.stringValue?.hasSuffix("Z") == true)
            #expect(snapshot["slowQueryThresholdMs"]?.doubleValue == 1)
            try await database.close()
        }
    }

    @Test("statements under the threshold are not logged")
    func fastQueriesNotLogged() async throws {
        try await withScratchDirectory { directory in
            let database = try openDatabase(in: directory, migrations: [itemsMigration]) {
                $0.slowQueryThreshold = .seconds(30)
            }
            try await database.write { db in try db.execute(sql: "INSERT INTO items (value) VALUES ('a')") }
            _ = try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM items") }
            #expect(database.slowQueries.isEmpty)
            #expect(database.metricsSnapshot()["slowQueries"] == [])
            try await database.close()
        }
    }

    @Test("the slow-query log keeps only the most recent entries")
    func slowQueryLogIsBounded() async throws {
        try await withScratchDirectory { directory in
            let database = try openDatabase(in: directory) {
                $0.slowQueryThreshold = .zero  // everything is "slow"
                $0.slowQueryLogCapacity = 3
            }
            for value in 0..<10 {
                _ = try await database.read { db in try Int.fetchOne(db, sql: "SELECT \(value)") }
            }
            #expect(database.slowQueries.count == 3)
            #expect(database.metricsSnapshot()["slowQueries"]?.arrayValue?.count == 3)
            // The last statements of the last read: its SELECT, then the COMMIT that ends it.
            #expect(database.slowQueries.contains { $0.sql == "SELECT 9" })
            #expect(!database.slowQueries.contains { $0.sql == "SELECT 8" })
            try await database.close()
        }
    }

    @Test("statement counts by kind are exact for a scripted sequence")
    func exactCounts() async throws {
        try await withScratchDirectory { directory in
            let database = try openDatabase(in: directory, migrations: [itemsMigration])
            // The first read opens a reader connection, which runs its own set-up queries.
            _ = try await database.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
            let before = database.metricsSnapshot()

            for id in 1...3 {
                try await database.write { db in
                    try db.execute(sql: "INSERT INTO items (id, value) VALUES (?, 'a')", arguments: [id])
                }
            }
            try await database.write { db in try db.execute(sql: "UPDATE items SET value = 'b' WHERE id = 1") }
            try await database.write { db in
                try db.execute(sql: "WITH doomed AS (SELECT 2 AS id) DELETE FROM items WHERE id IN (SELECT id FROM doomed)")
            }
            let remaining = try await database.read { db in try Int.fetchAll(db, sql: "SELECT id FROM items ORDER BY id") }
            let values = try await database.read { db in try String.fetchAll(db, sql: "SELECT value FROM items ORDER BY id") }
            #expect(remaining == [1, 3])
            #expect(values == ["b", "a"])

            let after = database.metricsSnapshot()
            func delta(_ keys: String...) -> Int64? {
                var a: JSONValue? = after, b: JSONValue? = before
                for key in keys { a = a?[key]; b = b?[key] }
                guard let a = a?.intValue, let b = b?.intValue else { return nil }
                return a - b
            }
            #expect(delta("statements", "insert", "count") == 3)
            #expect(delta("statements", "update", "count") == 1)
            #expect(delta("statements", "delete", "count") == 1)
            #expect(delta("statements", "select", "count") == 2)
            // Each write, alone in its transaction: BEGIN IMMEDIATE, COMMIT (a lone write needs
            // no savepoint). Each read: BEGIN, PRAGMA schema_version (GRDB checks its schema
            // cache), COMMIT.
            let expectedOther: Int64 = 5 * 2 + 2 * 3
            #expect(delta("statements", "other", "count") == expectedOther)
            #expect(delta("transactions", "commits") == 5)
            #expect(delta("transactions", "writes") == 5)
            #expect(delta("poolWaitMs", "write", "count") == 5)
            #expect(delta("poolWaitMs", "read", "count") == 2)

            let insert = try #require(after["statements"]?["insert"])
            let count = try #require(insert["count"]?.doubleValue)
            let total = try #require(insert["totalMs"]?.doubleValue)
            #expect(insert["meanMs"]?.doubleValue == total / count)
            try await database.close()
        }
    }

    @Test("pool wait measures the time a read waited for a reader connection")
    func poolWait() async throws {
        try await withScratchDirectory { directory in
            let testStarted = ContinuousClock.now
            let database = try openDatabase(in: directory) { $0.maximumReaderCount = 1 }
            let entered = DispatchSemaphore(value: 0)
            let holder = Task {
                try await database.read { _ in
                    entered.signal()
                    // Holding the only reader is the point of the test, so this one sleeps.
                    Thread.sleep(forTimeInterval: 0.2)
                }
            }
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    entered.wait()
                    continuation.resume()
                }
            }
            _ = try await database.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
            try await holder.value

            let wait = try #require(database.metricsSnapshot()["poolWaitMs"]?["read"])
            #expect(wait["count"]?.intValue == 2)
            #expect((wait["maxMs"]?.doubleValue ?? 0) >= 100)

            // The only reader was busy at least 200 ms of the database's life, which is shorter
            // than the test's; no write ran, so the writer was never busy.
            let utilisation = try #require(database.metricsSnapshot()["utilisation"])
            let testSeconds = (ContinuousClock.now - testStarted).milliseconds / 1_000
            let readers = try #require(utilisation["readers"]?.doubleValue)
            #expect(readers >= 0.2 / testSeconds && readers <= 1)
            #expect(utilisation["writer"]?.doubleValue == 0)
            try await database.close()
        }
    }

    @Test("statements are classified by what they do", arguments: [
        ("SELECT * FROM items", StatementKind.select),
        ("  select 1", .select),
        ("VALUES (1), (2)", .select),
        ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c", .select),
        ("WITH t AS (SELECT 1 AS id) DELETE FROM items WHERE id IN t", .delete),
        ("WITH \"update\" AS (SELECT 1) INSERT INTO items SELECT * FROM \"update\"", .insert),
        ("WITH a AS MATERIALIZED (SELECT 1), b AS (SELECT 2) UPDATE items SET value = 'x'", .update),
        ("INSERT INTO items (value) VALUES ('a')", .insert),
        ("REPLACE INTO items (id, value) VALUES (1, 'a')", .insert),
        ("insert or replace into items values (1, 'a')", .insert),
        ("UPDATE items SET value = 'delete'", .update),
        ("DELETE FROM items", .delete),
        ("-- a comment\nDELETE FROM items", .delete),
        ("/* SELECT */ UPDATE items SET value = 1", .update),
        ("BEGIN IMMEDIATE TRANSACTION", .other),
        ("COMMIT TRANSACTION", .other),
        ("SAVEPOINT grdb", .other),
        ("PRAGMA quick_check", .other),
        ("CREATE TABLE selections (id INTEGER)", .other),
        ("", .other),
        ("WITH", .other),
    ])
    func classification(sql: String, kind: StatementKind) {
        #expect(StatementKind(sql: sql) == kind)
    }

    @Test("the slow-query ring keeps the newest entries, oldest first")
    func ring() {
        var log = SlowQueryLog(capacity: 3)
        let start = Date(timeIntervalSince1970: 0)
        for index in 0..<7 {
            log.append(SlowQuery(sql: "q\(index)", duration: .milliseconds(index), at: start))
        }
        #expect(log.entries.map(\.sql) == ["q4", "q5", "q6"])
        var empty = SlowQueryLog(capacity: 0)
        empty.append(SlowQuery(sql: "q", duration: .zero, at: start))
        #expect(empty.entries.isEmpty)
    }

    @Test("metrics render means, maxima and utilisation from what was recorded")
    func rendering() {
        var metrics = QueryMetrics(slowQueryThreshold: .milliseconds(50), slowQueryLogCapacity: 10)
        let at = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(metrics.recordStatement(kind: .select, duration: .milliseconds(2), sql: "SELECT 1", at: at) == nil)
        #expect(metrics.recordStatement(kind: .select, duration: .milliseconds(4), sql: "SELECT 2", at: at) == nil)
        let slow = metrics.recordStatement(kind: .update, duration: .milliseconds(60), sql: "UPDATE t SET a = 1", at: at)
        #expect(slow?.sql == "UPDATE t SET a = 1")
        metrics.recordReadWait(.milliseconds(3))
        metrics.recordReadWait(.milliseconds(1))
        metrics.recordReaderBusy(.milliseconds(500))
        metrics.recordTransaction(succeeded: true, committed: 4, failed: 1, busy: .milliseconds(250))

        let json = metrics.json(wallTime: .seconds(1), readerCount: 5)
        #expect(json["statements"]?["select"] == ["count": 2, "totalMs": 6.0, "meanMs": 3.0])
        #expect(json["statements"]?["update"]?["count"] == 1)
        #expect(json["statements"]?["delete"] == ["count": 0, "totalMs": 0.0, "meanMs": 0.0])
        #expect(json["poolWaitMs"]?["read"] == ["count": 2, "totalMs": 4.0, "meanMs": 2.0, "maxMs": 3.0])
        #expect(json["utilisation"] == ["writer": 0.25, "readers": 0.1])
        #expect(json["transactions"] == ["commits": 1, "failed": 0, "writes": 4, "failedWrites": 1, "largestBatch": 5])
        #expect(json["slowQueries"] == [["sql": "UPDATE t SET a = 1", "durationMs": 60.0, "at": "2023-11-14T22:13:20.000Z"]])
    }
}
