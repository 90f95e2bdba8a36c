import Foundation
import GRDB
import SidecarProtocol
import Testing
@testable import SidecarStore

/// The WAL is copied into the main file by checkpoints on a connection of their own, so that
/// the writer never stalls on one; these tests check that the WAL still stays short.
@Suite("WAL checkpoints")
struct WALCheckpointTests {
    /// A row large enough that each commit adds a page or more to the WAL.
    private static let largeValue = String(repeating: "x", count: 3_000)

    @Test("a long run of commits is checkpointed in the background, and the WAL starts over once writes pause")
    func backgroundCheckpointsKeepTheWALShort() async throws {
        try await withScratchDirectory { directory in
            let database = try openDatabase(in: directory, migrations: [itemsMigration])
            let writes = 1_200
            for id in 0..<writes {
                try await database.write { db in
                    try db.execute(sql: "INSERT INTO items (id, value) VALUES (?, ?)", arguments: [id, Self.largeValue])
                }
            }
            let afterRun = checkpoints(database)
            #expect(afterRun.count >= 1, "\(writes) commits of a page each passed the 1000-page interval")
            #expect(afterRun.onWriter == 0, "the writer paused between commits: the background kept up")

            // Once writes pause, a background checkpoint copies the rest of the WAL, and the next
            // commit starts it over from its first page. (A commit made while that checkpoint
            // runs leaves it short: then wait for the next one.)
            var startedOver = false
            for id in writes..<(writes + 20) where !startedOver {
                try await waitForCheckpointsToSettle(database)
                try await database.write { db in
                    try db.execute(sql: "INSERT INTO items (id, value) VALUES (?, ?)", arguments: [id, "small"])
                }
                startedOver = checkpoints(database).walFrames < 100
            }
            #expect(startedOver, "WAL still \(checkpoints(database).walFrames) pages long")

            // Nothing was lost on the way: an independent connection reads every row.
            let independent = try DatabaseQueue(path: database.path)
            let count = try await independent.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM items WHERE length(value) = 3000") }
            #expect(count == writes)
            try independent.close()
            try await database.close()
        }
    }

    @Test("while a long read holds the WAL, the writer checkpoints itself past 8000 pages; once it ends, the WAL starts over and its file shrinks")
    func writerCheckpointsPastTheBackstop() async throws {
        try await withScratchDirectory { directory in
            let database = try openDatabase(in: directory, migrations: [itemsMigration])
            try await database.write { db in
                try db.execute(sql: "INSERT INTO items (id, value) VALUES (0, 'first')")
            }
            // Another process reading (the sqlite3 shell, a backup) in one long transaction: no
            // checkpoint can copy past what it sees, so the background ones never catch up.
            var readerConfiguration = Configuration()
            readerConfiguration.allowsUnsafeTransactions = true  // the transaction outlives one access
            let reader = try DatabaseQueue(path: database.path, configuration: readerConfiguration)
            try await reader.writeWithoutTransaction { db in
                try db.beginTransaction(.deferred)
                _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM items")
            }

            var id = 1
            while checkpoints(database).walFrames < WALCheckpointer.writerThreshold + 10, id < 20_000 {
                try await database.write { [id] db in
                    try db.execute(sql: "INSERT INTO items (id, value) VALUES (?, ?)", arguments: [id, Self.largeValue])
                }
                id += 1
            }
            #expect(checkpoints(database).walFrames >= WALCheckpointer.writerThreshold)
            #expect(checkpoints(database).onWriter >= 1, "the writer tried to checkpoint itself past the backstop")
            let grownFile = try walFileSize(database)
            #expect(grownFile > 4 * WALCheckpointer.walSizeLimit, "\(WALCheckpointer.writerThreshold) pages of 4 KiB")

            // The reader is done: the writer's next checkpoint copies everything, and the WAL
            // starts over at the commit after it.
            try await reader.writeWithoutTransaction { db in try db.commit() }
            var startedOver = false
            for _ in 0..<20 where !startedOver {
                try await database.write { [id] db in
                    try db.execute(sql: "INSERT INTO items (id, value) VALUES (?, ?)", arguments: [id, "small"])
                }
                id += 1
                startedOver = checkpoints(database).walFrames < 100
            }
            #expect(startedOver, "WAL still \(checkpoints(database).walFrames) pages long")
            // The commit that started it over also cut the file back, instead of keeping the
            // 32 MiB it had grown to for as long as the daemon runs.
            #expect(try walFileSize(database) <= WALCheckpointer.walSizeLimit, "the WAL file was \(grownFile) bytes")
            let count = try await reader.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM items") }
            #expect(count == id)
            try reader.close()
            try await database.close()
        }
    }

    @Test("the checkpoint figures are in the metrics")
    func metricsCarryTheCheckpoints() async throws {
        try await withScratchDirectory { directory in
            let database = try openDatabase(in: directory, migrations: [itemsMigration])
            try await database.write { db in
                try db.execute(sql: "INSERT INTO items (id, value) VALUES (1, 'one')")
            }
            let figures = try #require(database.metricsSnapshot()["checkpoints"])
            #expect(figures["count"] == .int(0))
            #expect(figures["onWriter"] == .int(0))
            #expect(figures["walFrames"]?.intValue ?? 0 > 0, "the insert is in the WAL")
            #expect(figures["maxMs"] != nil)
            try await database.close()
        }
    }

    /// The size of the database's `-wal` file on disk, in bytes.
    private func walFileSize(_ database: SidecarDatabase) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: database.path + "-wal")
        return try #require(attributes[.size] as? Int)
    }

    /// Returns once no checkpoint has finished for 300 ms (three times the delay before a
    /// catch-up checkpoint), or after 5 s.
    private func waitForCheckpointsToSettle(_ database: SidecarDatabase) async throws {
        var last = checkpoints(database).count
        var quietPolls = 0
        for _ in 0..<100 where quietPolls < 6 {
            try await Task.sleep(for: .milliseconds(50))
            let count = checkpoints(database).count
            quietPolls = count == last ? quietPolls + 1 : 0
            last = count
        }
    }

    private struct Figures {
        var count: Int64
        var onWriter: Int64
        var walFrames: Int64
    }

    private func checkpoints(_ database: SidecarDatabase) -> Figures {
        let figures = database.metricsSnapshot()["checkpoints"]
        return Figures(
            count: figures?["count"]?.intValue ?? -1,
            onWriter: figures?["onWriter"]?.intValue ?? -1,
            walFrames: figures?["walFrames"]?.intValue ?? -1)
    }
}
