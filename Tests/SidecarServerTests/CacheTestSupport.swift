import Foundation
import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

// MARK: - Looking into Redis

/// `redis-cli` on a test's Redis server: how the cache tests see what a daemon stored in L2 (and
/// put entries there behind its back) without linking a Redis client into this test target.
/// Keys are the raw Redis keys, prefix included (`sidecar:user:1`).
struct RedisCLI {
    let server: RedisServerProcess

    init(_ server: RedisServerProcess) {
        self.server = server
    }

    /// Runs one command and returns what `redis-cli` printed (raw: no quotes, no type labels),
    /// without the final newline.
    /// - Throws: ``RedisCLIError`` when `redis-cli` is missing, fails, or prints an error reply.
    func run(_ arguments: [String]) async throws -> String {
        guard let executable = PackageLocation.executable(named: "redis-cli") else {
            throw RedisCLIError("redis-cli is not installed (it comes with redis-server: apt-get install redis-tools)")
        }
        let result = try await runCommand(executable, ["-s", server.socketPath] + arguments, in: server.directory, timeout: 5)
        guard result.status == .exited(0) else {
            throw RedisCLIError("redis-cli \(arguments) \(String(describing: result.status)): \(result.standardError)")
        }
        let output = result.standardOutput.hasSuffix("\n") ? String(result.standardOutput.dropLast()) : result.standardOutput
        if output.hasPrefix("ERR ") || output.hasPrefix("WRONGTYPE") {
            throw RedisCLIError("redis-cli \(arguments): \(output)")
        }
        return output
    }

    /// The value of `key`, or `nil` when it does not exist.
    func get(_ key: String) async throws -> String? {
        guard try await exists(key) else { return nil }
        return try await run(["GET", key])
    }

    /// Whether `key` exists.
    func exists(_ key: String) async throws -> Bool {
        try await run(["EXISTS", key]) == "1"
    }

    /// The remaining time to live of `key` in milliseconds: -1 without expiry, -2 when missing.
    func pttl(_ key: String) async throws -> Int {
        let output = try await run(["PTTL", key])
        guard let milliseconds = Int(output) else { throw RedisCLIError("PTTL \(key) printed \(output)") }
        return milliseconds
    }

    /// Stores `text` (JSON text, as the daemon stores values) under `key`, expiring after
    /// `milliseconds` when given.
    func set(_ key: String, _ text: String, milliseconds: Int? = nil) async throws {
        let output = try await run(["SET", key, text] + (milliseconds.map { ["PX", String($0)] } ?? []))
        guard output == "OK" else { throw RedisCLIError("SET \(key) printed \(output)") }
    }

    /// Stores every pair (key, JSON text) without expiry, in one command.
    func setMany(_ pairs: [(String, String)]) async throws {
        let output = try await run(["MSET"] + pairs.flatMap { [$0.0, $0.1] })
        guard output == "OK" else { throw RedisCLIError("MSET printed \(output)") }
    }

    /// Every key matching `pattern`, sorted (by SCAN, as a test should).
    func keys(matching pattern: String) async throws -> [String] {
        let output = try await run(["--scan", "--pattern", pattern])
        return output.split(separator: "\n").map(String.init).sorted()
    }

    /// How many clients are subscribed to `channel`.
    func subscriberCount(_ channel: String) async throws -> Int {
        let lines = try await run(["PUBSUB", "NUMSUB", channel]).split(separator: "\n")
        guard lines.count == 2, let count = Int(lines[1]) else { throw RedisCLIError("PUBSUB NUMSUB printed \(lines)") }
        return count
    }
}

/// `redis-cli` missing, failing, or printing something unexpected.
struct RedisCLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Waiting

/// Seconds since `start` on the monotonic clock.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

// MARK: - Daemons with Redis

/// The flags that point a daemon at `redis` with timeouts short enough for tests.
func cacheFlags(_ redis: RedisServerProcess, _ more: [String] = []) -> [String] {
    ["--redis", redis.url, "--redis-timeout-ms", "100"] + more
}

/// Runs `body` with two daemons sharing `redis` (each in its own directory), once both are
/// subscribed to the invalidation channel, so that a change on one reaches the other.
func withTwoDaemons<T>(
    sharing redis: RedisServerProcess,
    _ arguments: [String] = [],
    _ body: (DaemonProcess, DaemonProcess) async throws -> T
) async throws -> T {
    try await withDaemon(cacheFlags(redis, arguments)) { first in
        try await withDaemon(cacheFlags(redis, arguments)) { second in
            let cli = RedisCLI(redis)
            let subscribed = try await pollUntil(timeout: 5) { try await cli.subscriberCount("sidecar:invalidate") >= 2 }
            try #require(subscribed, "both daemons subscribe to sidecar:invalidate; stderr:\n\(first.standardError)\n\(second.standardError)")
            return try await body(first, second)
        }
    }
}

// MARK: - Calling cache methods

extension RawConnection {
    /// `cache.stats`.
    func cacheStats(sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue {
        try result("cache.stats", [:], sourceLocation: sourceLocation)
    }

    /// `cache.get` of `key`.
    func cacheGet(_ key: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue {
        try result("cache.get", ["key": .string(key)], sourceLocation: sourceLocation)
    }

    /// `cache.set` of `key`, expecting `{"stored": true}`.
    func cacheSet(
        _ key: String,
        _ value: JSONValue,
        ttl: Int64? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        var params: JSONObject = ["key": .string(key), "value": value]
        if let ttl { params["ttl"] = .int(ttl) }
        let stored = try result("cache.set", .object(params), sourceLocation: sourceLocation)
        #expect(stored == ["stored": true], "cache.set \(key): \(stored)", sourceLocation: sourceLocation)
    }

    /// The breaker's state as `cache.stats` reports it.
    func breakerState() throws -> JSONValue? {
        try cacheStats()["breaker"]?["state"]
    }
}

/// A connection handed to one other thread, which alone uses it until it is done.
struct CacheConnectionBox: @unchecked Sendable {
    let connection: RawConnection
    init(_ connection: RawConnection) { self.connection = connection }
}
