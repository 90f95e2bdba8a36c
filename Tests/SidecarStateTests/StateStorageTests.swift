import GRDB
import SidecarProtocol
import Testing
@testable import SidecarState

/// The change log refuses a batch that does not follow the newest stored change, so that a
/// batch queued behind one that failed cannot leave a gap that replay would trip over.
@Suite("State storage")
struct StateStorageTests {
    private func change(_ revision: Int64) throws -> StateChange {
        StateChange(
            revision: revision,
            action: nil,
            timeMilliseconds: 0,
            path: try JSONPointer("/n"),
            patch: JSONPatch([.add(path: try JSONPointer("/n"), value: .int(revision))]),
            inverse: JSONPatch([.remove(path: try JSONPointer("/n"))])
        )
    }

    private func database() throws -> DatabaseQueue {
        let queue = try DatabaseQueue()
        try queue.write { db in try StateStorage.migration.migrate(db) }
        return queue
    }

    @Test("batches that follow each other are stored and replayed in order")
    func contiguousBatchesAreStored() throws {
        let queue = try database()
        try queue.write { db in
            try StateStorage.record([(try change(1), nil), (try change(2), nil)], historyLimit: 100, in: db)
            try StateStorage.record([(try change(3), nil)], historyLimit: 100, in: db)
        }
        let document = try queue.read { db in try StateStorage.load(db) }.document
        #expect(document.revision == 3)
        #expect(document.root == ["n": 3])
    }

    @Test("a batch after a missing revision is refused and nothing of it is written")
    func batchAfterAGapIsRefused() throws {
        let queue = try database()
        try queue.write { db in _ = try StateStorage.record([(try change(1), nil)], historyLimit: 100, in: db) }
        #expect(throws: StateStorageGap(newestStored: 1, next: 3)) {
            try queue.write { db in _ = try StateStorage.record([(try change(3), nil), (try change(4), nil)], historyLimit: 100, in: db) }
        }
        let stored = try queue.read { db in try StateStorage.newestStoredRevision(db) }
        #expect(stored == 1)
    }

    @Test("after a snapshot and a trimmed log, the next batch follows the newest change still kept")
    func followsTheNewestKeptChange() throws {
        let queue = try database()
        try queue.write { db in
            _ = try StateStorage.record([(try change(1), nil), (try change(2), ["n": 2])], historyLimit: 1, in: db)
        }
        #expect(try queue.read { db in try StateStorage.newestStoredRevision(db) } == 2)
        try queue.write { db in _ = try StateStorage.record([(try change(3), nil)], historyLimit: 1, in: db) }
        #expect(try queue.read { db in try StateStorage.load(db) }.document.revision == 3)
    }
}
