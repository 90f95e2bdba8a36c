import SidecarRedis
import SidecarTestSupport
import Testing

@Suite(.timeLimit(.minutes(2)))
struct RedisClientTests {
    /// Every byte value, the protocol's delimiters, and bytes that are not UTF-8.
    static let binaryValue: [UInt8] = Array(0...255) + Array("\r\n$-1\r\n*3\r\n".utf8) + [0xff, 0xfe, 0x00, 0xc3]

    @Test func setThenGetReturnsTheSameBytes() async throws {
        try await withRedisServer { server in
            let client = try makeClient(server)
            defer { client.close() }
            try await client.ping()
            try await client.set("binary", to: Self.binaryValue)
            #expect(try await client.get("binary") == Self.binaryValue)
            try await client.set("empty", to: [])
            #expect(try await client.get("empty") == [])
            #expect(try await client.pttl("binary") == -1)
        }
    }

    @Test func getOfAMissingKeyIsNil() async throws {
        try await withRedisServer { server in
            let client = try makeClient(server)
            defer { client.close() }
            #expect(try await client.get("never-set") == nil)
            #expect(try await client.pttl("never-set") == -2)
            #expect(try await client.getWithTTL("never-set") == nil)
        }
    }

    @Test func setWithATTLExpiresAndPTTLReportsWhatIsLeft() async throws {
        try await withRedisServer { server in
            let client = try makeClient(server)
            defer { client.close() }
            try await client.set("short", to: Array("v".utf8), ttlMilliseconds: 60_000)
            let left = try await client.pttl("short")
            #expect((59_000...60_000).contains(left))

            let entry = try #require(try await client.getWithTTL("short"))
            #expect(entry.value == Array("v".utf8))
            #expect((59_000...60_000).contains(try #require(entry.ttlMilliseconds)))

            try await client.set("forever", to: Array("w".utf8), ttlMilliseconds: 0)
            let forever = try #require(try await client.getWithTTL("forever"))
            #expect(forever.value == Array("w".utf8))
            #expect(forever.ttlMilliseconds == nil)

            // A second SET without PX removes the expiry, as Redis's SET does.
            try await client.set("short", to: Array("v2".utf8))
            #expect(try await client.pttl("short") == -1)

            try await client.set("gone-soon", to: Array("x".utf8), ttlMilliseconds: 1)
            let expired = await waitUntil(timeout: 5) { (try? await client.get("gone-soon")) == .some(nil) }
            #expect(expired)
        }
    }

    @Test func errorRepliesAreServerErrorsAndTheConnectionStaysUsable() async throws {
        try await withRedisServer { server in
            let client = try makeClient(server, connectionCount: 1)
            defer { client.close() }
            _ = try await client.command(["LPUSH", "a-list", "x"])
            let error = await redisError { _ = try await client.get("a-list") }
            guard case .server(let message) = error else {
                Issue.record("expected a server error, got \(String(describing: error))")
                return
            }
            #expect(message.hasPrefix("WRONGTYPE"))
            let unknown = await redisError { _ = try await client.command(["NO-SUCH-COMMAND", "x"]) }
            #expect(unknown?.description.hasPrefix("Redis answered with an error: ERR unknown command") == true)
            // Still in step: the next reply on the one connection is the answer to the next command.
            #expect(try await client.command(["ECHO", "after"]) == .bulkString(Array("after".utf8)))
        }
    }

    @Test func pipelineReturnsOneReplyPerCommandInOrder() async throws {
        try await withRedisServer { server in
            let client = try makeClient(server)
            defer { client.close() }
            let replies = try await client.pipeline([
                ["SET", "p", "1"], ["INCR", "p"], ["GET", "p"], ["INCR", "no-number-here"], ["GET", "missing"],
            ].map { $0.map { Array($0.utf8) } })
            #expect(replies.count == 5)
            #expect(replies[0] == .status("OK"))
            #expect(replies[1] == .integer(2))
            #expect(replies[2] == .bulkString(Array("2".utf8)))
            #expect(replies[3] == .integer(1))
            #expect(replies[4] == .null)
            let scan = try await client.command(["SCAN", "0", "COUNT", "10"])
            #expect(scan.array?.count == 2)
        }
    }

    @Test func scanAndUnlinkRemovesExactlyTheMatchingKeysInBatches() async throws {
        try await withRedisServer { server in
            let client = try makeClient(server)
            defer { client.close() }
            let doomed = (0..<2_500).map { "cache:user:\($0)" }
            let kept = (0..<300).map { "cache:team:\($0)" } + ["cache:user", "other:cache:user:1"]
            let sets = (doomed + kept).map { key in [Array("SET".utf8), Array(key.utf8), Array("v".utf8)] }
            let replies = try await client.pipeline(sets)
            #expect(replies.allSatisfy { $0 == .status("OK") })

            #expect(Set(try await client.scan(pattern: "cache:user:*", batch: 100)) == Set(doomed))
            #expect(try await client.scanAndUnlink(pattern: "cache:user:*", batch: 100) == 2_500)

            #expect(try await client.scan(pattern: "cache:user:*").isEmpty)
            #expect(Set(try await client.scan(pattern: "*")) == Set(kept))
            #expect(try await client.scanAndUnlink(pattern: "cache:user:*") == 0)
        }
    }

    @Test func globEscapedMatchesAKeyPrefixAsWritten() async throws {
        try await withRedisServer { server in
            let client = try makeClient(server)
            defer { client.close() }
            for key in ["t[1]:a", "t[1]:b", "t1:a", "tx:a", "t*:a"] {
                try await client.set(key, to: [1])
            }
            #expect(RedisClient.globEscaped("t[1]*?\\") == "t\\[1\\]\\*\\?\\\\")
            #expect(try await client.scanAndUnlink(pattern: RedisClient.globEscaped("t[1]:") + "*") == 2)
            #expect(try await client.scanAndUnlink(pattern: RedisClient.globEscaped("t*:") + "*") == 1)
            #expect(Set(try await client.scan(pattern: "*")) == ["t1:a", "tx:a"])
        }
    }

    @Test func unlinkCountsTheKeysThatExisted() async throws {
        try await withRedisServer { server in
            let client = try makeClient(server)
            defer { client.close() }
            try await client.set("u1", to: [1])
            try await client.set("u2", to: [2])
            #expect(try await client.unlink(["u1", "u2", "u3"]) == 2)
            #expect(try await client.unlink([]) == 0)
            #expect(try await client.get("u1") == nil)
        }
    }

    @Test func fiftyConcurrentTasksEachGetTheirOwnAnswers() async throws {
        try await withRedisServer { server in
            let client = try makeClient(server)
            defer { client.close() }
            let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<50 {
                    group.addTask {
                        var wrong = 0
                        for round in 0..<20 {
                            let key = "task:\(task):\(round)"
                            let value = Array("value \(task) \(round)".utf8)
                            try await client.set(key, to: value, ttlMilliseconds: 60_000)
                            if try await client.get(key) != value { wrong += 1 }
                            if try await client.getWithTTL(key)?.value != value { wrong += 1 }
                        }
                        return wrong
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(mismatches == 0)
            #expect(try await client.scan(pattern: "task:*").count == 50 * 20)
        }
    }

    @Test func tcpURLWithPasswordAndDatabaseAuthenticatesAndSelects() async throws {
        try await withRedisServer(tcp: true, arguments: ["--requirepass", "s3cret"]) { server in
            let tcpURL = try #require(server.tcpURL)
            let port = try #require(server.tcpPort)
            let database3 = RedisClient(endpoint: try RedisEndpoint(url: "redis://:s3cret@127.0.0.1:\(port)/3"),
                                        logger: testLogger)
            defer { database3.close() }
            try await database3.set("where", to: Array("db3".utf8))
            #expect(try await database3.get("where") == Array("db3".utf8))

            let database0 = RedisClient(endpoint: try RedisEndpoint(url: "redis://:s3cret@127.0.0.1:\(port)"),
                                        logger: testLogger)
            defer { database0.close() }
            #expect(try await database0.get("where") == nil)

            let wrongPassword = RedisClient(endpoint: try RedisEndpoint(url: "redis://:wrong@127.0.0.1:\(port)"),
                                            logger: testLogger)
            defer { wrongPassword.close() }
            let refused = await redisError { try await wrongPassword.ping() }
            guard case .connectionFailed(let message) = refused else {
                Issue.record("expected connectionFailed, got \(String(describing: refused))")
                return
            }
            #expect(message.contains("refused the password (AUTH)"))
            #expect(message.contains("check the Redis URL"))
            #expect(!message.contains("wrong"))

            let noPassword = RedisClient(endpoint: try RedisEndpoint(url: tcpURL), logger: testLogger)
            defer { noPassword.close() }
            let unauthenticated = await redisError { try await noPassword.ping() }
            #expect(unauthenticated.map { if case .server(let text) = $0 { text.hasPrefix("NOAUTH") } else { false } } == true)
        }
    }

    @Test func aDatabaseRedisDoesNotHaveIsAConnectionError() async throws {
        try await withRedisServer { server in
            let client = RedisClient(endpoint: try RedisEndpoint(url: server.url + "?db=99"), logger: testLogger)
            defer { client.close() }
            let error = await redisError { try await client.ping() }
            guard case .connectionFailed(let message) = error else {
                Issue.record("expected connectionFailed, got \(String(describing: error))")
                return
            }
            #expect(message.contains("refused database 99 (SELECT)"))
        }
    }

    @Test func aClosedClientFailsCallsWithClosed() async throws {
        try await withRedisServer { server in
            let client = try makeClient(server)
            try await client.ping()
            client.close()
            #expect(await redisError { try await client.ping() } == .closed)
            client.close()
        }
    }
}

/// Polls `condition` until it holds or `timeout` seconds pass.
func waitUntil(timeout: Double, _ condition: () async -> Bool) async -> Bool {
    let deadline = Deadline(seconds: timeout)
    while await !condition() {
        if deadline.hasPassed { return false }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return true
}
