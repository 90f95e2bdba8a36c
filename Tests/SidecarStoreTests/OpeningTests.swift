import Foundation
import GRDB
import SidecarProtocol
import Testing
@testable import SidecarStore

@Suite("Opening the database")
struct OpeningTests {
    @Test("creates the data directory with mode 0700 and a private database file")
    func createsDirectory() async throws {
        try await withScratchDirectory { directory in
            let dataDirectory = directory.file("state/sidecar")
            let database = try SidecarDatabase(configuration: SidecarDatabaseConfiguration(dataDirectory: dataDirectory))
            #expect(database.path == dataDirectory + "/sidecar.sqlite")
            #expect(permissions(of: dataDirectory) == 0o700)
            #expect(permissions(of: database.path) == 0o600)
            #expect(permissions(of: database.path + "-wal") == 0o600)
            let journalMode = try await database.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
            #expect(journalMode == "wal")
            try await database.close()
        }
    }

    @Test("an existing data directory keeps its mode")
    func existingDirectory() async throws {
        try await withScratchDirectory { directory in
            let dataDirectory = directory.file("data")
            try FileManager.default.createDirectory(
                atPath: dataDirectory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o750])
            let database = try openDatabase(in: directory)
            #expect(permissions(of: dataDirectory) == 0o750)
            try await database.close()
        }
    }

    @Test("reopening keeps the data")
    func reopenKeepsData() async throws {
        try await withScratchDirectory { directory in
            let first = try openDatabase(in: directory, migrations: [itemsMigration])
            try await first.write { db in
                try db.execute(sql: "INSERT INTO items (id, value) VALUES (1, 'kept')")
                try MetaTable.setValue(["revision": 41], forKey: "state", in: db)
            }
            try await first.close()

            let second = try openDatabase(in: directory, migrations: [itemsMigration])
            let value = try await second.read { db in try String.fetchOne(db, sql: "SELECT value FROM items WHERE id = 1") }
            let meta = try await second.read { db in try MetaTable.value(forKey: "state", in: db) }
            #expect(value == "kept")
            #expect(meta == ["revision": 41])
            try await second.close()
        }
    }

    @Test("a database file copied alone, without its -wal and -shm files, opens with its data")
    func copiedFileAlone() async throws {
        try await withScratchDirectory { directory in
            let original = try openDatabase(in: directory, migrations: [itemsMigration])
            try await original.write { db in try db.execute(sql: "INSERT INTO items (id, value) VALUES (1, 'backed up')") }
            try await original.close()

            let restored = directory.file("restored")
            try FileManager.default.createDirectory(atPath: restored, withIntermediateDirectories: false)
            try FileManager.default.copyItem(atPath: original.path, toPath: restored + "/sidecar.sqlite")
            let database = try SidecarDatabase(
                configuration: SidecarDatabaseConfiguration(dataDirectory: restored), migrations: [itemsMigration])
            let value = try await database.read { db in try String.fetchOne(db, sql: "SELECT value FROM items WHERE id = 1") }
            #expect(value == "backed up")
            try await database.close()
        }
    }

    @Test("a file that is not a database is refused by name and left untouched")
    func garbageFile() async throws {
        try await withScratchDirectory { directory in
            let dataDirectory = directory.file("data")
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: false)
            let path = dataDirectory + "/sidecar.sqlite"
            let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) })
            try garbage.write(to: URL(fileURLWithPath: path))

            let error = try #require(throws: SidecarDatabaseError.self) { try openDatabase(in: directory) }
            #expect(error.code == .corrupt)
            #expect(error.path == path)
            #expect(error.message.contains(path))
            #expect(error.message.contains("move it aside"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
            #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        }
    }

    @Test("a database with damaged pages fails the integrity check and is left untouched")
    func damagedPages() async throws {
        try await withScratchDirectory { directory in
            let database = try openDatabase(in: directory, migrations: [itemsMigration])
            try await database.write { db in
                for id in 0..<2_000 {
                    try db.execute(
                        sql: "INSERT INTO items (id, value) VALUES (?, ?)",
                        arguments: [id, String(repeating: "x", count: 100)])
                }
                try db.execute(sql: "CREATE INDEX items_value ON items (value)")
            }
            try await database.close()  // checkpoints the WAL into the main file

            // Overwrite a few pages in the middle of the file: the header stays valid, so
            // SQLite opens it, and only the integrity check finds the damage.
            let path = database.path
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            let pageSize = 4096
            try #require(bytes.count > 20 * pageSize)
            for offset in (10 * pageSize)..<(14 * pageSize) {
                bytes[offset] = UInt8(truncatingIfNeeded: offset &* 31)
            }
            try bytes.write(to: URL(fileURLWithPath: path))

            let error = try #require(throws: SidecarDatabaseError.self) {
                try openDatabase(in: directory, migrations: [itemsMigration])
            }
            #expect(error.code == .corrupt)
            #expect(error.message.contains(path))
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
        }
    }

    @Test("a file where the data directory should be is an error naming it")
    func fileInPlaceOfDirectory() async throws {
        try await withScratchDirectory { directory in
            let dataDirectory = directory.file("data")
            try Data("not a directory".utf8).write(to: URL(fileURLWithPath: dataDirectory))
            let error = try #require(throws: SidecarDatabaseError.self) { try openDatabase(in: directory) }
            #expect(error.code == .cannotCreateDirectory)
            #expect(error.message.contains(dataDirectory))
        }
    }

    @Test("a directory where the database file should be is an error naming it")
    func directoryInPlaceOfFile() async throws {
        try await withScratchDirectory { directory in
            let path = directory.file("data/sidecar.sqlite")
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let error = try #require(throws: SidecarDatabaseError.self) { try openDatabase(in: directory) }
            #expect(error.code == .cannotOpen)
            #expect(error.message.contains(path))
        }
    }

    @Test("zero readers is a configuration error, not a crash")
    func zeroReaders() async throws {
        try await withScratchDirectory { directory in
            let error = try #require(throws: SidecarDatabaseError.self) {
                try openDatabase(in: directory) { $0.maximumReaderCount = 0 }
            }
            #expect(error.code == .invalidConfiguration)
        }
    }

    @Test("the default data directory follows XDG_STATE_HOME, then HOME")
    func defaultDataDirectory() {
        #expect(SidecarDatabaseConfiguration.defaultDataDirectory(
            environment: ["XDG_STATE_HOME": "/s", "HOME": "/h"]) == "/s/sidecar")
        #expect(SidecarDatabaseConfiguration.defaultDataDirectory(
            environment: ["XDG_STATE_HOME": "", "HOME": "/h"]) == "/h/.local/state/sidecar")
        #expect(SidecarDatabaseConfiguration.defaultDataDirectory(environment: [:]) == nil)
    }

    @Test("a closed database refuses reads and writes")
    func closed() async throws {
        try await withScratchDirectory { directory in
            let database = try openDatabase(in: directory, migrations: [itemsMigration])
            try await database.close()
            let writeError = await #expect(throws: SidecarDatabaseError.self) {
                try await database.write { db in try db.execute(sql: "INSERT INTO items (value) VALUES ('late')") }
            }
            #expect(writeError?.code == .closed)
            let readError = await #expect(throws: SidecarDatabaseError.self) {
                try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM items") }
            }
            #expect(readError?.code == .closed)
        }
    }
}
