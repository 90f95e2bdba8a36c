import Foundation
import SidecarProtocol
import SidecarTestSupport
import Testing

@testable import SidecarClient

/// `client.cache` and the `sidecarctl cache` commands, against real daemons (and, for L2, a
/// real `redis-server`).
@Suite("Cache client and commands", .timeLimit(.minutes(2)))
struct CacheClientTests {
    struct Report: Codable, Sendable, Equatable {
        var title: String
        var rows: Int
    }

    struct ComputeFailed: Error {}

    // MARK: - Reading and writing

    @Test func setGetDeleteRoundTrip() async throws {
        try await withTestDaemon { daemon in
            try await SidecarClient.withClient(to: daemon.socketPath) { client in
                let cache = client.cache
                try await cache.set("user:42:profile", value: ["name": "Ada", "langs": ["en", "fr"]], ttl: 60)
                let hit = try await cache.get("user:42:profile")
                #expect(hit.hit && hit.value == ["name": "Ada", "langs": ["en", "fr"]] && hit.tier == .l1)
                #expect(hit.ttl.map { (1...60).contains($0) } == true, "ttl \(String(describing: hit.ttl))")

                try await cache.set("forever", value: "kept", ttl: 0)
                let forever = try await cache.get("forever")
                #expect(forever.value == "kept" && forever.ttl == nil)

                // A cached null is a hit; a missing key is a miss.
                try await cache.set("nothing", value: nil)
                let cachedNull = try await cache.get("nothing")
                #expect(cachedNull.hit && cachedNull.value == .null)
                let miss = try await cache.get("user:43:profile")
                #expect(!miss.hit && miss.value == .none && miss.tier == nil && miss.ttl == nil)

                #expect(try await cache.delete("user:42:profile"))
                #expect(try await cache.delete("user:42:profile") == false)
                #expect(try await cache.get("user:42:profile").hit == false)

                // The daemon's validation reaches the caller with the field named.
                let emptyKey = await #expect(throws: SidecarClientError.self) { try await cache.get("") }
                #expect(emptyKey?.rpcError?.code == .invalidParams)
                #expect(emptyKey?.rpcError?.data?["field"] == "key")
                let negative = await #expect(throws: SidecarClientError.self) {
                    try await cache.set("k", value: 1, ttl: -1)
                }
                #expect(negative?.rpcError?.data?["field"] == "ttl")

                // One L1 hit per hit above, one L1 miss per miss; no Redis.
                let stats = try await cache.stats()
                #expect(stats.l1.hits == 3 && stats.l1.misses == 2)
                #expect(stats.l1.entries == 2)
                #expect(!stats.l2.enabled && stats.breaker.state == .closed)

                let cleared = try await cache.clear()
                #expect(cleared == (l1Removed: 2, l2Removed: 0))
                #expect(try await cache.get("forever").hit == false)
            }
        }
    }

    @Test func typedValuesRoundTrip() async throws {
        try await withTestDaemon { daemon in
            try await SidecarClient.withClient(to: daemon.socketPath) { client in
                let report = Report(title: "today \"quoted\" ✓", rows: 12)
                try await client.cache.set("report:today", value: report, ttl: 60)
                #expect(try await client.cache.get("report:today", as: Report.self) == report)
                #expect(try await client.cache.get("report:today").value == ["title": "today \"quoted\" ✓", "rows": 12])
                #expect(try await client.cache.get("report:never", as: Report.self) == nil)

                try await client.cache.set("count", value: 42)
                #expect(try await client.cache.get("count", as: Int.self) == 42)
                let wrongType = await #expect(throws: SidecarClientError.self) {
                    try await client.cache.get("count", as: Report.self)
                }
                guard case .decodingFailed(let method, _)? = wrongType else {
                    Issue.record("expected decodingFailed, got \(String(describing: wrongType))")
                    return
                }
                #expect(method == "cache.get")
            }
        }
    }

    // MARK: - Single flight

    @Test func cachedComputesOnceForTwentyConcurrentCallers() async throws {
        try await withTestDaemon { daemon in
            try await withClients(4, daemon) { clients in
                let computations = Counter()
                let expected = Report(title: "today", rows: 12)
                let results = try await withThrowingTaskGroup(of: Report.self) { group in
                    for caller in 0..<20 {
                        let client = clients[caller % clients.count]
                        group.addTask {
                            try await client.cache.cached(key: "report:today", ttl: 60) {
                                await computations.increment()
                                // Compute only once the 19 other callers' fetches are waiting at
                                // the daemon (sent, unanswered): each got neither a value nor a lease.
                                try await waitUntil { try await pendingCalls(clients) == 19 }
                                return expected
                            }
                        }
                    }
                    return try await group.reduce(into: [Report]()) { $0.append($1) }
                }
                #expect(await computations.value == 1)
                #expect(results.count == 20 && results.allSatisfy { $0 == expected })

                // Stored with the lease: later callers and plain reads get it without computing.
                let later = try await clients[0].cache.cached(key: "report:today") { () async throws -> Report in
                    await computations.increment()
                    return Report(title: "recomputed", rows: 0)
                }
                #expect(later == expected)
                #expect(await computations.value == 1)
                #expect(try await clients[3].cache.get("report:today", as: Report.self) == expected)
            }
        }
    }

    @Test func cachedStoresNothingWhenComputeThrowsAndAWaiterTakesOver() async throws {
        try await withTestDaemon { daemon in
            try await withClients(2, daemon) { clients in
                await #expect(throws: ComputeFailed.self) {
                    try await clients[0].cache.cached(key: "alone") { () async throws -> Int in throw ComputeFailed() }
                }
                #expect(try await clients[0].cache.get("alone").hit == false)

                // Leases far longer than the test: the waiter can only take over because the
                // failing caller gives its lease up.
                let lease = Duration.seconds(60)
                let holding = Counter()
                let waiterComputations = Counter()
                let failing = Task {
                    try await clients[0].cache.cached(key: "flaky", lease: lease) { () async throws -> Int in
                        await holding.increment()
                        // Fail once the second caller waits for this computation.
                        try await waitUntil { try await clients[1].pendingCallCount() == 1 }
                        throw ComputeFailed()
                    }
                }
                // The second caller starts once the first holds the lease.
                try await waitUntil { await holding.value == 1 }
                let waiter = Task {
                    try await clients[1].cache.cached(key: "flaky", lease: lease) { () async throws -> Int in
                        await waiterComputations.increment()
                        return 7
                    }
                }
                await #expect(throws: ComputeFailed.self) { try await failing.value }
                let released = ContinuousClock.now
                // The failing caller released its lease: the waiting caller gets the next one
                // at once and computes.
                #expect(try await waiter.value == 7)
                #expect(ContinuousClock.now - released < .seconds(20), "taken over long before the 60 s lease would run out")
                #expect(await waiterComputations.value == 1)
                #expect(try await clients[0].cache.get("flaky").value == 7)
            }
        }
    }

    @Test func leasesAreCheckedBySet() async throws {
        try await withTestDaemon { daemon in
            try await SidecarClient.withClient(to: daemon.socketPath) { client in
                guard case .lease(let token) = try await client.cache.fetch("report:today", leaseMilliseconds: 30_000) else {
                    Issue.record("a miss must grant a lease")
                    return
                }
                let wrong = await #expect(throws: SidecarClientError.self) {
                    try await client.cache.set("report:today", value: 1, lease: token + "x")
                }
                #expect(wrong?.rpcError?.code == .conflict)
                #expect(wrong?.rpcError?.data?["key"] == "report:today")
                #expect(try await client.cache.get("report:today").hit == false, "a refused set stores nothing")

                try await client.cache.set("report:today", value: ["rows": 12], ttl: 60, lease: token)
                #expect(try await client.cache.fetch("report:today", leaseMilliseconds: 30_000) == .hit(["rows": 12]))
                let reused = await #expect(throws: SidecarClientError.self) {
                    try await client.cache.set("report:today", value: 2, lease: token)
                }
                #expect(reused?.rpcError?.code == .conflict)

                // The JSON flavour of `cached`.
                let models = try await client.cache.cached(key: "llm:models") { () async throws -> JSONValue in
                    ["large", "small"]
                }
                #expect(models == ["large", "small"])
                #expect(try await client.cache.get("llm:models").value == ["large", "small"])
            }
        }
    }

    // MARK: - Invalidation

    @Test func invalidatePatternsRemovesEveryMatchingKey() async throws {
        try await withTestDaemon { daemon in
            try await SidecarClient.withClient(to: daemon.socketPath) { client in
                let cache = client.cache
                for key in ["user:1:profile", "user:1:posts", "user:2:profile", "users:list:1", "other"] {
                    try await cache.set(key, value: .string(key))
                }
                let removed = try await cache.invalidate(patterns: ["user:1:*", "users:list:*"])
                #expect(removed == (l1Removed: 3, l2Removed: 0))
                for key in ["user:1:profile", "user:1:posts", "users:list:1"] {
                    #expect(try await cache.get(key).hit == false, "\(key)")
                }
                for key in ["user:2:profile", "other"] {
                    #expect(try await cache.get(key).value == .string(key), "\(key)")
                }
                #expect(try await cache.invalidate(patterns: []) == (l1Removed: 0, l2Removed: 0))

                let empty = await #expect(throws: SidecarClientError.self) {
                    try await cache.invalidate(patterns: ["user:2:*", ""])
                }
                #expect(empty?.rpcError?.data?["field"] == "pattern")
                #expect(try await cache.get("user:2:profile").hit == false, "the valid pattern was still applied")

                // The decorator form: invalidates after the write, and also when it throws.
                try await cache.set("user:3:profile", value: 1)
                let renamed = try await cache.invalidating(["user:3:*"]) { "renamed" }
                #expect(renamed == "renamed")
                #expect(try await cache.get("user:3:profile").hit == false)
                try await cache.set("user:3:profile", value: 2)
                await #expect(throws: ComputeFailed.self) {
                    try await cache.invalidating(["user:3:*"]) { () async throws -> Void in throw ComputeFailed() }
                }
                #expect(try await cache.get("user:3:profile").hit == false)
            }
        }
    }

    @Test func twoDaemonsShareRedisAndInvalidateEachOther() async throws {
        try await withRedisServer { redis in
            let arguments = clientTestDaemonArguments + ["--redis", redis.url]
            try await withDaemon(arguments) { first in
                try await withDaemon(arguments) { second in
                    try await SidecarClient.withClient(to: first.socketPath) { writer in
                        try await SidecarClient.withClient(to: second.socketPath) { reader in
                            try await writer.cache.set("user:42:profile", value: ["name": "Ada"], ttl: 60)
                            let fromRedis = try await reader.cache.get("user:42:profile")
                            #expect(fromRedis.value == ["name": "Ada"] && fromRedis.tier == .l2)
                            // Then from memory. (The invalidation the first daemon published with its
                            // set may reach the second just after that read and drop the copy once.)
                            try await waitUntil { try await reader.cache.get("user:42:profile").tier == .l1 }

                            // A write through the first daemon drops the second's memory copy.
                            try await writer.cache.set("user:42:profile", value: ["name": "Grace"], ttl: 60)
                            try await waitUntil { try await reader.cache.get("user:42:profile").value == ["name": "Grace"] }

                            let removed = try await writer.cache.invalidate(patterns: ["user:42:*"])
                            #expect(removed == (l1Removed: 1, l2Removed: 1))
                            try await waitUntil { try await reader.cache.get("user:42:profile").hit == false }

                            let stats = try await reader.cache.stats()
                            #expect(stats.l2.enabled && stats.l2.hits >= 2 && stats.l2.errors == 0)
                        }
                    }
                    try await second.stop()
                }
                try await first.stop()
            }
        }
    }

    // MARK: - sidecarctl

    private func sidecarctl(_ arguments: [String], _ daemon: DaemonProcess) async throws -> CommandResult {
        var environment = ProcessInfo.processInfo.environment
        environment["SIDECAR_SOCKET"] = daemon.socketPath
        return try await runCommand(PackageLocation.controlExecutable, arguments, environment: environment, in: daemon.directory)
    }

    @Test func sidecarctlCacheCommands() async throws {
        try await withTestDaemon { daemon in
            let set = try await sidecarctl(["cache", "set", "user:42:profile", #"{"name": "Ada"}"#, "--ttl", "60"], daemon)
            #expect(set.status == .exited(0))
            #expect(set.standardOutput == #"{"stored":true}"# + "\n")

            let get = try await sidecarctl(["cache", "get", "user:42:profile"], daemon)
            #expect(get.status == .exited(0) && get.standardOutput == #"{"name":"Ada"}"# + "\n")
            let raw = try await sidecarctl(["cache", "get", "user:42:profile", "--json"], daemon)
            #expect(raw.standardOutput.hasPrefix(#"{"hit":true,"value":{"name":"Ada"},"tier":"l1","ttl":"#), "\(raw.standardOutput)")

            // A miss mirrors `sidecarctl get` of a missing path.
            let miss = try await sidecarctl(["cache", "get", "user:43:profile"], daemon)
            #expect(miss.status == .exited(0) && miss.standardOutput == "null\n")
            let exists = try await sidecarctl(["cache", "get", "user:43:profile", "--exists"], daemon)
            #expect(exists.status == .exited(3) && exists.standardOutput.isEmpty)

            _ = try await sidecarctl(["cache", "set", "user:42:posts", "[1, 2]"], daemon)
            let invalidate = try await sidecarctl(["cache", "invalidate", "user:42:*"], daemon)
            #expect(invalidate.standardOutput == #"{"l1Removed":2,"l2Removed":0}"# + "\n")
            _ = try await sidecarctl(["cache", "set", "k", "1"], daemon)
            let del = try await sidecarctl(["cache", "del", "k"], daemon)
            #expect(del.standardOutput == #"{"deleted":true}"# + "\n")
            let warm = try await sidecarctl(["cache", "warm", "*"], daemon)
            #expect(warm.standardOutput == #"{"loaded":0}"# + "\n")

            // So far: two L1 hits (user:42:profile) and two misses (user:43:profile).
            let stats = try await sidecarctl(["cache", "stats"], daemon)
            #expect(stats.status == .exited(0))
            let lines = stats.standardOutput.split(separator: "\n").map(String.init)
            #expect(lines.filter { !$0.hasPrefix(" ") } == ["l1 (memory)", "l2 (redis)", "breaker"])
            #expect(lines.map { $0.trimmingCharacters(in: .whitespaces).prefix { $0 != ":" } } == [
                "l1 (memory)", "hits", "misses", "hit ratio", "writes", "evictions", "expirations", "entries", "bytes",
                "l2 (redis)", "enabled", "hits", "misses", "hit ratio", "writes", "errors", "timeouts",
                "breaker", "state", "consecutive failures", "opened at", "trips",
            ].map { Substring($0) })
            #expect(lines[3].hasSuffix(" 50.0%"), "\(lines[3])")
            #expect(lines[10].hasSuffix(" no") && lines[18].hasSuffix(" closed") && lines[20].hasSuffix(" -"))

            let json = try await sidecarctl(["cache", "stats", "--json"], daemon)
            let object = try JSONParser.parse(json.standardOutput)
            #expect(object["l1"]?["hits"] == 2 && object["l1"]?["misses"] == 2)
            #expect(object["breaker"]?["state"] == "closed")

            let clear = try await sidecarctl(["cache", "clear"], daemon)
            #expect(clear.standardOutput == #"{"l1Removed":0,"l2Removed":0}"# + "\n")

            // Usage errors are caught before connecting; the daemon's errors exit 1.
            let badJSON = try await sidecarctl(["cache", "set", "k", "{not json"], daemon)
            #expect(badJSON.status == .exited(64))
            let badTTL = try await sidecarctl(["cache", "set", "k", "1", "--ttl=-1"], daemon)
            #expect(badTTL.status == .exited(64) && badTTL.standardError.contains("--ttl"))
            let badPattern = try await sidecarctl(["cache", "invalidate", ""], daemon)
            #expect(badPattern.status == .exited(1) && badPattern.standardError.hasPrefix("error -32602: "))
        }
    }
}

// MARK: - Helpers

/// Connects `count` clients to `daemon`, runs `body`, and closes them however it ends.
private func withClients<T>(
    _ count: Int,
    _ daemon: DaemonProcess,
    _ body: ([SidecarClient]) async throws -> T
) async throws -> T {
    var clients: [SidecarClient] = []
    do {
        for _ in 0..<count {
            clients.append(try await SidecarClient.connect(to: daemon.socketPath))
        }
        let result = try await body(clients)
        for client in clients { await client.close() }
        return result
    } catch {
        for client in clients { await client.close() }
        throw error
    }
}

/// Calls sent and not yet answered, over all `clients`.
private func pendingCalls(_ clients: [SidecarClient]) async throws -> Int {
    var total = 0
    for client in clients {
        total += try await client.pendingCallCount()
    }
    return total
}
