import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

/// The cache with a real Redis as L2: write-through, L2 fills of L1, invalidation across two
/// daemons sharing one Redis, and warming.
@Suite("Cache with Redis", .timeLimit(.minutes(1)))
struct CacheRedisTests {
    @Test("set writes through to Redis: the value's JSON text under prefix + key, with a PX ttl")
    func writeThrough() async throws {
        try await withRedisServer { redis in
            try await withDaemon(cacheFlags(redis)) { daemon in
                let cli = RedisCLI(redis)
                let connection = try daemon.connect()
                try connection.cacheSet("user:1", ["name": "Ada", "age": 36], ttl: 60)
                #expect(try await cli.get("sidecar:user:1") == #"{"name":"Ada","age":36}"#)
                let ttl = try await cli.pttl("sidecar:user:1")
                #expect((55_000...60_000).contains(ttl), "PX of about 60 s: \(ttl)")
                #expect(try await cli.get("user:1") == nil, "only the prefixed key is written")

                try connection.cacheSet("forever", "v", ttl: 0)
                #expect(try await cli.get("sidecar:forever") == #""v""#)
                #expect(try await cli.pttl("sidecar:forever") == -1, "ttl 0: no expiry in Redis either")
                try connection.cacheSet("default", [1, 2])
                let defaultTTL = try await cli.pttl("sidecar:default")
                #expect((295_000...300_000).contains(defaultTTL), "the default 300 s: \(defaultTTL)")

                // The writing daemon serves its own write from L1.
                #expect(try connection.cacheGet("user:1")["tier"] == "l1")
                let l2 = try connection.cacheStats()["l2"]
                #expect(l2?["enabled"] == true && l2?["writes"] == 3 && l2?["errors"] == 0, "\(String(describing: l2))")

                #expect(try connection.result("cache.delete", ["key": "user:1"]) == ["deleted": true])
                #expect(try await cli.exists("sidecar:user:1") == false, "delete removes the Redis key too")
            }
        }
    }

    @Test("--cache-prefix changes the Redis namespace")
    func customPrefix() async throws {
        try await withRedisServer { redis in
            try await withDaemon(cacheFlags(redis, ["--cache-prefix", "app7/"])) { daemon in
                let connection = try daemon.connect()
                try connection.cacheSet("k", "v", ttl: 60)
                let cli = RedisCLI(redis)
                #expect(try await cli.get("app7/k") == #""v""#)
                #expect(try await cli.keys(matching: "sidecar:*") == [])
            }
        }
    }

    @Test("an L1 miss that Redis has is answered from l2 with the remaining ttl, and fills L1")
    func l2FillsL1() async throws {
        try await withRedisServer { redis in
            try await withTwoDaemons(sharing: redis) { first, second in
                // Written by the first daemon's client, straight into Redis: no invalidation is
                // published, so none can reach the second daemon after it filled its L1 (that
                // harmless race, one extra Redis read, is the next test's business).
                _ = first
                let b = try second.connect()
                let sharedSetAt = ContinuousClock.now
                try await RedisCLI(redis).set("sidecar:shared", #"{"n":1}"#, milliseconds: 60_000)
                let fromL2 = try b.cacheGet("shared")
                #expect(fromL2["hit"] == true && fromL2["value"] == ["n": 1] && fromL2["tier"] == "l2", "\(fromL2)")
                let sharedElapsed = Int64((ContinuousClock.now - sharedSetAt).components.seconds)
                #expect(fromL2["ttl"]?.intValue.map { (59 - sharedElapsed...60).contains($0) } == true, "\(fromL2)")
                let fromL1 = try b.cacheGet("shared")
                #expect(fromL1["value"] == ["n": 1] && fromL1["tier"] == "l1", "\(fromL1)")

                // A key Redis does not have either is a miss on both tiers.
                #expect(try b.cacheGet("absent") == ["hit": false, "value": nil, "tier": nil, "ttl": nil])
                let stats = try b.cacheStats()
                #expect(stats["l1"]?["hits"] == 1 && stats["l1"]?["misses"] == 2, "\(stats)")
                #expect(stats["l2"]?["hits"] == 1 && stats["l2"]?["misses"] == 1, "\(stats)")

                // An entry written to Redis by someone else is read as JSON, its PX as the ttl.
                let externalSetAt = ContinuousClock.now
                try await RedisCLI(redis).set("sidecar:external", #"{"from":"elsewhere"}"#, milliseconds: 10_500)
                let external = try b.cacheGet("external")
                #expect(external["value"] == ["from": "elsewhere"] && external["tier"] == "l2", "\(external)")
                // 10.5 s rounded up is 11; less whatever a loaded machine took between the SET and the get.
                let externalElapsed = Int64((ContinuousClock.now - externalSetAt).components.seconds)
                #expect(external["ttl"]?.intValue.map { (10 - externalElapsed...11).contains($0) } == true, "\(external)")
            }
        }
    }

    @Test("a Redis read still in flight when the key is set does not put the older value back into L1")
    func readThroughRacingASet() async throws {
        try await withRedisServer { redis in
            // A timeout long enough for Redis to be paused while the reads wait on it.
            try await withDaemon(["--redis", redis.url, "--redis-timeout-ms", "5000"]) { daemon in
                let cli = RedisCLI(redis)
                let keys = (0..<10).map { "doc:\($0)" }
                try await cli.setMany(keys.map { ("sidecar:" + $0, #""old""#) })
                let reader = try daemon.connect()
                let writer = try daemon.connect()

                redis.kill(signal: SIGSTOP)
                var resumed = false
                defer { if !resumed { redis.kill(signal: SIGCONT) } }
                // The L1 misses go to Redis, which holds them (the client sends two at a time and
                // queues the rest in order); then each set stores "new" in L1 and queues its SET
                // behind the GETs.
                try reader.write(keys.enumerated().flatMap { index, key in
                    WireFrame.bytes(RPC.request("cache.get", params: ["key": .string(key)], id: .int(Int64(index))))
                })
                try await Task.sleep(for: .milliseconds(200))
                try writer.write(keys.enumerated().flatMap { index, key in
                    WireFrame.bytes(RPC.request("cache.set", params: ["key": .string(key), "value": "new", "ttl": 0], id: .int(Int64(index))))
                })
                try await Task.sleep(for: .milliseconds(200))
                redis.kill(signal: SIGCONT)
                resumed = true

                for _ in keys {
                    let read = try reader.readMessage(timeout: 10)
                    #expect(read["result"]?["tier"] == "l2", "\(read)")
                    #expect(try writer.readMessage(timeout: 10)["result"] == ["stored": true])
                }
                for key in keys {
                    #expect(try writer.cacheGet(key) == ["hit": true, "value": "new", "tier": "l1", "ttl": nil], "L1 holds the newer value of \(key)")
                    #expect(try await cli.get("sidecar:" + key) == #""new""#)
                }
            }
        }
    }

    @Test("a set, delete or invalidate on one daemon drops the stale L1 entry on the other")
    func invalidationAcrossDaemons() async throws {
        try await withRedisServer { redis in
            try await withTwoDaemons(sharing: redis) { first, second in
                let a = try first.connect()
                let b = try second.connect()
                let keys = ["k", "gone", "user:1", "user:2", "kept"]
                for key in keys { try a.cacheSet(key, "old", ttl: 60) }
                // Each set is also published, and a message may reach B after B filled its L1
                // from Redis, dropping that (fresh) entry again. Pub/sub delivers in order: once B
                // has applied a marker set after them, those messages are behind it too.
                try a.cacheSet("marker", "old", ttl: 60)
                _ = try waitUntil(timeout: 2) {
                    _ = try b.cacheGet("marker")
                    return try b.cacheGet("marker")["tier"] == "l1"
                }
                try a.cacheSet("marker", "new", ttl: 60)
                #expect(try waitUntil(timeout: 2) { try b.cacheGet("marker")["value"] == "new" }, "B applies A's messages")
                for key in keys {
                    _ = try b.cacheGet(key)  // now in B's L1
                    #expect(try b.cacheGet(key)["tier"] == "l1", "\(key)")
                }

                try a.cacheSet("k", "new", ttl: 60)
                let seesNew = try waitUntil(timeout: 2) { try b.cacheGet("k")["value"] == "new" }
                #expect(seesNew, "B answers the new value within 2 s of A's set")

                #expect(try a.result("cache.delete", ["key": "gone"]) == ["deleted": true])
                let seesDelete = try waitUntil(timeout: 2) { try b.cacheGet("gone")["hit"] == false }
                #expect(seesDelete, "B misses within 2 s of A's delete")

                let invalidated = try a.result("cache.invalidate", ["pattern": "user:*"])
                #expect(invalidated == ["l1Removed": 2, "l2Removed": 2], "\(invalidated)")
                let seesInvalidate = try waitUntil(timeout: 2) {
                    try b.cacheGet("user:1")["hit"] == false && b.cacheGet("user:2")["hit"] == false
                }
                #expect(seesInvalidate, "B misses user:* within 2 s of A's invalidate")
                let kept = try b.cacheGet("kept")
                #expect(kept["value"] == "old" && kept["tier"] == "l1", "an unrelated key stays in B's L1: \(kept)")
            }
        }
    }

    @Test("invalidate removes the matching keys from Redis, including ones no L1 holds, and leaves the rest")
    func invalidateInRedis() async throws {
        try await withRedisServer { redis in
            try await withDaemon(cacheFlags(redis)) { daemon in
                let cli = RedisCLI(redis)
                let connection = try daemon.connect()
                for key in ["user:1", "user:2", "project:1:index", "other:1"] {
                    try connection.cacheSet(key, .string(key), ttl: 60)
                }
                try await cli.set("sidecar:user:3", #""only in redis""#)
                try await cli.set("user:9", "outside the prefix")
                // More than one SCAN batch's worth of matches.
                try await cli.setMany((0..<600).map { ("sidecar:bulk:\($0)", "1") })

                #expect(try connection.result("cache.invalidate", ["pattern": "user:*"]) == ["l1Removed": 2, "l2Removed": 3])
                #expect(try await cli.keys(matching: "sidecar:user:*") == [])
                #expect(try await cli.keys(matching: "sidecar:[op]*") == ["sidecar:other:1", "sidecar:project:1:index"])
                #expect(try await cli.exists("user:9"), "a key outside the prefix is not the daemon's")

                #expect(try connection.result("cache.invalidate", ["pattern": "bulk:*"]) == ["l1Removed": 0, "l2Removed": 600])
                #expect(try await cli.keys(matching: "sidecar:bulk:*") == [])

                #expect(try connection.result("cache.clear", [:]) == ["l1Removed": 2, "l2Removed": 2])
                #expect(try await cli.keys(matching: "sidecar:*") == [])
                #expect(try await cli.exists("user:9"))
            }
        }
    }

    @Test("cache.warm copies the matching Redis entries into L1")
    func warm() async throws {
        try await withRedisServer { redis in
            let cli = RedisCLI(redis)
            let setAt = ContinuousClock.now
            try await cli.set("sidecar:warm:1", #""a""#, milliseconds: 60_000)
            try await cli.set("sidecar:warm:2", #"{"b":2}"#)
            try await cli.set("sidecar:cold:1", #""c""#, milliseconds: 60_000)
            try withDaemon(cacheFlags(redis)) { daemon in
                let connection = try daemon.connect()
                #expect(try connection.result("cache.warm", ["pattern": "warm:*"]) == ["loaded": 2])
                #expect(try connection.cacheStats()["l1"]?["entries"] == 2)
                let warmed = try connection.cacheGet("warm:1")
                #expect(warmed["tier"] == "l1" && warmed["value"] == "a", "\(warmed)")
                // What is left of Redis's 60 s, however long the daemon took to start on a busy machine.
                let elapsed = Int64((ContinuousClock.now - setAt).components.seconds)
                #expect(warmed["ttl"]?.intValue.map { (59 - elapsed...60).contains($0) } == true, "the Redis ttl is kept: \(warmed)")
                #expect(try connection.cacheGet("warm:2") == ["hit": true, "value": ["b": 2], "tier": "l1", "ttl": nil])
                #expect(try connection.cacheGet("cold:1")["tier"] == "l2", "not warmed")
            }
        }
    }

    @Test("--cache-warm loads the matching entries in the background at start-up")
    func warmAtStartUp() async throws {
        try await withRedisServer { redis in
            let cli = RedisCLI(redis)
            for index in 1...3 { try await cli.set("sidecar:boot:\(index)", String(index), milliseconds: 60_000) }
            try await cli.set("sidecar:late:1", "1", milliseconds: 60_000)
            try withDaemon(cacheFlags(redis, ["--cache-warm", "boot:*", "--cache-warm", "nothing:*"])) { daemon in
                let connection = try daemon.connect()
                let warmed = try waitUntil(timeout: 5) { try connection.cacheStats()["l1"]?["entries"] == 3 }
                let stats = try connection.cacheStats()
                #expect(warmed, "three entries in L1: \(stats)")
                for index in 1...3 {
                    let reply = try connection.cacheGet("boot:\(index)")
                    #expect(reply["tier"] == "l1" && reply["value"] == .int(Int64(index)), "\(reply)")
                }
                #expect(try connection.cacheGet("late:1")["tier"] == "l2")
            }
        }
    }
}
