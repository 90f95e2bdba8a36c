import Foundation
import GRDB
import Testing
@testable import SidecarStore

/// What survives the daemon being killed.
///
/// Limitation: these tests cannot `kill -9` the process that holds the database, since that is
/// the test process itself. They leave the database open (no close, no checkpoint, as after
/// a crash) and check what an independent reader finds in the files: a second connection
/// opened on the same file, and a copy of the database and its WAL without the shared-memory
/// index, which SQLite must rebuild from the WAL exactly as it does on the first open after a
/// crash. The daemon-level suite kills a real `sidecard` with SIGKILL.
@Suite("Durability")
struct DurabilityTests {
    @Test("acknowledged writes are in the files before close: an independent connection reads them")
    func independentConnectionSeesAcknowledgedWrites() async throws {
        try await withScratchDirectory { directory in
            let database = try openDatabase(in: directory, migrations: [itemsMigration])
            for id in 0..<50 {
                try await database.write { db in
                    try db.execute(sql: "INSERT INTO items (id, value) VALUES (?, ?)", arguments: [id, "v\(id)"])
                }
            }

            // Not closed: as far as the files are concerned, the writer might have died here.
            let independent = try DatabaseQueue(path: database.path)
            let count = try await independent.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM items") }
            #expect(count == 50)
            try independent.close()
            try await database.close()
        }
    }

    @Test("acknowledged writes are recovered from the WAL alone, as after a crash")
    func recoveredFromWAL() async throws {
        try await withScratchDirectory { directory in
            let database = try openDatabase(in: directory, migrations: [itemsMigration])
            for id in 0..<50 {
                try await database.write { db in
                    try db.execute(sql: "INSERT INTO items (id, value) VALUES (?, ?)", arguments: [id, "v\(id)"])
                }
            }

            // The files as a crash would leave them: the main file and the WAL, taken while the
            // database is still open. The `-shm` index is left behind; SQLite rebuilds it from the WAL.
            let crashed = directory.file("crashed")
            try FileManager.default.createDirectory(atPath: crashed, withIntermediateDirectories: false)
            try FileManager.default.copyItem(atPath: database.path, toPath: crashed + "/sidecar.sqlite")
            try FileManager.default.copyItem(atPath: database.path + "-wal", toPath: crashed + "/sidecar.sqlite-wal")

            let recovered = try SidecarDatabase(
                configuration: SidecarDatabaseConfiguration(dataDirectory: crashed), migrations: [itemsMigration])
            let values = try await recovered.read { db in try String.fetchAll(db, sql: "SELECT value FROM items ORDER BY id") }
            #expect(values == (0..<50).map { "v\($0)" })
            try await recovered.close()
            try await database.close()
        }
    }

    @Test("synchronous FULL is applied to the writer when asked for")
    func synchronousFull() async throws {
        try await withScratchDirectory { directory in
            let normal = try openDatabase(in: directory)
            let normalMode = try await normal.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
            #expect(normalMode == 1)
            try await normal.close()

            let full = try openDatabase(in: directory) { $0.synchronous = .full }
            let fullMode = try await full.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
            #expect(fullMode == 2)
            try await full.close()
        }
    }
}
