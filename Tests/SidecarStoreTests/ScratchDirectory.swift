import Foundation
import GRDB
import Logging
@testable import SidecarStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh directory for one test's database files, removed afterwards.
struct ScratchDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/sidecar-store-test.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw CocoaError(.fileWriteUnknown)
        }
        path = String(cString: made)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs `body` with a fresh directory, removed afterwards whatever happens.
func withScratchDirectory<T>(_ body: (ScratchDirectory) async throws -> T) async throws -> T {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    return try await body(directory)
}

/// Opens a database in `directory/data` with the test's adjustments to the configuration.
func openDatabase(
    in directory: ScratchDirectory,
    migrations: [SidecarMigration] = [],
    logger: Logger = Logger(label: "sidecar.store.test", factory: { _ in SwiftLogNoOpLogHandler() }),
    _ adjust: (inout SidecarDatabaseConfiguration) -> Void = { _ in }
) throws -> SidecarDatabase {
    var configuration = SidecarDatabaseConfiguration(dataDirectory: directory.file("data"))
    adjust(&configuration)
    return try SidecarDatabase(configuration: configuration, migrations: migrations, logger: logger)
}

/// A table with an integer key and a text value, for tests that write rows.
let itemsMigration = SidecarMigration("test-items-v1") { db in
    try db.execute(sql: "CREATE TABLE items (id INTEGER PRIMARY KEY, value TEXT NOT NULL)")
}

/// The file's permission bits.
func permissions(of path: String) -> mode_t? {
    var status = stat()
    guard stat(path, &status) == 0 else { return nil }
    return status.st_mode & 0o777
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try await Task.sleep(for: .milliseconds(1))
    }
    return true
}
