import SidecarProtocol
import SidecarTestSupport
import Testing

/// `cache.fetch` single flight: of many callers of one missing key exactly one computes it (it
/// gets a lease); the others wait and get the value it sets; a holder that goes away passes the
/// lease on to one waiter.
@Suite("Cache single flight", .timeLimit(.minutes(1)))
struct CacheSingleFlightTests {
    @Test("50 concurrent fetches of one missing key: exactly one lease; the other 49 get the value the holder sets")
    func fiftyCallers() throws {
        try withDaemon { daemon in
            let callers = try (0..<50).map { _ in try daemon.connect() }
            for (index, caller) in callers.enumerated() {
                try caller.send(RPC.request("cache.fetch", params: ["key": "report", "lease": 10_000], id: .int(Int64(index))))
            }
            let replies = Replies(callers)
            try #require(replies.collect(until: 1, timeout: 5), "one caller gets a lease")
            let (holder, first) = try #require(replies.received.first)
            let token = try #require(first["result"]?["lease"]?.stringValue, "\(first)")
            #expect(first["result"]?["hit"] == false && first["id"] == .int(Int64(holder)), "\(first)")

            let value: JSONValue = ["rows": [1, 2, 3], "computedBy": .int(Int64(holder))]
            let stored = try callers[holder].call("cache.set", params: ["key": "report", "value": value, "lease": .string(token)], id: "set")
            #expect(stored["result"] == ["stored": true], "\(stored)")

            #expect(replies.collect(until: 50, timeout: 5), "every caller is answered: \(replies.received.count) of 50")
            let leases = replies.received.values.filter { $0["result"]?["lease"] != nil }
            #expect(leases.count == 1, "exactly one lease: \(leases)")
            for (index, reply) in replies.received where index != holder {
                #expect(reply["result"] == ["hit": true, "value": value] && reply["id"] == .int(Int64(index)), "caller \(index): \(reply)")
            }
            // Later fetches are plain hits.
            #expect(try callers[0].result("cache.fetch", ["key": "report", "lease": 1000]) == ["hit": true, "value": value])
        }
    }

    @Test("a holder that closes its connection without setting: exactly one waiter gets a new lease, and its set wakes the rest")
    func holderGoesAway() throws {
        try withDaemon { daemon in
            let holder = try daemon.connect()
            let firstLease = try holder.result("cache.fetch", ["key": "job", "lease": 10_000])
            let oldToken = try #require(firstLease["lease"]?.stringValue, "\(firstLease)")
            #expect(firstLease["hit"] == false)

            let waiters = try (0..<3).map { _ in try daemon.connect() }
            for (index, waiter) in waiters.enumerated() {
                try waiter.send(RPC.request("cache.fetch", params: ["key": "job", "lease": 10_000], id: .int(Int64(index))))
                // A reply to a later request means the fetch has been dispatched (it waits without holding the connection up).
                try waiter.send(RPC.request("sidecar.ping", id: "after"))
            }
            var replies = Replies(waiters)
            try #require(replies.collect(until: 3, timeout: 5), "the pings after the fetches are answered")
            #expect(replies.received.values.allSatisfy { $0["id"] == "after" }, "nobody got the key yet: \(replies.received)")
            replies = Replies(waiters)

            holder.close()
            try #require(replies.collect(until: 1, timeout: 5), "a waiter gets the lease once the holder is gone")
            let (next, passed) = try #require(replies.received.first)
            let newToken = try #require(passed["result"]?["lease"]?.stringValue, "\(passed)")
            #expect(passed["result"]?["hit"] == false && newToken != oldToken, "\(passed)")

            #expect(try waiters[next].result("cache.set", ["key": "job", "value": "done", "lease": .string(newToken)]) == ["stored": true])
            #expect(replies.collect(until: 3, timeout: 5), "the other waiters are answered: \(replies.received)")
            for (index, reply) in replies.received where index != next {
                #expect(reply["result"] == ["hit": true, "value": "done"], "waiter \(index): \(reply)")
            }

            // The first holder's token was superseded.
            let late = try daemon.connect()
            let error = try late.error("cache.set", ["key": "job", "value": "stale", "lease": .string(oldToken)], code: -32005)
            #expect(error["data"] == ["key": "job"], "\(error)")
            #expect(try late.cacheGet("job")["value"] == "done")
        }
    }

    @Test("a set with a wrong lease token is -32005 naming the key and stores nothing; the right token stores once")
    func wrongToken() throws {
        try withDaemon { daemon in
            let holder = try daemon.connect()
            let other = try daemon.connect()
            let lease = try holder.result("cache.fetch", ["key": "k", "lease": 10_000])
            let token = try #require(lease["lease"]?.stringValue, "\(lease)")

            let error = try other.error("cache.set", ["key": "k", "value": 1, "lease": "not-a-lease"], code: -32005)
            #expect(error["data"] == ["key": "k"], "\(error)")
            #expect(try other.cacheGet("k")["hit"] == false, "nothing stored")
            #expect(try other.cacheStats()["l1"]?["writes"] == 0)

            #expect(try holder.result("cache.set", ["key": "k", "value": 2, "lease": .string(token)]) == ["stored": true])
            #expect(try other.cacheGet("k")["value"] == 2)
            // A completed lease is spent.
            try other.error("cache.set", ["key": "k", "value": 3, "lease": .string(token)], code: -32005)
            #expect(try other.cacheGet("k")["value"] == 2)
        }
    }

    @Test("a holder whose lease expires loses it to the waiter; the holder's late set is -32005")
    func leaseExpires() throws {
        try withDaemon { daemon in
            let holder = try daemon.connect()
            let waiter = try daemon.connect()
            let token = try #require(try holder.result("cache.fetch", ["key": "slow", "lease": 300])["lease"]?.stringValue)
            let start = ContinuousClock.now
            let passed = try waiter.call("cache.fetch", params: ["key": "slow", "lease": 5000], timeout: 5)
            let newToken = try #require(passed["result"]?["lease"]?.stringValue, "\(passed)")
            #expect(newToken != token && passed["result"]?["hit"] == false, "\(passed)")
            #expect(seconds(since: start) >= 0.2, "not before the 300 ms lease ran out: \(seconds(since: start)) s")

            try holder.error("cache.set", ["key": "slow", "value": "late", "lease": .string(token)], code: -32005)
            #expect(try waiter.result("cache.set", ["key": "slow", "value": "fresh", "lease": .string(newToken)]) == ["stored": true])
            #expect(try holder.cacheGet("slow")["value"] == "fresh")
        }
    }

    @Test("a holder that releases its lease hands it to the oldest waiter at once; a stale token releases nothing")
    func releasePassesTheLease() throws {
        try withDaemon { daemon in
            let holder = try daemon.connect()
            let waiter = try daemon.connect()
            let token = try #require(try holder.result("cache.fetch", ["key": "report", "lease": 60_000])["lease"]?.stringValue)
            try waiter.write(WireFrame.bytes(RPC.request("cache.fetch", params: ["key": "report", "lease": 60_000], id: 7)))
            // The waiter is queued once its fetch has been read; a ping on its connection after
            // it is answered only then (requests of a connection are read in order).
            _ = try waiter.call("sidecar.ping", id: 8)

            #expect(try holder.result("cache.release", ["key": "report", "lease": "not-the-token"]) == ["released": false])
            let start = ContinuousClock.now
            #expect(try holder.result("cache.release", ["key": "report", "lease": .string(token)]) == ["released": true])
            let passed = try waiter.readMessage(timeout: 5)
            #expect(seconds(since: start) < 5, "long before the 60 s lease runs out")
            let newToken = try #require(passed["result"]?["lease"]?.stringValue, "\(passed)")
            #expect(newToken != token && passed["id"] == 7, "\(passed)")

            // The released token is spent: it neither stores nor releases again.
            try holder.error("cache.set", ["key": "report", "value": "stale", "lease": .string(token)], code: -32005)
            #expect(try holder.result("cache.release", ["key": "report", "lease": .string(token)]) == ["released": false])
            #expect(try waiter.result("cache.set", ["key": "report", "value": "fresh", "lease": .string(newToken)]) == ["stored": true])
            #expect(try holder.cacheGet("report")["value"] == "fresh")
            try holder.error("cache.release", ["key": "report"], code: -32602)
        }
    }

    @Test("a waiter whose own lease time runs out first gets -32003")
    func waiterTimesOut() throws {
        try withDaemon { daemon in
            let holder = try daemon.connect()
            let waiter = try daemon.connect()
            let token = try #require(try holder.result("cache.fetch", ["key": "k", "lease": 10_000])["lease"]?.stringValue)
            let start = ContinuousClock.now
            let reply = try waiter.call("cache.fetch", params: ["key": "k", "lease": 200], timeout: 5)
            #expect(reply["error"]?["code"] == -32003, "\(reply)")
            let elapsed = seconds(since: start)
            #expect(elapsed >= 0.15 && elapsed < 3, "after about 200 ms: \(elapsed) s")
            // The holder still holds its lease.
            #expect(try holder.result("cache.set", ["key": "k", "value": 1, "lease": .string(token)]) == ["stored": true])
            #expect(try waiter.cacheGet("k")["value"] == 1)
        }
    }

    @Test("a fetch of a cached key is a hit with no lease")
    func fetchHit() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.cacheSet("there", ["x": 1], ttl: 60)
            #expect(try connection.result("cache.fetch", ["key": "there", "lease": 1000]) == ["hit": true, "value": ["x": 1]])
            #expect(try connection.cacheStats()["l1"]?["hits"] == 1)
        }
    }
}

/// Replies read from many connections at once without blocking on any one: each connection is
/// polled in turn until enough replies have come.
private final class Replies {
    let connections: [RawConnection]
    /// The first reply of each connection that answered, by its index.
    private(set) var received: [Int: JSONValue] = [:]

    init(_ connections: [RawConnection]) {
        self.connections = connections
    }

    /// Polls until `count` connections have answered or `timeout` seconds have passed.
    /// - Returns: whether `count` answered in time.
    func collect(until count: Int, timeout: Double) -> Bool {
        let deadline = Deadline(seconds: timeout)
        while received.count < count {
            var any = false
            for (index, connection) in connections.enumerated() where received[index] == nil {
                if case .frame(let bytes) = connection.next(timeout: 0) {
                    received[index] = (try? JSONParser.parse(bytes: bytes)) ?? .string(String(decoding: bytes, as: UTF8.self))
                    any = true
                }
            }
            if deadline.hasPassed { return received.count >= count }
            if !any { pause(seconds: 0.002) }
        }
        return true
    }
}
