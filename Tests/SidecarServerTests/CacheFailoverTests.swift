import Foundation
import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

/// The cache when Redis fails: killed under load, hung, or absent at start-up. Clients never see
/// a Redis error; the breaker opens, L1 keeps answering, and L2 is used again once Redis is back.
@Suite("Cache failover", .timeLimit(.minutes(1)))
struct CacheFailoverTests {
    /// Flags for a breaker that opens after 3 failures and probes again after half a second.
    private static let breakerFlags = ["--breaker-failures", "3", "--breaker-recovery", "0.5"]

    @Test("redis-server killed under load: no client errors, the breaker opens, and closes again once Redis is back")
    func killedUnderLoad() async throws {
        try await withRedisServer { redis in
            try await withDaemon(cacheFlags(redis, Self.breakerFlags)) { daemon in
                let cli = RedisCLI(redis)
                let load = CacheLoad(connections: try (0..<4).map { _ in try daemon.connect() })
                let started = await pollUntil(timeout: 10) { load.completed >= 200 }
                redis.kill(signal: SIGKILL)
                let completedAtKill = load.completed
                // A few hundred requests per connection after the kill, then the load stops.
                let continued = await pollUntil(timeout: 20) { load.completed >= completedAtKill + 1200 }
                let outcome = load.stop()

                #expect(started && continued, "requests before (\(completedAtKill)) and after the kill (\(outcome.replies - completedAtKill))")
                #expect(outcome.problems.isEmpty, "\(outcome.problems.count) problems in \(outcome.replies) replies, first: \(outcome.problems.prefix(5))")

                let observer = try daemon.connect()
                let opened = try await pollUntil(timeout: 5) { try observer.breakerState() == "open" }
                let stats = try observer.cacheStats()
                #expect(opened, "the breaker is open with Redis dead: \(stats)")
                let breaker = stats["breaker"]
                #expect(breaker?["trips"]?.intValue.map { $0 >= 1 } == true, "\(stats)")
                #expect(breaker?["consecutiveFailures"]?.intValue.map { $0 >= 3 } == true, "\(stats)")
                #expect(breaker?["openedAt"]?.stringValue?.contains("T") == true, "an RFC 3339 time: \(stats)")
                let failures = (stats["l2"]?["errors"]?.intValue ?? 0) + (stats["l2"]?["timeouts"]?.intValue ?? 0)
                #expect(failures >= 3, "the failed Redis calls are counted: \(stats)")

                try await redis.restart()
                let connection = try daemon.connect()
                var probe = 0
                let closed = try await pollUntil(timeout: 5, interval: 0.1) {
                    probe += 1
                    _ = try connection.cacheGet("probe:\(probe)")  // an L1 miss: a call to L2, or the breaker's probe
                    return try connection.breakerState() == "closed"
                }
                let afterRestart = try connection.cacheStats()
                #expect(closed, "the breaker closes once Redis is back: \(afterRestart)")
                try connection.cacheSet("after:restart", "back", ttl: 60)
                let visible = try await pollUntil(timeout: 2) { try await cli.get("sidecar:after:restart") == #""back""# }
                #expect(visible, "a set after the recovery is written to Redis again")
            }
        }
    }

    @Test("a Redis that accepts but never answers: an L1 miss answers within the timeout, without an error")
    func hungRedis() async throws {
        try await withRedisServer { redis in
            try await withDaemon(cacheFlags(redis, ["--breaker-failures", "3", "--breaker-recovery", "30"])) { daemon in
                let cli = RedisCLI(redis)
                let connection = try daemon.connect()
                try connection.cacheSet("ready", 1, ttl: 60)
                #expect(try await pollUntil(timeout: 2) { try await cli.exists("sidecar:ready") }, "connected to Redis")

                redis.kill(signal: SIGSTOP)
                defer { redis.kill(signal: SIGCONT) }
                for index in 0..<5 {
                    let start = ContinuousClock.now
                    let reply = try connection.call("cache.get", params: ["key": .string("missing:\(index)")])
                    let elapsed = seconds(since: start)
                    #expect(reply["result"] == ["hit": false, "value": nil, "tier": nil, "ttl": nil], "\(reply)")
                    #expect(elapsed < 1, "get \(index) answered in \(elapsed) s with a 100 ms Redis timeout")
                }
                let start = ContinuousClock.now
                try connection.cacheSet("during:hang", "kept", ttl: 60)
                #expect(seconds(since: start) < 1, "a set answers too: \(seconds(since: start)) s")
                #expect(try connection.cacheGet("during:hang")["value"] == "kept", "and is served from L1")

                let stats = try connection.cacheStats()
                #expect(stats["l2"]?["timeouts"]?.intValue.map { $0 >= 1 } == true, "\(stats)")
                #expect(stats["breaker"]?["state"] == "open", "three timeouts opened it: \(stats)")
            }
        }
    }

    @Test("a daemon started while Redis is down starts, warns, answers from L1, and uses Redis once it appears")
    func startsWithRedisDown() async throws {
        try await withRedisServer { redis in
            redis.stop()
            try await withDaemon(cacheFlags(redis, ["--breaker-failures", "3", "--breaker-recovery", "0.3"])) { daemon in
                let warning = daemon.standardError.split(separator: "\n").first {
                    $0.contains("warning") && $0.lowercased().contains("redis")
                }
                #expect(warning != nil, "a warning about Redis in stderr:\n\(daemon.standardError)")
                let connection = try daemon.connect()
                #expect(try connection.breakerState() == "open")
                try connection.cacheSet("local", "only", ttl: 60)
                let local = try connection.cacheGet("local")
                #expect(local["value"] == "only" && local["tier"] == "l1", "\(local)")

                try await redis.restart()
                var probe = 0
                let closed = try await pollUntil(timeout: 5, interval: 0.1) {
                    probe += 1
                    _ = try connection.cacheGet("probe:\(probe)")
                    return try connection.breakerState() == "closed"
                }
                let afterStart = try connection.cacheStats()
                #expect(closed, "the breaker closes once Redis is up: \(afterStart)")
                try connection.cacheSet("now:shared", 42, ttl: 60)
                let cli = RedisCLI(redis)
                let visible = try await pollUntil(timeout: 2) { try await cli.get("sidecar:now:shared") == "42" }
                #expect(visible, "a set after Redis appeared is written to it")
            }
        }
    }
}

/// Connections that each do requests one after another on a thread of their own until
/// stopped, in rounds of three: a set of one of ten keys, a get of it (a hit with the value just
/// set, from L1), and a get of a key nobody set (an L1 miss, so a call to L2). Every reply is
/// checked; a wrong one is a problem.
private final class CacheLoad: @unchecked Sendable {
    struct Outcome {
        var replies = 0
        var problems: [String] = []
    }

    private let lock = NSLock()
    private let group = DispatchGroup()
    private var stopping = false
    private var outcome = Outcome()

    init(connections: [RawConnection]) {
        for (worker, connection) in connections.enumerated() {
            let box = CacheConnectionBox(connection)
            group.enter()
            DispatchQueue.global().async { [self] in
                defer { group.leave() }
                run(box.connection, worker: worker)
            }
        }
    }

    /// Replies so far, right or wrong.
    var completed: Int { lock.withLock { outcome.replies } }

    /// Tells the workers to stop after their current request and waits (at most 30 s) for them.
    func stop() -> Outcome {
        lock.withLock { stopping = true }
        if group.wait(timeout: .now() + 30) == .timedOut {
            lock.withLock { outcome.problems.append("the load did not stop within 30 s") }
        }
        return lock.withLock { outcome }
    }

    private var shouldStop: Bool { lock.withLock { stopping } }

    private func run(_ connection: RawConnection, worker: Int) {
        var index = 0
        while !shouldStop {
            let key = "load:\(worker):\(index / 3 % 10)"
            let method: String
            let params: JSONValue
            switch index % 3 {
            case 0: (method, params) = ("cache.set", ["key": .string(key), "value": .int(Int64(index)), "ttl": 60])
            case 1: (method, params) = ("cache.get", ["key": .string(key)])
            default: (method, params) = ("cache.get", ["key": .string("missing:\(worker):\(index)")])
            }
            let reply: JSONValue
            do {
                reply = try connection.call(method, params: params, id: .int(Int64(index)), timeout: 10)
            } catch {
                record("worker \(worker) request \(index): \(error)")
                return
            }
            let result = reply["result"]
            switch index % 3 {
            case 0 where result != ["stored": true]:
                record("worker \(worker) set \(key): \(reply)")
            case 1 where result?["hit"] != true || result?["value"] != .int(Int64(index - 1)):
                record("worker \(worker) get of \(key) after its set to \(index - 1): \(reply)")
            case 2 where result?["hit"] != false:
                record("worker \(worker) get of a missing key: \(reply)")
            default:
                record(nil)
            }
            index += 1
        }
    }

    private func record(_ problem: String?) {
        lock.withLock {
            outcome.replies += 1
            if let problem { outcome.problems.append(problem) }
        }
    }
}
