import Dispatch
import Foundation
import GRDB
import SidecarProtocol
import Testing
@testable import SidecarStore

/// Counts the transactions the writer connection commits, as GRDB reports them.
private final class CommitCounter: TransactionObserver, @unchecked Sendable {
    // @unchecked: GRDB calls the observer on the writer connection's queue only; the test reads
    // `commits` through the lock.
    private let count = Locked(0)
    var commits: Int { count.withLock { $0 } }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { true }
    func databaseDidChange(with event: DatabaseEvent) {}
    func databaseDidCommit(_ db: Database) { count.withLock { $0 += 1 } }
    func databaseDidRollback(_ db: Database) {}
}

/// Holds the writer connection with a write that blocks until ``open()``, so that writes
/// submitted meanwhile queue up and go into one transaction together.
private struct WriterGate {
    private let entered = DispatchSemaphore(value: 0)
    private let release = DispatchSemaphore(value: 0)

    /// Submits the blocking write and returns once it holds the writer connection.
    func close(_ database: SidecarDatabase) async -> Task<Void, any Error> {
        let entered = self.entered
        let release = self.release
        let task = Task {
            try await database.write { db in
                entered.signal()
                release.wait()
                try db.execute(sql: "INSERT INTO items (id, value) VALUES (-1, 'gate')")
            }
        }
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                entered.wait()
                continuation.resume()
            }
        }
        return task
    }

    func open() {
        release.signal()
    }
}

private func transactionCount(_ database: SidecarDatabase) -> Int64? {
    database.metricsSnapshot()["transactions"]?["commits"]?.intValue
}

private func rowCount(_ database: SidecarDatabase) async throws -> Int {
    try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM items WHERE id >= 0") ?? 0 }
}

@Suite("Group commit")
struct GroupCommitTests {
    @Test("200 concurrent writes are all acknowledged, visible once acknowledged, in fewer transactions")
    func concurrentWrites() async throws {
        try await withScratchDirectory { directory in
            let database = try openDatabase(in: directory, migrations: [itemsMigration])
            let counter = CommitCounter()
            database.pool.add(transactionObserver: counter, extent: .databaseLifetime)
            let commitsBefore = try #require(transactionCount(database))

            let visibleWhenAcknowledged = try await withThrowingTaskGroup(of: Bool.self) { group in
                for id in 0..<200 {
                    group.addTask {
                        let returned = try await database.write { db -> Int in
                            try db.execute(sql: "INSERT INTO items (id, value) VALUES (?, ?)", arguments: [id, "v\(id)"])
                            return id
                        }
                        #expect(returned == id)
                        // Acknowledged means committed: a fresh read transaction sees it.
                        return try await database.read { db in
                            try String.fetchOne(db, sql: "SELECT value FROM items WHERE id = ?", arguments: [id]) == "v\(id)"
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(visibleWhenAcknowledged == 200)
            #expect(try await rowCount(database) == 200)

            let commits = try #require(transactionCount(database)) - commitsBefore
            #expect(commits >= 1)
            #expect(commits < 200)
            #expect(counter.commits == Int(commits))
            let snapshot = database.metricsSnapshot()
            #expect(snapshot["transactions"]?["writes"]?.intValue == 200)
            #expect(snapshot["poolWaitMs"]?["write"]?["count"]?.intValue == 200)
            try await database.close()
        }
    }

    @Test("writes that queue behind a running transaction commit together in the next one")
    func queuedWritesShareOneTransaction() async throws {
        try await withScratchDirectory { directory in
            let database = try openDatabase(in: directory, migrations: [itemsMigration])
            let counter = CommitCounter()
            database.pool.add(transactionObserver: counter, extent: .databaseLifetime)

            let gate = WriterGate()
            let gateWrite = await gate.close(database)
            let writes = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for id in 0..<200 {
                        group.addTask {
                            try await database.write { db in
                                try db.execute(sql: "INSERT INTO items (id, value) VALUES (?, 'x')", arguments: [id])
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(try await eventually { database.committer.pendingCount == 200 })
            #expect(try await rowCount(database) == 0)  // nothing is visible before the commit
            gate.open()
            try await gateWrite.value
            try await writes.value

            #expect(counter.commits == 2)  // the gate's transaction, then all 200 together
            #expect(database.metricsSnapshot()["transactions"]?["largestBatch"]?.intValue == 200)
            #expect(try await rowCount(database) == 200)
            try await database.close()
        }
    }

    @Test("a failing write fails only its caller and is rolled back alone; the rest of its batch commits")
    func failingWriteInBatch() async throws {
        struct Refused: Error, Equatable { var id: Int }
        try await withScratchDirectory { directory in
            let database = try openDatabase(in: directory, migrations: [itemsMigration])
            try await database.write { db in try db.execute(sql: "INSERT INTO items (id, value) VALUES (1000, 'x')") }
            let counter = CommitCounter()
            database.pool.add(transactionObserver: counter, extent: .databaseLifetime)

            let gate = WriterGate()
            let gateWrite = await gate.close(database)
            let results = Task {
                await withTaskGroup(of: (Int, Result<Int, any Error>).self) { group in
                    for id in 0..<10 {
                        group.addTask {
                            do {
                                let value = try await database.write { db -> Int in
                                    try db.execute(sql: "INSERT INTO items (id, value) VALUES (?, 'x')", arguments: [id])
                                    if id == 3 { throw Refused(id: id) }  // after its insert: that must be undone
                                    if id == 7 {  // a constraint violation: id 1000 was committed before
                                        try db.execute(sql: "INSERT INTO items (id, value) VALUES (1000, 'duplicate')")
                                    }
                                    return id
                                }
                                return (id, .success(value))
                            } catch {
                                return (id, .failure(error))
                            }
                        }
                    }
                    var results: [Int: Result<Int, any Error>] = [:]
                    for await (id, result) in group { results[id] = result }
                    return results
                }
            }
            #expect(try await eventually { database.committer.pendingCount == 10 })
            gate.open()
            try await gateWrite.value
            let outcome = await results.value

            #expect(counter.commits == 2)
            for id in 0..<10 {
                let result = try #require(outcome[id])
                switch (id, result) {
                case (3, .failure(let error)):
                    #expect(error as? Refused == Refused(id: 3))
                case (7, .failure(let error)):
                    #expect((error as? DatabaseError)?.resultCode.primaryResultCode == .SQLITE_CONSTRAINT)
                case (_, .success(let value)):
                    #expect(![3, 7].contains(id))
                    #expect(value == id)
                case (_, .failure(let error)):
                    Issue.record("write \(id) failed: \(error)")
                }
            }
            let ids = try await database.read { db in try Int.fetchAll(db, sql: "SELECT id FROM items WHERE id BETWEEN 0 AND 99 ORDER BY id") }
            #expect(ids == [0, 1, 2, 4, 5, 6, 8, 9])
            let transactions = database.metricsSnapshot()["transactions"]
            #expect(transactions?["failedWrites"]?.intValue == 2)
            try await database.close()
        }
    }

    @Test("a write alone in its transaction that throws is rolled back and fails only itself")
    func loneFailingWriteIsRolledBack() async throws {
        struct Refused: Error, Equatable {}
        try await withScratchDirectory { directory in
            let database = try openDatabase(in: directory, migrations: [itemsMigration])
            await #expect(throws: Refused.self) {
                try await database.write { db in
                    try db.execute(sql: "INSERT INTO items (id, value) VALUES (1, 'undone')")
                    throw Refused()
                }
            }
            try await database.write { db in try db.execute(sql: "INSERT INTO items (id, value) VALUES (2, 'kept')") }
            let rows = try await database.read { db in try String.fetchAll(db, sql: "SELECT value FROM items ORDER BY id") }
            #expect(rows == ["kept"])
            let transactions = database.metricsSnapshot()["transactions"]
            #expect(transactions?["failedWrites"]?.intValue == 1)
            try await database.close()
        }
    }

    @Test("when SQLite aborts the whole transaction for one write, the others of the batch still commit")
    func abortedTransactionIsRetried() async throws {
        try await withScratchDirectory { directory in
            // ON CONFLICT ROLLBACK makes a duplicate abort the entire transaction, not just
            // the statement: the writes before it in the batch are undone by SQLite itself.
            let table = SidecarMigration("test-strict-v1") { db in
                try db.execute(sql: "CREATE TABLE strict (name TEXT UNIQUE ON CONFLICT ROLLBACK)")
            }
            let database = try openDatabase(in: directory, migrations: [itemsMigration, table])
            try await database.write { db in try db.execute(sql: "INSERT INTO strict (name) VALUES ('taken')") }

            let gate = WriterGate()
            let gateWrite = await gate.close(database)
            let names = ["a", "b", "taken", "c"]
            let results = Task {
                await withTaskGroup(of: (String, Bool).self) { group in
                    for name in names {
                        group.addTask {
                            do {
                                try await database.write { db in
                                    try db.execute(sql: "INSERT INTO strict (name) VALUES (?)", arguments: [name])
                                }
                                return (name, true)
                            } catch {
                                return (name, false)
                            }
                        }
                    }
                    var results: [String: Bool] = [:]
                    for await (name, succeeded) in group { results[name] = succeeded }
                    return results
                }
            }
            #expect(try await eventually { database.committer.pendingCount == names.count })
            gate.open()
            try await gateWrite.value
            let outcome = await results.value

            #expect(outcome == ["a": true, "b": true, "taken": false, "c": true])
            let stored = try await database.read { db in try String.fetchAll(db, sql: "SELECT name FROM strict ORDER BY name") }
            #expect(stored == ["a", "b", "c", "taken"])
            // One write before the gate, the gate, four names: each waited once, however often it ran.
            let metrics = database.metricsSnapshot()
            #expect(metrics["poolWaitMs"]?["write"]?["count"]?.intValue == 6)
            #expect(metrics["transactions"]?["failed"]?.intValue == 1)
            #expect(metrics["transactions"]?["failedWrites"]?.intValue == 1)
            try await database.close()
        }
    }

    @Test("closing answers every write already queued")
    func closeDrainsQueue() async throws {
        try await withScratchDirectory { directory in
            let database = try openDatabase(in: directory, migrations: [itemsMigration])
            let gate = WriterGate()
            let gateWrite = await gate.close(database)
            let writes = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for id in 0..<20 {
                        group.addTask {
                            try await database.write { db in
                                try db.execute(sql: "INSERT INTO items (id, value) VALUES (?, 'x')", arguments: [id])
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(try await eventually { database.committer.pendingCount == 20 })
            let closing = Task { try await database.close() }
            #expect(try await eventually { database.committer.isClosed })
            gate.open()
            try await gateWrite.value
            try await writes.value
            try await closing.value

            let reopened = try openDatabase(in: directory, migrations: [itemsMigration])
            #expect(try await rowCount(reopened) == 20)
            try await reopened.close()
        }
    }
}
