import Testing

@testable import SidecarState

/// When the whole document is written again.
@Suite("Snapshot policy")
struct SnapshotPolicyTests {
    /// Makes changes of `bytes` each, stored one at a time, until a snapshot is due; returns how many.
    private func changesUntilSnapshot(_ policy: inout SnapshotPolicy, bytesPerChange: Int, snapshotBytes: Int) -> Int {
        for count in 1...1_000_000 {
            if policy.changeMade() {
                policy.stored(logBytes: 0, snapshotBytes: snapshotBytes)
                return count
            }
            policy.stored(logBytes: bytesPerChange, snapshotBytes: nil)
        }
        return -1
    }

    @Test("a small document is written every minimumChanges changes")
    func smallDocument() {
        var policy = SnapshotPolicy(minimumChanges: 100)
        #expect(changesUntilSnapshot(&policy, bytesPerChange: 200, snapshotBytes: 1_000) == 100)
        #expect(changesUntilSnapshot(&policy, bytesPerChange: 200, snapshotBytes: 1_000) == 100)
    }

    @Test("a large document is written again only once as many bytes of changes followed it")
    func largeDocument() {
        var policy = SnapshotPolicy(minimumChanges: 100)
        #expect(changesUntilSnapshot(&policy, bytesPerChange: 100, snapshotBytes: 700_000) == 100, "the first: no snapshot yet")
        #expect(changesUntilSnapshot(&policy, bytesPerChange: 100, snapshotBytes: 700_000) == 7_001)
    }

    @Test("start-up goes on from what it replayed")
    func afterStartUp() {
        var policy = SnapshotPolicy(minimumChanges: 10, changesSinceSnapshot: 9, logBytesSinceSnapshot: 5_000, snapshotBytes: 4_000)
        let due = policy.changeMade()
        #expect(due)
        #expect(policy.changesSinceSnapshot == 0 && policy.logBytesSinceSnapshot == 0)
    }
}
