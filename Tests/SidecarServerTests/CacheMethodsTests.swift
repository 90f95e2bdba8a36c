import SidecarProtocol
import SidecarTestSupport
import Testing

/// The `cache.*` methods of a daemon without Redis (L1 only): what a client reads back, how
/// entries expire and are evicted, and the counters of `cache.stats`.
@Suite("Cache methods, L1 only", .timeLimit(.minutes(1)))
struct CacheMethodsTests {
    @Test("set then get round-trips any JSON value with tier l1 and the remaining ttl; a miss is all null")
    func setAndGet() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            let profile: JSONValue = ["name": "Ada", "tags": [1, 2.5, nil, true], "nested": ["deep": ["x": "é"]]]
            try connection.cacheSet("user:1", profile, ttl: 60)
            let hit = try connection.cacheGet("user:1")
            #expect(hit["hit"] == true && hit["value"] == profile && hit["tier"] == "l1", "\(hit)")
            #expect(hit["ttl"]?.intValue.map { (59...60).contains($0) } == true, "ttl is the remaining seconds, rounded up: \(hit)")

            #expect(try connection.cacheGet("user:2") == ["hit": false, "value": nil, "tier": nil, "ttl": nil])

            // ttl 0: no expiry, reported as null; no ttl: the default, 300 s.
            try connection.cacheSet("forever", "v", ttl: 0)
            #expect(try connection.cacheGet("forever") == ["hit": true, "value": "v", "tier": "l1", "ttl": nil])
            try connection.cacheSet("default", "v")
            let byDefault = try connection.cacheGet("default")
            #expect(byDefault["ttl"]?.intValue.map { (299...300).contains($0) } == true, "\(byDefault)")

            // A stored null is a hit, not a miss; a new set replaces the value.
            try connection.cacheSet("nothing", nil, ttl: 60)
            let null = try connection.cacheGet("nothing")
            #expect(null["hit"] == true && null["value"] == .null && null["tier"] == "l1", "\(null)")
            try connection.cacheSet("user:1", "replaced", ttl: 60)
            #expect(try connection.cacheGet("user:1")["value"] == "replaced")
        }
    }

    @Test("hits answered from stored JSON text read the same in a batch as alone")
    func hitsInABatch() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            let profile: JSONValue = ["name": "Ada", "tags": ["x", 1.5]]
            try connection.cacheSet("user:1", profile, ttl: 0)
            _ = try connection.call("state.set", params: ["path": "/settings", "value": ["theme": "dark"]])
            let alone = [try connection.cacheGet("user:1"), try connection.call("state.get", params: ["path": "/settings"])["result"]]
            try connection.write(WireFrame.bytes([
                RPC.request("cache.get", params: ["key": "user:1"], id: 1),
                RPC.request("state.get", params: ["path": "/settings"], id: 2),
                RPC.notification("cache.get", params: ["key": "user:1"]),
            ]))
            let replies = try #require(try connection.readMessage().arrayValue)
            #expect(replies.map { $0["id"] } == [1, 2], "a notification gets no reply: \(replies)")
            #expect(replies.map { $0["result"] } == alone)
            #expect(alone[0] == ["hit": true, "value": profile, "tier": "l1", "ttl": nil])
            #expect(alone[1] == ["value": ["theme": "dark"], "revision": 1, "exists": true])
        }
    }

    @Test("an entry with a 1 s ttl is served until it expires, then is a miss counted as an expiration")
    func ttlExpiry() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            let start = ContinuousClock.now
            try connection.cacheSet("short", "lived", ttl: 1)
            let fresh = try connection.cacheGet("short")
            #expect(fresh == ["hit": true, "value": "lived", "tier": "l1", "ttl": 1], "\(fresh)")
            let expired = try waitUntil(timeout: 3, interval: 0.05) { try connection.cacheGet("short")["hit"] == false }
            #expect(expired, "the entry is gone within 3 s of a 1 s ttl")
            #expect(seconds(since: start) >= 0.9, "not before its ttl: \(seconds(since: start)) s")
            let stats = try connection.cacheStats()
            #expect(stats["l1"]?["expirations"]?.intValue.map { $0 >= 1 } == true, "\(stats)")
            #expect(stats["l1"]?["entries"] == 0, "\(stats)")
        }
    }

    @Test("delete removes an entry and says whether there was one")
    func delete() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.cacheSet("k", 1, ttl: 60)
            #expect(try connection.result("cache.delete", ["key": "k"]) == ["deleted": true])
            #expect(try connection.cacheGet("k")["hit"] == false)
            #expect(try connection.result("cache.delete", ["key": "k"]) == ["deleted": false])
            #expect(try connection.result("cache.delete", ["key": "never"]) == ["deleted": false])
        }
    }

    @Test("invalidate removes exactly the keys a Redis glob matches and counts them")
    func invalidateGlobs() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            let keys = [
                "user:1", "user:2", "user:10", "users", "user",
                "project:1:index", "project:2:index", "project:10:index", "project:1:other",
                "item:a", "item:b", "item:c",
            ]
            for key in keys { try connection.cacheSet(key, .string(key), ttl: 60) }

            #expect(try connection.result("cache.invalidate", ["pattern": "user:*"]) == ["l1Removed": 3, "l2Removed": 0])
            #expect(try connection.result("cache.invalidate", ["pattern": "project:?:index"]) == ["l1Removed": 2, "l2Removed": 0])
            #expect(try connection.result("cache.invalidate", ["pattern": "item:[ab]"]) == ["l1Removed": 2, "l2Removed": 0])
            #expect(try connection.result("cache.invalidate", ["pattern": "nothing:*"]) == ["l1Removed": 0, "l2Removed": 0])

            let removed: Set = ["user:1", "user:2", "user:10", "project:1:index", "project:2:index", "item:a", "item:b"]
            for key in keys {
                let reply = try connection.cacheGet(key)
                #expect(reply["hit"] == .bool(!removed.contains(key)), "\(key): \(reply)")
            }
            #expect(try connection.cacheStats()["l1"]?["entries"] == .int(Int64(keys.count - removed.count)))
        }
    }

    @Test("stats count hits, misses and writes exactly for a scripted sequence; sidecar.metrics holds the same")
    func statsExact() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.cacheSet("a", 1, ttl: 60)            // write 1
            try connection.cacheSet("b", 2, ttl: 60)            // write 2
            _ = try connection.cacheGet("a")                    // hit 1
            _ = try connection.cacheGet("b")                    // hit 2
            _ = try connection.cacheGet("c")                    // miss 1
            _ = try connection.cacheGet("a")                    // hit 3
            try connection.cacheSet("a", 3, ttl: 60)            // write 3 (a replacement)
            _ = try connection.cacheGet("zz")                   // miss 2
            _ = try connection.result("cache.delete", ["key": "b"])

            let stats = try connection.cacheStats()
            let l1 = try #require(stats["l1"], "\(stats)")
            #expect(l1["hits"] == 3 && l1["misses"] == 2 && l1["writes"] == 3, "\(stats)")
            #expect(l1["evictions"] == 0 && l1["expirations"] == 0 && l1["entries"] == 1, "\(stats)")
            #expect(l1["bytes"]?.intValue.map { $0 > 0 } == true, "\(stats)")
            #expect(stats["l2"] == ["enabled": false, "hits": 0, "misses": 0, "writes": 0, "errors": 0, "timeouts": 0], "\(stats)")
            #expect(stats["breaker"]?["state"] == "closed" && stats["breaker"]?["trips"] == 0, "\(stats)")

            // Reading the stats counts nothing.
            #expect(try connection.cacheStats() == stats)
            let metrics = try connection.result("sidecar.metrics", [:])
            #expect(metrics["cache"] == stats, "\(metrics)")
        }
    }

    @Test("with --cache-l1-entries 3 the least recently used entry goes first, and evictions are counted")
    func lruBound() throws {
        try withDaemon(["--cache-l1-entries", "3"]) { daemon in
            let connection = try daemon.connect()
            try connection.cacheSet("a", 1, ttl: 60)
            try connection.cacheSet("b", 2, ttl: 60)
            try connection.cacheSet("c", 3, ttl: 60)
            _ = try connection.cacheGet("a")  // a is now more recent than b and c
            try connection.cacheSet("d", 4, ttl: 60)
            #expect(try connection.cacheGet("b")["hit"] == false, "b was the least recently used")
            for (key, value) in [("a", 1), ("c", 3), ("d", 4)] as [(String, JSONValue)] {
                #expect(try connection.cacheGet(key)["value"] == value, "\(key)")
            }
            try connection.cacheSet("e", 5, ttl: 60)  // a (read before c and d were) goes
            #expect(try connection.cacheGet("a")["hit"] == false)
            let l1 = try connection.cacheStats()["l1"]
            #expect(l1?["evictions"] == 2 && l1?["entries"] == 3, "\(String(describing: l1))")
        }
    }

    @Test("with --cache-l1-bytes the oldest entries go once the values no longer fit")
    func byteBound() throws {
        // Each entry is a 5-byte key, a 1002-byte encoded value and the entry's overhead: three
        // fit in 4000 bytes and four do not, for any overhead up to 330 bytes.
        try withDaemon(["--cache-l1-bytes", "4000"]) { daemon in
            let connection = try daemon.connect()
            let big = JSONValue.string(String(repeating: "x", count: 1000))
            for index in 1...5 { try connection.cacheSet("big:\(index)", big, ttl: 60) }
            let l1 = try #require(try connection.cacheStats()["l1"])
            #expect(l1["entries"] == 3 && l1["evictions"] == 2, "\(l1)")
            #expect(l1["bytes"]?.intValue.map { $0 <= 4000 && $0 > 3000 } == true, "\(l1)")
            for index in 1...5 {
                #expect(try connection.cacheGet("big:\(index)")["hit"] == .bool(index >= 3), "big:\(index)")
            }
        }
    }

    @Test("clear removes every entry and says how many")
    func clear() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            for key in ["a", "b", "c"] { try connection.cacheSet(key, "v", ttl: 60) }
            #expect(try connection.result("cache.clear", [:]) == ["l1Removed": 3, "l2Removed": 0])
            for key in ["a", "b", "c"] { #expect(try connection.cacheGet(key)["hit"] == false, "\(key)") }
            #expect(try connection.cacheStats()["l1"]?["entries"] == 0)
            #expect(try connection.result("cache.clear", [:]) == ["l1Removed": 0, "l2Removed": 0])
        }
    }

    @Test("warm without Redis loads nothing")
    func warmWithoutRedis() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            #expect(try connection.result("cache.warm", ["pattern": "*"]) == ["loaded": 0])
        }
    }

    // MARK: - Bad input

    /// A method, params that are invalid, and the field the error must name.
    private static let badParams: [(String, JSONValue, String)] = {
        let longKey = String(repeating: "k", count: 1025)
        let longMultibyteKey = String(repeating: "é", count: 513)  // 1026 UTF-8 bytes, 513 characters
        return [
            ("cache.get", [:], "key"),
            ("cache.get", ["key": ""], "key"),
            ("cache.get", ["key": 7], "key"),
            ("cache.get", ["key": .string(longKey)], "key"),
            ("cache.get", ["key": .string(longMultibyteKey)], "key"),
            ("cache.set", ["value": 1], "key"),
            ("cache.set", ["key": "", "value": 1], "key"),
            ("cache.set", ["key": .string(longKey), "value": 1], "key"),
            ("cache.set", ["key": ["a"], "value": 1], "key"),
            ("cache.set", ["key": "a"], "value"),
            ("cache.set", ["key": "a", "value": .string(String(repeating: "v", count: 99))], "value"),  // 101 bytes encoded
            ("cache.set", ["key": "a", "value": 1, "ttl": -1], "ttl"),
            ("cache.set", ["key": "a", "value": 1, "ttl": "60"], "ttl"),
            ("cache.set", ["key": "a", "value": 1, "ttl": 1.5], "ttl"),
            ("cache.delete", [:], "key"),
            ("cache.delete", ["key": ""], "key"),
            ("cache.invalidate", [:], "pattern"),
            ("cache.invalidate", ["pattern": ""], "pattern"),
            ("cache.invalidate", ["pattern": 3], "pattern"),
            ("cache.invalidate", ["pattern": .string(String(repeating: "*", count: 1025))], "pattern"),
            ("cache.warm", ["pattern": ""], "pattern"),
            ("cache.fetch", ["key": "", "lease": 1000], "key"),
            ("cache.fetch", ["key": "a", "lease": 0], "lease"),
            ("cache.fetch", ["key": "a", "lease": 600_001], "lease"),
            ("cache.fetch", ["key": "a", "lease": "1000"], "lease"),
        ]
    }()

    @Test("invalid params are -32602 with data.field naming the field and a message that names it; nothing is stored")
    func invalidParams() throws {
        try withDaemon(["--cache-max-value-bytes", "100"]) { daemon in
            let connection = try daemon.connect()
            for (method, params, field) in Self.badParams {
                let error = try connection.error(method, params, code: -32602)
                #expect(error["data"]?["field"] == .string(field), "\(method) \(params): \(error)")
                #expect(error["message"]?.stringValue?.contains(field) == true, "\(method) \(params): \(error)")
            }
            let oversized = try connection.error("cache.set", ["key": "a", "value": .string(String(repeating: "v", count: 99))],
                                                 code: -32602)
            #expect(oversized["message"]?.stringValue?.contains("100") == true, "the message gives the limit: \(oversized)")

            let l1 = try connection.cacheStats()["l1"]
            #expect(l1?["writes"] == 0 && l1?["entries"] == 0, "nothing was stored: \(String(describing: l1))")
            #expect(try connection.cacheGet("a")["hit"] == false)

            // The limits themselves are accepted: a 1024-byte key (here 512 two-byte characters)
            // and a value of exactly 100 encoded bytes.
            let longestKey = String(repeating: "é", count: 512)
            try connection.cacheSet(longestKey, .string(String(repeating: "v", count: 98)), ttl: 60)
            #expect(try connection.cacheGet(longestKey)["hit"] == true)
        }
    }
}
