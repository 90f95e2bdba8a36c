import SidecarCache
import SidecarProtocol
import Testing

/// The L1 cache: recency, both bounds, TTL, origins, pattern removal and exact counters.
@Suite("L1 LRU cache")
struct LRUCacheTests {
    /// A string value whose encoded JSON is exactly `length` bytes (the quotes included).
    static func text(encodedLength length: Int) -> JSONValue {
        .string(String(repeating: "x", count: length - 2))
    }

    /// The bytes an entry is charged for.
    static func size(key: String, encodedLength: Int) -> Int {
        key.utf8.count + encodedLength + CacheEntry.overhead
    }

    @Test("a get makes the key most recently used, so the entry bound evicts another one")
    func getRefreshesRecency() {
        var cache = LRUCache(limits: .init(maximumEntries: 3))
        for key in ["a", "b", "c"] { cache.set(key, value: 1, ttl: .never, now: 0) }
        #expect(cache.keysFromMostRecent == ["c", "b", "a"])
        #expect(cache.get("a", now: 0) != nil)
        #expect(cache.keysFromMostRecent == ["a", "c", "b"])

        #expect(cache.set("d", value: 4, ttl: .never, now: 0) == .stored(evictions: 1))
        #expect(cache.keysFromMostRecent == ["d", "a", "c"])
        #expect(cache.get("b", now: 0) == nil)
        // A replacement also refreshes recency.
        cache.set("c", value: 5, ttl: .never, now: 0)
        #expect(cache.keysFromMostRecent == ["c", "d", "a"])
        // peek does not.
        #expect(cache.peek("a", now: 0)?.value == 1)
        #expect(cache.keysFromMostRecent == ["c", "d", "a"])
    }

    @Test("the entry bound evicts the least recently used entries, counted exactly")
    func entryBound() {
        var cache = LRUCache(limits: .init(maximumEntries: 3))
        for index in 1...5 { cache.set("k\(index)", value: .int(Int64(index)), ttl: .never, now: 0) }
        #expect(cache.count == 3)
        #expect(cache.keysFromMostRecent == ["k5", "k4", "k3"])
        #expect(cache.statistics.evictions == 2)
        #expect(cache.statistics.writes == 5)
        #expect(cache.get("k1", now: 0) == nil)
        #expect(cache.get("k3", now: 0)?.value == 3)
    }

    @Test("the byte bound evicts as many entries as it takes, and a too-large entry is refused")
    func byteBound() {
        let each = Self.size(key: "k1", encodedLength: 100)
        var cache = LRUCache(limits: .init(maximumEntries: 100, maximumBytes: 3 * each))
        for index in 1...3 {
            #expect(cache.set("k\(index)", value: Self.text(encodedLength: 100), ttl: .never, now: 0) == .stored(evictions: 0))
        }
        #expect(cache.bytes == 3 * each)

        // Bigger than two old entries together: all three old ones have to go.
        let big = Self.size(key: "big", encodedLength: 300)
        #expect(big > 2 * each && big <= 3 * each)
        #expect(cache.set("big", value: Self.text(encodedLength: 300), ttl: .never, now: 0) == .stored(evictions: 3))
        #expect(cache.keysFromMostRecent == ["big"])
        #expect(cache.bytes == big)

        cache.set("k4", value: Self.text(encodedLength: 10), ttl: .never, now: 0)
        #expect(cache.statistics.evictions == 3)
        #expect(cache.bytes == big + Self.size(key: "k4", encodedLength: 10))

        // Larger than the whole bound: not stored, and the key's older value is gone too.
        let tooLarge = Self.size(key: "k4", encodedLength: 3 * each)
        #expect(cache.set("k4", value: Self.text(encodedLength: 3 * each), ttl: .never, now: 0) == .tooLarge(size: tooLarge))
        #expect(cache.get("k4", now: 0) == nil)
        #expect(cache.keysFromMostRecent == ["big"])
        #expect(cache.bytes == big)

        // Only as many as it takes: the LRU entry goes, the other small one stays.
        cache.set("s1", value: Self.text(encodedLength: 10), ttl: .never, now: 0)
        #expect(cache.set("s2", value: Self.text(encodedLength: 10), ttl: .never, now: 0) == .stored(evictions: 1))
        #expect(cache.keysFromMostRecent == ["s2", "s1"])
        #expect(cache.statistics.evictions == 4)
        #expect(cache.bytes == 2 * Self.size(key: "s1", encodedLength: 10))
    }

    @Test("replacing a value replaces its size in the byte count")
    func replacementAccounting() {
        var cache = LRUCache()
        cache.set("key", value: Self.text(encodedLength: 10), ttl: .never, now: 0)
        #expect(cache.bytes == Self.size(key: "key", encodedLength: 10))
        cache.set("key", value: Self.text(encodedLength: 500), ttl: .never, now: 0)
        #expect(cache.bytes == Self.size(key: "key", encodedLength: 500))
        cache.set("key", value: Self.text(encodedLength: 3), ttl: .never, now: 0)
        #expect(cache.bytes == Self.size(key: "key", encodedLength: 3))
        #expect(cache.count == 1)
        #expect(cache.statistics.writes == 3)
        let removed = cache.remove("key", now: 0)
        #expect(removed)
        #expect(cache.bytes == 0)
        #expect(cache.count == 0)
    }

    @Test("a hit carries the encoded bytes: the caller's, or encoded once by the cache")
    func encodedBytes() {
        var cache = LRUCache()
        cache.set("a", value: ["n": 1, "s": "x"], ttl: .never, now: 0)
        #expect(cache.get("a", now: 0)?.encoded == Array(#"{"n":1,"s":"x"}"#.utf8))
        #expect(cache.bytes == Self.size(key: "a", encodedLength: 15))

        let encoded = Array("[true]".utf8)
        cache.set("b", value: [true], encoded: encoded, ttl: .never, origin: .l2, now: 0)
        let hit = cache.get("b", now: 0)
        #expect(hit?.value == [true])
        #expect(hit?.encoded == encoded)
        #expect(hit?.origin == .l2)
    }

    @Test("an expired entry is never returned, and the lookup that finds it removes it")
    func lazyExpiry() {
        let clock = ManualCacheClock()
        var cache = LRUCache()
        cache.set("session", value: "s", ttl: CacheTTL(seconds: 10), now: clock.monotonicMilliseconds())
        clock.advance(by: 9_999)
        #expect(cache.get("session", now: clock.monotonicMilliseconds())?.ttlMilliseconds == 1)
        clock.advance(by: 1)
        #expect(cache.peek("session", now: clock.monotonicMilliseconds()) == nil)
        #expect(cache.count == 1, "peek leaves it")
        #expect(cache.get("session", now: clock.monotonicMilliseconds()) == nil)
        #expect(cache.count == 0)
        #expect(cache.bytes == 0)
        let statistics = cache.statistics
        #expect(statistics.hits == 1)
        #expect(statistics.misses == 1)
        #expect(statistics.expirations == 1)
        #expect(statistics.evictions == 0)
        // Removing an expired key removes nothing visible.
        cache.set("gone", value: 1, ttl: .milliseconds(5), now: 0)
        let removedExpired = cache.remove("gone", now: 5)
        #expect(!removedExpired)
        #expect(cache.statistics.expirations == 2)
    }

    @Test("the sweep removes expired entries nobody asks for, round-robin within its scan limit")
    func sweep() {
        var cache = LRUCache()
        cache.set("one", value: 1, ttl: CacheTTL(seconds: 1), now: 0)
        cache.set("two", value: 2, ttl: CacheTTL(seconds: 2), now: 0)
        cache.set("forever", value: 3, ttl: .never, now: 0)
        #expect(cache.purgeExpired(now: 999) == 0)
        #expect(cache.purgeExpired(now: 1_500) == 1)
        #expect(cache.keysFromMostRecent == ["forever", "two"])
        #expect(cache.purgeExpired(now: 60_000) == 1)
        #expect(cache.keysFromMostRecent == ["forever"])
        #expect(cache.statistics.expirations == 2)
        #expect(cache.bytes == Self.size(key: "forever", encodedLength: 1))

        // With a limit of one slot per call, successive calls still cover every entry.
        var limited = LRUCache()
        for index in 0..<4 { limited.set("k\(index)", value: 1, ttl: .milliseconds(10), now: 0) }
        var removed: [Int] = []
        for _ in 0..<5 { removed.append(limited.purgeExpired(now: 10, scanLimit: 1)) }
        #expect(removed == [1, 1, 1, 1, 0])
        #expect(limited.count == 0)
        #expect(limited.statistics.expirations == 4)
    }

    @Test("the remaining TTL is whole seconds rounded up, nil without expiry")
    func remainingTTL() {
        var cache = LRUCache()
        cache.set("a", value: 1, ttl: CacheTTL(seconds: 30), now: 1_000)
        #expect(cache.get("a", now: 1_000)?.ttl == 30)
        #expect(cache.get("a", now: 1_000)?.ttlMilliseconds == 30_000)
        #expect(cache.get("a", now: 1_001)?.ttl == 30)
        #expect(cache.get("a", now: 2_000)?.ttl == 29)
        #expect(cache.get("a", now: 30_999)?.ttl == 1, "a live entry never reports 0")
        #expect(cache.get("a", now: 31_000) == nil)

        cache.set("b", value: 1, ttl: CacheTTL(seconds: 0), now: 0)
        #expect(CacheTTL(seconds: 0) == .never)
        #expect(cache.get("b", now: .max - 1)?.ttl == nil)
        #expect(cache.get("b", now: 0)?.ttlMilliseconds == nil)

        // A TTL already past removes the key instead of storing it.
        #expect(cache.set("b", value: 2, ttl: .milliseconds(0), now: 0) == .alreadyExpired)
        #expect(cache.get("b", now: 0) == nil)
    }

    @Test("an expired entry pushed out for room counts as an expiration, not an eviction")
    func expiredVictim() {
        var cache = LRUCache(limits: .init(maximumEntries: 2))
        cache.set("short", value: 1, ttl: .milliseconds(10), now: 0)
        cache.set("long", value: 1, ttl: .never, now: 0)
        #expect(cache.set("new", value: 1, ttl: .never, now: 20) == .stored(evictions: 0))
        #expect(cache.set("newer", value: 1, ttl: .never, now: 20) == .stored(evictions: 1))
        #expect(cache.statistics.expirations == 1)
        #expect(cache.statistics.evictions == 1)
        #expect(cache.keysFromMostRecent == ["newer", "new"])
    }

    @Test("entries filled from L2 can be dropped together after an outage")
    func originRemoval() {
        var cache = LRUCache()
        cache.set("mine", value: 1, ttl: .never, origin: .local, now: 0)
        cache.set("theirs:1", value: 2, ttl: .never, origin: .l2, now: 0)
        cache.set("theirs:2", value: 3, ttl: .never, origin: .l2, now: 0)
        #expect(cache.removeEntries(from: .l2) == 2)
        #expect(cache.keysFromMostRecent == ["mine"])
        #expect(cache.bytes == Self.size(key: "mine", encodedLength: 1))
        // A local write over an L2 fill makes it local.
        cache.set("k", value: 1, ttl: .never, origin: .l2, now: 0)
        cache.set("k", value: 2, ttl: .never, origin: .local, now: 0)
        #expect(cache.removeEntries(from: .l2) == 0)
        #expect(cache.removeAll { key, _ in key == "k" } == 1)
        #expect(cache.count == 1)
    }

    @Test("removeMatching removes the keys the glob matches and counts the live ones")
    func removeMatching() throws {
        var cache = LRUCache()
        for key in ["user:1", "user:2", "user:10", "session:1", "users"] {
            cache.set(key, value: 1, ttl: .never, now: 0)
        }
        cache.set("user:3", value: 1, ttl: .milliseconds(5), now: 0)
        #expect(cache.removeMatching(try GlobPattern("user:?"), now: 10) == 2)
        #expect(cache.statistics.expirations == 1, "user:3 had expired: removed, not counted")
        #expect(Set(cache.keysFromMostRecent) == ["user:10", "session:1", "users"])
        #expect(cache.removeMatching(try GlobPattern("session:1"), now: 10) == 1)
        #expect(cache.removeMatching(try GlobPattern("session:1"), now: 10) == 0)
        #expect(cache.removeMatching(try GlobPattern("nothing*"), now: 10) == 0)
        #expect(cache.removeMatching(try GlobPattern("*"), now: 10) == 2)
        #expect(cache.count == 0)
        #expect(cache.bytes == 0)
    }

    @Test("keys are compared by bytes, as Redis does")
    func bytewiseKeys() {
        var cache = LRUCache()
        cache.set("caf\u{E9}", value: 1, ttl: .never, now: 0)
        cache.set("cafe\u{301}", value: 2, ttl: .never, now: 0)
        #expect(cache.count == 2)
        #expect(cache.get("caf\u{E9}", now: 0)?.value == 1)
        #expect(cache.get("cafe\u{301}", now: 0)?.value == 2)
    }

    @Test("the counters are exact for a scripted sequence")
    func scriptedStatistics() throws {
        var cache = LRUCache(limits: .init(maximumEntries: 3))
        cache.set("a", value: 1, ttl: .never, now: 0)  // write
        cache.set("b", value: 2, ttl: .milliseconds(100), now: 0)  // write
        _ = cache.get("a", now: 10)  // hit
        _ = cache.get("x", now: 10)  // miss
        cache.set("c", value: 3, ttl: .never, now: 20)  // write
        cache.set("d", value: 4, ttl: .never, now: 30)  // write; evicts b (live, LRU)
        _ = cache.get("b", now: 40)  // miss
        cache.set("e", value: 5, ttl: .milliseconds(50), now: 50)  // write; evicts a (c, d, e remain)
        _ = cache.get("e", now: 99)  // hit
        _ = cache.get("e", now: 100)  // miss + expiration
        cache.set("a", value: 1, ttl: .never, now: 110)  // write
        cache.set("a", value: "again", ttl: .never, now: 120)  // write (replacement)
        _ = cache.removeMatching(try GlobPattern("c"), now: 130)  // removal: not counted
        _ = cache.get("d", now: 140)  // hit

        var expected = L1Statistics()
        expected.hits = 3
        expected.misses = 3
        expected.writes = 7
        expected.evictions = 2
        expected.expirations = 1
        expected.entries = 2
        expected.bytes = Self.size(key: "a", encodedLength: 7) + Self.size(key: "d", encodedLength: 1)
        #expect(cache.statistics == expected)
        #expect(cache.statistics.jsonValue["bytes"] == .int(Int64(expected.bytes)))
    }

    @Test("agrees with a simple reference model over a long random sequence")
    func referenceModel() throws {
        // A list ordered most recent first; every operation O(n), obviously right.
        struct Model {
            var items: [(key: String, value: Int64, expiresAt: Int64?)] = []
            let maximumEntries: Int
            var evictions = 0
            var expirations = 0

            mutating func get(_ key: String, now: Int64) -> Int64? {
                guard let index = items.firstIndex(where: { $0.key == key }) else { return nil }
                let item = items.remove(at: index)
                if let expiresAt = item.expiresAt, now >= expiresAt {
                    expirations += 1
                    return nil
                }
                items.insert(item, at: 0)
                return item.value
            }

            mutating func set(_ key: String, _ value: Int64, expiresAt: Int64?, now: Int64) {
                items.removeAll { $0.key == key }
                items.insert((key, value, expiresAt), at: 0)
                while items.count > maximumEntries {
                    let victim = items.removeLast()
                    if let expiresAt = victim.expiresAt, now >= expiresAt { expirations += 1 } else { evictions += 1 }
                }
            }
        }

        var generator = SplitMix64(seed: 42)
        var cache = LRUCache(limits: .init(maximumEntries: 16))
        var model = Model(maximumEntries: 16)
        var now: Int64 = 0
        for step in 0..<20_000 {
            now += Int64(generator.next() % 3)
            let key = "k\(generator.next() % 40)"
            switch generator.next() % 10 {
            case 0..<4:
                try #require(cache.get(key, now: now)?.value.intValue == model.get(key, now: now), "step \(step)")
            case 4..<8:
                let ttl = generator.next() % 4 == 0 ? Int64(1 + generator.next() % 50) : 0
                let value = Int64(step)
                cache.set(key, value: .int(value), ttl: ttl == 0 ? .never : .milliseconds(ttl), now: now)
                model.set(key, value, expiresAt: ttl == 0 ? nil : now + ttl, now: now)
            case 8:
                let removed = cache.remove(key, now: now)
                let live = model.get(key, now: now) != nil
                model.items.removeAll { $0.key == key }
                try #require(removed == live, "step \(step)")
            default:
                let purged = cache.purgeExpired(now: now)
                let before = model.items.count
                model.items.removeAll { item in item.expiresAt.map { now >= $0 } ?? false }
                model.expirations += before - model.items.count
                try #require(purged == before - model.items.count, "step \(step)")
            }
            // Stop at the first divergence: later steps would only repeat it.
            try #require(cache.keysFromMostRecent == model.items.map(\.key), "step \(step)")
            let modelBytes = model.items.reduce(0) { $0 + Self.size(key: $1.key, encodedLength: String($1.value).utf8.count) }
            try #require(cache.bytes == modelBytes, "step \(step)")
        }
        #expect(cache.statistics.evictions == model.evictions)
        #expect(cache.statistics.expirations == model.expirations)
        #expect(cache.statistics.evictions > 100, "the sequence exercised eviction")
        #expect(cache.statistics.expirations > 100, "the sequence exercised expiry")
    }
}

/// A small deterministic generator, so a failing sequence is the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E485
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
