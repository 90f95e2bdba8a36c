import SidecarProtocol
import Testing

@testable import SidecarClient

/// How `client.cache` reads the daemon's `cache.*` results, without a daemon.
@Suite("Cache client results")
struct CacheClientDecodingTests {
    // MARK: - cache.get

    @Test func getHitKeepsValueTierAndTTL() throws {
        let result = try CacheGetResult(result: ["hit": true, "value": ["name": "Ada"], "tier": "l2", "ttl": 57])
        #expect(result == CacheGetResult(hit: true, value: ["name": "Ada"], tier: .l2, ttl: 57))
    }

    @Test func getTellsACachedNullFromAMiss() throws {
        let cachedNull = try CacheGetResult(result: ["hit": true, "value": nil, "tier": "l1", "ttl": nil])
        #expect(cachedNull.hit && cachedNull.value == .null && cachedNull.tier == .l1 && cachedNull.ttl == nil)

        let miss = try CacheGetResult(result: ["hit": false, "value": nil, "tier": nil, "ttl": nil])
        #expect(!miss.hit && miss.value == .none && miss.tier == nil && miss.ttl == nil)
    }

    @Test func getRejectsResultsItCannotRead() {
        for bad: JSONValue in [
            ["value": 1],
            ["hit": "yes"],
            ["hit": true, "value": 1, "tier": "l3", "ttl": nil],
            ["hit": true, "value": 1, "tier": 1, "ttl": nil],
            ["hit": true, "value": 1, "tier": "l1", "ttl": 1.5],
        ] {
            #expect(throws: SidecarClientError.self, "\(bad)") { try CacheGetResult(result: bad) }
        }
    }

    // MARK: - cache.fetch

    @Test func fetchIsAHitOrALease() throws {
        #expect(try CacheFetchResult(result: ["hit": true, "value": [1, 2]]) == .hit([1, 2]))
        #expect(try CacheFetchResult(result: ["hit": true, "value": nil]) == .hit(.null))
        #expect(try CacheFetchResult(result: ["hit": false, "lease": "t-1"]) == .lease("t-1"))
        #expect(throws: SidecarClientError.self) { try CacheFetchResult(result: ["hit": false]) }
        #expect(throws: SidecarClientError.self) { try CacheFetchResult(result: ["lease": "t-1"]) }
    }

    // MARK: - cache.stats

    static let stats: JSONValue = [
        "l1": ["hits": 120, "misses": 30, "writes": 45, "evictions": 1, "expirations": 2, "entries": 38, "bytes": 9120],
        "l2": ["enabled": true, "hits": 20, "misses": 10, "writes": 40, "errors": 3, "timeouts": 1],
        "breaker": ["state": "half_open", "consecutiveFailures": 5, "openedAt": "2026-01-01T00:00:00.250Z", "trips": 2],
        "later": "members the client does not know are ignored",
    ]

    @Test func statsDecodeEveryMember() throws {
        let stats = try JSONBridge.decode(CacheStats.self, from: Self.stats, method: "cache.stats")
        #expect(stats.l1.hits == 120 && stats.l1.misses == 30 && stats.l1.writes == 45)
        #expect(stats.l1.evictions == 1 && stats.l1.expirations == 2 && stats.l1.entries == 38 && stats.l1.bytes == 9120)
        #expect(stats.l1.hitRatio == 0.8)
        #expect(stats.l2.enabled && stats.l2.hits == 20 && stats.l2.misses == 10 && stats.l2.writes == 40)
        #expect(stats.l2.errors == 3 && stats.l2.timeouts == 1)
        #expect(stats.l2.hitRatio.map { abs($0 - 2.0 / 3.0) < 1e-12 } == true)
        #expect(stats.breaker.state == .halfOpen)
        #expect(stats.breaker.consecutiveFailures == 5 && stats.breaker.trips == 2)
        #expect(stats.breaker.openedAt == "2026-01-01T00:00:00.250Z")
    }

    @Test func statsOfAFreshDaemonHaveNoHitRatio() throws {
        let fresh: JSONValue = [
            "l1": ["hits": 0, "misses": 0, "writes": 0, "evictions": 0, "expirations": 0, "entries": 0, "bytes": 0],
            "l2": ["enabled": false, "hits": 0, "misses": 0, "writes": 0, "errors": 0, "timeouts": 0],
            "breaker": ["state": "closed", "consecutiveFailures": 0, "openedAt": nil, "trips": 0],
        ]
        let stats = try JSONBridge.decode(CacheStats.self, from: fresh, method: "cache.stats")
        #expect(stats.l1.hitRatio == nil && stats.l2.hitRatio == nil)
        #expect(stats.breaker.state == .closed && stats.breaker.openedAt == nil)
    }

    @Test func statsWithAnUnknownBreakerStateFailNamingTheMember() {
        var stats = Self.stats
        if case .object(var members) = stats, case .object(var breaker)? = members["breaker"] {
            breaker["state"] = "ajar"
            members["breaker"] = .object(breaker)
            stats = .object(members)
        }
        let error = #expect(throws: SidecarClientError.self) {
            try JSONBridge.decode(CacheStats.self, from: stats, method: "cache.stats")
        }
        guard case .decodingFailed(let method, let reason)? = error else {
            Issue.record("expected decodingFailed, got \(String(describing: error))")
            return
        }
        #expect(method == "cache.stats")
        #expect(reason.contains("breaker.state"), "\(reason)")
    }

    // MARK: - Helpers

    @Test func leaseDurationsBecomeWholeMillisecondsRoundedUp() {
        #expect(CacheAPI.milliseconds(.seconds(30)) == 30_000)
        #expect(CacheAPI.milliseconds(.milliseconds(250)) == 250)
        #expect(CacheAPI.milliseconds(.microseconds(1)) == 1)
        #expect(CacheAPI.milliseconds(.microseconds(1500)) == 2)
        #expect(CacheAPI.milliseconds(.zero) == 0)
    }

    @Test func encodableValuesBecomeAnyJSON() throws {
        struct Profile: Encodable { var name: String; var age: Int }
        #expect(try CacheValueCoding.encode(Profile(name: "Ada", age: 36)) == ["name": "Ada", "age": 36])
        #expect(try CacheValueCoding.encode("plain") == "plain")
        #expect(try CacheValueCoding.encode(42) == 42)
        #expect(try CacheValueCoding.encode([1.5]) == [1.5])
    }
}
