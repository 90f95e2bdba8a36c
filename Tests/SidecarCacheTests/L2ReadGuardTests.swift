import Testing

@testable import SidecarCache

/// A Redis read fills L1 only when nothing touched its keys while it was in flight.
@Suite("L2 read guard")
struct L2ReadGuardTests {
    @Test("a key read may fill unless that key was set, deleted or invalidated meanwhile")
    func keyRead() throws {
        var reads = L2ReadGuard()
        let user = reads.begin(.key("user:1"))
        let other = reads.begin(.key("user:2"))
        reads.touch(key: "user:1")
        #expect(!reads.mayFill(user, key: "user:1"))
        #expect(reads.mayFill(other, key: "user:2"))
        reads.touch(matching: try GlobPattern("user:[2-3]"))
        #expect(!reads.mayFill(other, key: "user:2"))
        reads.end(user)
        reads.end(other)
        #expect(reads.count == 0)
    }

    @Test("keys compare by their bytes, as Redis compares them")
    func exactKeys() {
        var reads = L2ReadGuard()
        let composed = reads.begin(.key("caf\u{E9}"))
        reads.touch(key: "cafe\u{301}")  // canonically equal as a String, another key to Redis
        #expect(reads.mayFill(composed, key: "caf\u{E9}"))
    }

    @Test("a pattern read skips only the keys touched meanwhile; an invalidation or clear stales all of it")
    func patternRead() throws {
        var reads = L2ReadGuard()
        let warm = reads.begin(.pattern(try GlobPattern("project:*")))
        reads.touch(key: "project:a")
        reads.touch(key: "elsewhere")
        #expect(!reads.mayFill(warm, key: "project:a"))
        #expect(reads.mayFill(warm, key: "project:b"))
        reads.touch(matching: try GlobPattern("project:z*"))
        #expect(!reads.mayFill(warm, key: "project:b"))

        let afterwards = reads.begin(.key("k"))
        reads.touchAll()
        #expect(!reads.mayFill(afterwards, key: "k"))
    }

    @Test("a read that has ended may not fill")
    func endedRead() {
        var reads = L2ReadGuard()
        let read = reads.begin(.key("k"))
        reads.end(read)
        #expect(!reads.mayFill(read, key: "k"))
    }
}
