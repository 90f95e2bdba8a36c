import Glibc
import SidecarRedis
import SidecarTestSupport
import Testing

/// What a caller sees when Redis dies or hangs, with the daemon's default timeout of 100 ms.
@Suite(.timeLimit(.minutes(2)))
struct RedisOutageTests {
    static let timeout = Duration.milliseconds(100)
    /// The most a failing call may take: a few timeouts, so that a loaded machine does not
    /// fail the test, yet far below what an unbounded wait would take.
    static let bound = timeout * 5

    @Test func aKilledRedisFailsCallsFastAndARestartedOneAnswersTheNextCall() async throws {
        try await withRedisServer { server in
            let client = try makeClient(server, timeout: Self.timeout)
            defer { client.close() }
            try await client.set("k", to: [1])

            server.kill(signal: SIGKILL)
            // Each call either finds its connection broken or cannot connect: both fail at once.
            for _ in 0..<4 {
                var error: RedisError?
                let elapsed = await measure { error = await redisError { try await client.ping() } }
                #expect(error?.isConnectionLoss == true, "got \(String(describing: error))")
                #expect(elapsed < Self.bound, "took \(elapsed)")
            }
            let refused = await redisError { try await client.ping() }
            guard case .connectionFailed(let message) = refused else {
                Issue.record("expected connectionFailed, got \(String(describing: refused))")
                return
            }
            #expect(message.hasPrefix("cannot connect to Redis at \(server.url): "))
            #expect(message.contains("is redis-server running there?"))

            try await server.restart()
            // The connection is made again by the call itself: no waiting, no retry loop.
            try await client.ping()
            #expect(try await client.get("k") == nil, "a restarted server has no data")
            try await client.set("k", to: [2])
            #expect(try await client.get("k") == [2])
        }
    }

    /// A connection that sat idle while Redis was restarted is dead, though the client has not
    /// noticed yet; the first call after the restart must not be lost to it.
    @Test(arguments: [1, 2])
    func theFirstCallAfterARestartSucceedsOnConnectionsThatWereIdleThroughIt(connections: Int) async throws {
        try await withRedisServer { server in
            let client = try makeClient(server, timeout: Self.timeout, connectionCount: connections)
            defer { client.close() }
            // Every connection is opened: the calls overlap, so each thread takes one.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<(connections * 8) {
                    group.addTask { try await client.set("k\(index)", to: [1]) }
                }
                try await group.waitForAll()
            }

            server.kill(signal: SIGKILL)
            try await server.restart()
            for index in 0..<(connections * 4) {
                let error = await redisError { try await client.set("after\(index)", to: [2]) }
                #expect(error == nil, "call \(index) after the restart failed: \(String(describing: error))")
            }
            #expect(try await client.get("after0") == [2])
        }
    }

    @Test func aStoppedRedisTimesOutWithinTheTimeoutAndRecoversWhenContinued() async throws {
        try await withRedisServer { server in
            let client = try makeClient(server, timeout: Self.timeout)
            defer { client.close() }
            try await client.set("k", to: [1])

            server.kill(signal: SIGSTOP)
            defer { server.kill(signal: SIGCONT) }
            var error: RedisError?
            let elapsed = await measure { error = await redisError { _ = try await client.get("k") } }
            #expect(error == .timedOut)
            #expect(elapsed < Self.bound, "took \(elapsed)")

            // Callers that arrive together are not served one timeout after another.
            let results = await withTaskGroup(of: (RedisError?, Duration).self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        var error: RedisError?
                        let elapsed = await measure { error = await redisError { _ = try await client.get("k") } }
                        return (error, elapsed)
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.allSatisfy { $0.0 == .timedOut }, "\(results)")
            #expect(results.allSatisfy { $0.1 < Self.bound }, "\(results.map(\.1))")

            server.kill(signal: SIGCONT)
            #expect(try await client.get("k") == [1])
        }
    }

    @Test func aClientOfARedisThatWasNeverThereFailsFastSayingWhere() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let client = RedisClient(endpoint: .init(address: .unix(path: directory.file("absent.sock"))),
                                 timeout: Self.timeout, logger: testLogger)
        defer { client.close() }
        var error: RedisError?
        let elapsed = await measure { error = await redisError { try await client.ping() } }
        #expect(elapsed < Self.bound)
        #expect(error?.description.hasPrefix("cannot connect to Redis at unix://\(directory.file("absent.sock")): ") == true,
                "\(String(describing: error))")
    }
}
