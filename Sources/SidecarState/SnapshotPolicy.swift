/// When to write the whole document again, as a value the state service owns.
///
/// Start-up loads the latest snapshot and replays the change log after it, so snapshots must
/// come often enough to keep that replay short; but a snapshot rewrites the whole document,
/// so for a large document they must come rarely enough not to dwarf the small changes
/// between them. A snapshot is due once at least ``minimumChanges`` changes were made since
/// the last one *and* the change log written since then is at least as large as that
/// snapshot: replay reads about one document's worth of changes at most, and rewriting the
/// document costs about as much as the changes it absorbs, whatever the document's size.
///
/// ```swift
/// var policy = SnapshotPolicy(minimumChanges: 100)
/// if policy.changeMade() { /* store a snapshot with this change */ }
/// policy.stored(logBytes: 240, snapshotBytes: nil)  // once a batch has been written
/// ```
struct SnapshotPolicy: Sendable {
    /// The fewest changes between two snapshots.
    let minimumChanges: Int
    private(set) var changesSinceSnapshot: Int
    /// Bytes of change log written since the last snapshot.
    private(set) var logBytesSinceSnapshot: Int
    /// The size of the last snapshot; 0 before the first.
    private(set) var snapshotBytes: Int

    init(minimumChanges: Int, changesSinceSnapshot: Int = 0, logBytesSinceSnapshot: Int = 0, snapshotBytes: Int = 0) {
        self.minimumChanges = max(1, minimumChanges)
        self.changesSinceSnapshot = changesSinceSnapshot
        self.logBytesSinceSnapshot = logBytesSinceSnapshot
        self.snapshotBytes = snapshotBytes
    }

    /// Counts a change; returns whether a snapshot should be stored with it.
    mutating func changeMade() -> Bool {
        changesSinceSnapshot += 1
        guard changesSinceSnapshot >= minimumChanges, logBytesSinceSnapshot >= snapshotBytes else { return false }
        changesSinceSnapshot = 0
        logBytesSinceSnapshot = 0
        return true
    }

    /// Counts what a batch wrote: its change log rows (those after its snapshot, when it
    /// held one) and the size of that snapshot.
    mutating func stored(logBytes: Int, snapshotBytes: Int?) {
        guard let snapshotBytes else {
            logBytesSinceSnapshot += logBytes
            return
        }
        self.snapshotBytes = snapshotBytes
        logBytesSinceSnapshot = logBytes
    }
}
