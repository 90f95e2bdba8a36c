import Foundation
import GRDB
import Testing
@testable import SidecarStore

@Suite("Migrations")
struct MigrationTests {
    /// A migration that appends its identifier to `migration_log`, so the log shows which
    /// migrations ran and in which order.
    static func logging(_ identifier: String) -> SidecarMigration {
        SidecarMigration(identifier) { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS migration_log (position INTEGER PRIMARY KEY, identifier TEXT)")
            try db.execute(sql: "INSERT INTO migration_log (identifier) VALUES (?)", arguments: [identifier])
        }
    }

    static func log(_ database: SidecarDatabase) async throws -> [String] {
        try await database.read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM migration_log ORDER BY position")
        }
    }

    @Test("migrations run once each, in order, including those added later")
    func runOnceInOrder() async throws {
        try await withScratchDirectory { directory in
            let first = try openDatabase(in: directory, migrations: [Self.logging("b-v1"), Self.logging("a-v1")])
            #expect(try await Self.log(first) == ["b-v1", "a-v1"])
            try await first.close()

            let second = try openDatabase(
                in: directory, migrations: [Self.logging("b-v1"), Self.logging("a-v1"), Self.logging("c-v1")])
            #expect(try await Self.log(second) == ["b-v1", "a-v1", "c-v1"])
            let applied = try await second.read { db in
                try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
            }
            #expect(Set(applied) == ["sidecar-meta-v1", "b-v1", "a-v1", "c-v1"])
            try await second.close()
        }
    }

    @Test("the store's meta table exists before the services' migrations run")
    func metaTableFirst() async throws {
        try await withScratchDirectory { directory in
            let usesMeta = SidecarMigration("uses-meta-v1") { db in
                try MetaTable.setValue("seeded", forKey: "seed", in: db)
            }
            let database = try openDatabase(in: directory, migrations: [usesMeta])
            let seed = try await database.read { db in try MetaTable.value(forKey: "seed", in: db) }
            #expect(seed == "seeded")
            let removed = try await database.write { db in try MetaTable.removeValue(forKey: "seed", in: db) }
            #expect(removed)
            let after = try await database.read { db in try MetaTable.value(forKey: "seed", in: db) }
            #expect(after == nil)
            try await database.close()
        }
    }

    @Test("a failing migration names itself, keeps earlier ones and leaves no partial change")
    func failingMigration() async throws {
        struct Broken: Error {}
        try await withScratchDirectory { directory in
            let broken = SidecarMigration("broken-v1") { db in
                try db.execute(sql: "CREATE TABLE half_done (id INTEGER)")
                throw Broken()
            }
            let error = try #require(throws: SidecarDatabaseError.self) {
                try openDatabase(in: directory, migrations: [Self.logging("a-v1"), broken])
            }
            #expect(error.code == .migrationFailed)
            #expect(error.message.contains("broken-v1"))
            #expect(error.underlying is Broken)

            let database = try openDatabase(in: directory, migrations: [Self.logging("a-v1")])
            #expect(try await Self.log(database) == ["a-v1"])
            let halfDone = try await database.read { db in try db.tableExists("half_done") }
            #expect(!halfDone)
            try await database.close()
        }
    }

    @Test("a database migrated by a newer version is refused")
    func newerSchema() async throws {
        try await withScratchDirectory { directory in
            let newer = try openDatabase(in: directory, migrations: [Self.logging("a-v1"), Self.logging("a-v2")])
            try await newer.close()
            let error = try #require(throws: SidecarDatabaseError.self) {
                try openDatabase(in: directory, migrations: [Self.logging("a-v1")])
            }
            #expect(error.code == .newerSchema)
            #expect(error.message.contains("a-v2"))
        }
    }

    @Test("registering an identifier twice is a configuration error")
    func duplicateIdentifier() async throws {
        try await withScratchDirectory { directory in
            let error = try #require(throws: SidecarDatabaseError.self) {
                try openDatabase(in: directory, migrations: [Self.logging("a-v1"), Self.logging("a-v1")])
            }
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains("a-v1"))
        }
    }
}
