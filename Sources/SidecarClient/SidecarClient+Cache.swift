import Foundation
import SidecarProtocol

extension SidecarClient {
    /// The daemon's two-level cache: typed `cache.*` calls and the ``CacheAPI/cached(key:ttl:lease:_:)``
    /// single-flight wrapper.
    ///
    /// ```swift
    /// try await client.cache.set("user:42:profile", value: ["name": "Ada"], ttl: 60)
    /// let hit = try await client.cache.get("user:42:profile")     // hit.value == ["name": "Ada"], hit.tier == .l1
    /// let profile = try await client.cache.cached(key: "user:42:profile", ttl: 300) {
    ///     try await loadProfile(42)                                // runs once, whoever asks at the same time
    /// }
    /// ```
    public nonisolated var cache: CacheAPI { CacheAPI(client: self) }
}

/// The `cache.*` methods of a ``SidecarClient``, reached as `client.cache` (see PROTOCOL.md, "Cache").
///
/// Keys are non-empty strings of at most 1024 UTF-8 bytes; values are any JSON (at most the
/// daemon's `--cache-max-value-bytes` once encoded); TTLs are whole seconds (`0` never expires,
/// `nil` takes the daemon's `--cache-default-ttl`). Patterns are Redis globs: `*`, `?`, `[abc]`,
/// `\` escapes. An invalid argument throws ``SidecarClientError/rpc(_:)`` with code `-32602`
/// and `data.field` naming it. Redis failures never reach a caller: the daemon then answers
/// from its in-memory tier alone.
public struct CacheAPI: Sendable {
    /// The client the calls go through.
    public let client: SidecarClient

    /// - Parameter client: the client the calls go through.
    public init(client: SidecarClient) {
        self.client = client
    }

    // MARK: - Reading

    /// Reads `key`.
    ///
    /// ```swift
    /// let result = try await client.cache.get("user:42:profile")
    /// if result.hit { print(result.value ?? .null, "from", result.tier ?? .l1, "ttl", result.ttl ?? 0) }
    /// ```
    /// - Returns: whether it was there, its value (`nil` on a miss; a cached `null` is `.null`),
    ///   the tier that answered, and the seconds it has left (`nil` when it never expires).
    /// - Throws: ``SidecarClientError``; `-32602` for an invalid key.
    public func get(_ key: String, timeout: Duration? = nil) async throws -> CacheGetResult {
        let result = try await client.call("cache.get", params: ["key": .string(key)], timeout: timeout)
        return try CacheGetResult(result: result)
    }

    /// Reads `key` and decodes its value as `T`.
    ///
    /// ```swift
    /// struct Profile: Codable { var name: String }
    /// if let profile = try await client.cache.get("user:42:profile", as: Profile.self) {
    ///     print(profile.name)
    /// }
    /// ```
    /// - Returns: the decoded value, or `nil` on a miss.
    /// - Throws: ``SidecarClientError``; ``SidecarClientError/decodingFailed(method:reason:)``
    ///   when the cached value is not a `T`.
    public func get<T: Decodable>(_ key: String, as type: T.Type, timeout: Duration? = nil) async throws -> T? {
        guard let value = try await get(key, timeout: timeout).value else { return nil }
        return try JSONBridge.decode(type, from: value, method: "cache.get")
    }

    /// Reads `key` if it is cached; otherwise, for the first caller only (across every client of
    /// the daemon), grants a lease to compute it. Later callers wait, up to `leaseMilliseconds`,
    /// for the lease holder's ``set(_:value:ttl:lease:timeout:)``, and then get its value.
    ///
    /// Prefer ``cached(key:ttl:lease:_:)``, which does the whole dance.
    ///
    /// ```swift
    /// switch try await client.cache.fetch("report:today", leaseMilliseconds: 30_000) {
    /// case .hit(let value):
    ///     print(value)
    /// case .lease(let token):
    ///     try await client.cache.set("report:today", value: try await buildReport(), lease: token)
    /// }
    /// ```
    /// - Parameters:
    ///   - key: the key.
    ///   - leaseMilliseconds: how long a granted lease lasts, and how long this call waits for
    ///     another holder's value (1…600000).
    ///   - timeout: the limit for the call; `nil` allows the wait plus ``SidecarClient/Configuration/defaultTimeout``.
    /// - Returns: ``CacheFetchResult/hit(_:)`` with the value, or ``CacheFetchResult/lease(_:)``
    ///   with the token to pass to `set`. When a holder's lease expires (or its connection
    ///   closes) without a `set`, the next waiter gets a lease of its own.
    /// - Throws: ``SidecarClientError``; `-32003` when the wait outlasted `leaseMilliseconds`
    ///   (ask again), `-32602` for an invalid key or lease.
    public func fetch(_ key: String, leaseMilliseconds: Int, timeout: Duration? = nil) async throws -> CacheFetchResult {
        let result = try await client.call(
            "cache.fetch",
            params: ["key": .string(key), "lease": .int(Int64(leaseMilliseconds))],
            timeout: timeout ?? .milliseconds(Int64(max(0, leaseMilliseconds))) + client.configuration.defaultTimeout
        )
        return try CacheFetchResult(result: result)
    }

    /// Gives up a lease from ``fetch(_:leaseMilliseconds:timeout:)`` without a value (the
    /// computation failed): the next caller waiting for `key` gets the lease at once.
    ///
    /// ```swift
    /// try await client.cache.release("report:today", lease: token)
    /// ```
    /// - Returns: whether `lease` was the key's lease (`false`: it had expired or was used).
    @discardableResult
    public func release(_ key: String, lease: String, timeout: Duration? = nil) async throws -> Bool {
        let result = try await client.call("cache.release", params: ["key": .string(key), "lease": .string(lease)], timeout: timeout)
        guard let released = result["released"]?.boolValue else {
            throw SidecarClientError.decodingFailed(method: "cache.release", reason: "result: missing boolean member 'released'")
        }
        return released
    }

    // MARK: - Writing

    /// Stores `value` under `key`, in memory and (when the daemon has Redis) in Redis; other
    /// daemons sharing that Redis drop their in-memory copy.
    ///
    /// ```swift
    /// try await client.cache.set("user:42:profile", value: ["name": "Ada"], ttl: 60)
    /// try await client.cache.set("feature:flags", value: ["beta": true], ttl: 0)   // no expiry
    /// ```
    /// - Parameters:
    ///   - ttl: seconds to keep it (`0` forever); `nil` uses the daemon's default (300 unless
    ///     configured).
    ///   - lease: a token from ``fetch(_:leaseMilliseconds:timeout:)``: completes that single
    ///     flight, handing the value to every waiting `fetch`.
    /// - Throws: ``SidecarClientError``; `-32602` naming `key`, `ttl` or `value` (too large);
    ///   `-32005` when `lease` is wrong, expired or superseded (nothing is stored).
    public func set(
        _ key: String,
        value: JSONValue,
        ttl: Int? = nil,
        lease: String? = nil,
        timeout: Duration? = nil
    ) async throws {
        var params: JSONObject = ["key": .string(key), "value": value]
        if let ttl { params["ttl"] = .int(Int64(ttl)) }
        if let lease { params["lease"] = .string(lease) }
        _ = try await client.call("cache.set", params: .object(params), timeout: timeout)
    }

    /// Encodes `value` as JSON and stores it under `key` (see ``set(_:value:ttl:lease:timeout:)``).
    ///
    /// ```swift
    /// struct Profile: Codable { var name: String }
    /// try await client.cache.set("user:42:profile", value: Profile(name: "Ada"), ttl: 60)
    /// ```
    /// - Throws: as ``set(_:value:ttl:lease:timeout:)``, plus
    ///   ``SidecarClientError/encodingFailed(method:reason:)``.
    public func set<T: Encodable>(
        _ key: String,
        value: T,
        ttl: Int? = nil,
        lease: String? = nil,
        timeout: Duration? = nil
    ) async throws {
        try await set(key, value: try CacheValueCoding.encode(value), ttl: ttl, lease: lease, timeout: timeout)
    }

    /// Removes `key` from both tiers (and from the memory of daemons sharing the Redis).
    ///
    /// ```swift
    /// let existed = try await client.cache.delete("user:42:profile")
    /// ```
    /// - Returns: whether it was cached in either tier.
    @discardableResult
    public func delete(_ key: String, timeout: Duration? = nil) async throws -> Bool {
        let result = try await client.call("cache.delete", params: ["key": .string(key)], timeout: timeout)
        guard let deleted = result["deleted"]?.boolValue else {
            throw SidecarClientError.decodingFailed(method: "cache.delete", reason: "result: missing boolean member 'deleted'")
        }
        return deleted
    }

    // MARK: - Invalidating

    /// Removes every key that matches `pattern` (a Redis glob) from both tiers, and from the
    /// memory of every daemon sharing the Redis.
    ///
    /// ```swift
    /// let removed = try await client.cache.invalidate(pattern: "user:42:*")
    /// print(removed.l1Removed, removed.l2Removed)
    /// ```
    /// - Returns: how many entries were removed from memory (this daemon's) and from Redis.
    /// - Throws: ``SidecarClientError``; `-32602` for an empty or too long pattern.
    @discardableResult
    public func invalidate(pattern: String, timeout: Duration? = nil) async throws -> (l1Removed: Int, l2Removed: Int) {
        let result = try await client.call("cache.invalidate", params: ["pattern": .string(pattern)], timeout: timeout)
        return try Self.removedCounts(result, method: "cache.invalidate")
    }

    /// Invalidates several patterns at once (one request frame): the `cache_invalidate(patterns)`
    /// decorator of the seed app, called after a write.
    ///
    /// ```swift
    /// try await database.rename(user: 42, to: "Ada")
    /// try await client.cache.invalidate(patterns: ["user:42:*", "users:list:*"])
    /// ```
    /// - Returns: the removed counts, summed over the patterns.
    /// - Throws: ``SidecarClientError``: the first pattern's error if any fails (the others
    ///   have still been invalidated).
    @discardableResult
    public func invalidate(patterns: [String], timeout: Duration? = nil) async throws -> (l1Removed: Int, l2Removed: Int) {
        let calls = patterns.map { BatchCall.call("cache.invalidate", params: ["pattern": .string($0)]) }
        var total = (l1Removed: 0, l2Removed: 0)
        for result in try await client.batch(calls, timeout: timeout) {
            let removed = try Self.removedCounts(try result.mapError(SidecarClientError.rpc).get(), method: "cache.invalidate")
            total.l1Removed += removed.l1Removed
            total.l2Removed += removed.l2Removed
        }
        return total
    }

    /// Runs `body`, then invalidates `patterns`: the `cache_invalidate(patterns)` decorator as a
    /// wrapper around a write.
    ///
    /// ```swift
    /// try await client.cache.invalidating(["user:42:*"]) {
    ///     try await database.rename(user: 42, to: "Ada")
    /// }
    /// ```
    /// The patterns are invalidated also when `body` throws (it may have changed something
    /// before failing; dropping too much only costs a recomputation), and `body`'s error is
    /// rethrown.
    /// - Returns: what `body` returns.
    /// - Throws: what `body` throws; after a successful `body`, the invalidation's error.
    public func invalidating<Result>(
        _ patterns: [String],
        timeout: Duration? = nil,
        _ body: () async throws -> Result
    ) async throws -> Result {
        let result: Result
        do {
            result = try await body()
        } catch {
            _ = try? await invalidate(patterns: patterns, timeout: timeout)
            throw error
        }
        try await invalidate(patterns: patterns, timeout: timeout)
        return result
    }

    /// Loads the Redis entries matching `pattern` into the daemon's memory.
    ///
    /// ```swift
    /// let loaded = try await client.cache.warm(pattern: "config:*")
    /// ```
    /// - Returns: how many entries were loaded (`0` when the daemon has no Redis, or it is down).
    @discardableResult
    public func warm(pattern: String, timeout: Duration? = nil) async throws -> Int {
        let result = try await client.call("cache.warm", params: ["pattern": .string(pattern)], timeout: timeout)
        guard let loaded = result["loaded"]?.intValue else {
            throw SidecarClientError.decodingFailed(method: "cache.warm", reason: "result: missing integer member 'loaded'")
        }
        return Int(loaded)
    }

    /// Removes every entry, from both tiers (in Redis, every key under the daemon's prefix).
    ///
    /// ```swift
    /// try await client.cache.clear()
    /// ```
    /// - Returns: how many entries were removed from memory and from Redis.
    @discardableResult
    public func clear(timeout: Duration? = nil) async throws -> (l1Removed: Int, l2Removed: Int) {
        try Self.removedCounts(try await client.call("cache.clear", timeout: timeout), method: "cache.clear")
    }

    // MARK: - Statistics

    /// The cache's counters: per tier hits, misses, writes; memory use; the Redis circuit breaker.
    ///
    /// ```swift
    /// let stats = try await client.cache.stats()
    /// print(stats.l1.hitRatio ?? 0, stats.l2.enabled, stats.breaker.state)
    /// ```
    public func stats(timeout: Duration? = nil) async throws -> CacheStats {
        try JSONBridge.decode(CacheStats.self, from: try await client.call("cache.stats", timeout: timeout), method: "cache.stats")
    }

    // MARK: - Single flight

    /// Returns the value cached under `key`, computing and caching it when it is missing, with
    /// one computation however many callers ask at once, in this process or any other.
    ///
    /// The first caller gets a lease from `cache.fetch`, runs `compute`, stores its result with
    /// the lease, and returns it; callers that arrive meanwhile wait and return the stored
    /// value. If `compute` throws, nothing is stored and the error is rethrown; the lease is
    /// released (`cache.release`), and one of the waiting callers computes at once. If the lease ran
    /// out before `compute` finished and another caller took over, the computed value is
    /// returned without being stored.
    ///
    /// ```swift
    /// struct Summary: Codable, Sendable { var words: Int }
    /// let summary = try await client.cache.cached(key: "doc:7:summary", ttl: 600) {
    ///     try await summarize(document: 7)      // runs once per 10 minutes, not once per caller
    /// }
    /// ```
    /// - Parameters:
    ///   - key: the cache key.
    ///   - ttl: seconds to keep the computed value; `nil` uses the daemon's default.
    ///   - lease: how long one computation may take before another caller may start one; also
    ///     how long a waiting caller waits per round (1 ms to 10 minutes).
    ///   - compute: makes the value when it is not cached.
    /// - Returns: the cached or computed value.
    /// - Throws: what `compute` throws; ``SidecarClientError``, including
    ///   ``SidecarClientError/decodingFailed(method:reason:)`` when the cached value is not a `T`.
    public func cached<T: Codable & Sendable>(
        key: String,
        ttl: Int? = nil,
        lease: Duration = .seconds(30),
        _ compute: @Sendable () async throws -> T
    ) async throws -> T {
        try await singleFlight(
            key: key,
            ttl: ttl,
            lease: lease,
            decode: { try JSONBridge.decode(T.self, from: $0, method: "cache.fetch") },
            compute: {
                let value = try await compute()
                return (value, try CacheValueCoding.encode(value))
            }
        )
    }

    /// ``cached(key:ttl:lease:_:)`` for a value that is already JSON.
    ///
    /// ```swift
    /// let models = try await client.cache.cached(key: "llm:models", ttl: 3600) { () async throws -> JSONValue in
    ///     ["large", "small"]
    /// }
    /// ```
    public func cached(
        key: String,
        ttl: Int? = nil,
        lease: Duration = .seconds(30),
        _ compute: @Sendable () async throws -> JSONValue
    ) async throws -> JSONValue {
        try await singleFlight(
            key: key,
            ttl: ttl,
            lease: lease,
            decode: { $0 },
            compute: {
                let value = try await compute()
                return (value, value)
            }
        )
    }

    private func singleFlight<Value>(
        key: String,
        ttl: Int?,
        lease: Duration,
        decode: (JSONValue) throws -> Value,
        compute: () async throws -> (value: Value, json: JSONValue)
    ) async throws -> Value {
        let leaseMilliseconds = Self.milliseconds(lease)
        while true {
            let fetched: CacheFetchResult
            do {
                fetched = try await fetch(key, leaseMilliseconds: leaseMilliseconds)
            } catch SidecarClientError.rpc(let error) where error.code == .timedOut {
                // A waiter queued behind a holder that got a fresh lease: ask again.
                continue
            }
            switch fetched {
            case .hit(let json):
                return try decode(json)
            case .lease(let token):
                let computed: (value: Value, json: JSONValue)
                do {
                    computed = try await compute()
                } catch {
                    // Nothing to store: the next waiter computes now rather than when the lease runs out.
                    _ = try? await release(key, lease: token)
                    throw error
                }
                do {
                    try await set(key, value: computed.json, ttl: ttl, lease: token)
                } catch SidecarClientError.rpc(let error) where error.code == .conflict {
                    // The lease ran out and another caller holds it now; its value will be stored.
                }
                return computed.value
            }
        }
    }

    // MARK: - Helpers

    /// Whole milliseconds, rounded up, so that a positive duration never becomes 0.
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let fraction = (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return seconds < 0 ? Int.min : Int.max }
        return Int(clamping: product.addingReportingOverflow(fraction).partialValue)
    }

    private static func removedCounts(_ result: JSONValue, method: String) throws -> (l1Removed: Int, l2Removed: Int) {
        guard let l1 = result["l1Removed"]?.intValue, let l2 = result["l2Removed"]?.intValue else {
            throw SidecarClientError.decodingFailed(method: method, reason: "result: expected integer members 'l1Removed' and 'l2Removed'")
        }
        return (Int(l1), Int(l2))
    }
}

// MARK: - Results

/// The tier of the cache that answered a read.
public enum CacheTier: String, Sendable, Hashable, Codable {
    /// The daemon's in-memory LRU.
    case l1
    /// Redis (the value was then copied into memory).
    case l2
}

/// What `cache.get` answered.
public struct CacheGetResult: Sendable, Hashable {
    /// Whether the key was cached.
    public var hit: Bool
    /// The value; `nil` on a miss (a cached `null` is `.null`). Test for absence with `if let`
    /// or `== .none`: `JSONValue` is `ExpressibleByNilLiteral`, so `value == nil` compares
    /// with JSON `null`.
    public var value: JSONValue?
    /// The tier that answered; `nil` on a miss.
    public var tier: CacheTier?
    /// Seconds left, rounded up; `nil` on a miss or when the entry never expires.
    public var ttl: Int?

    /// - Parameters: as the properties.
    public init(hit: Bool, value: JSONValue?, tier: CacheTier?, ttl: Int?) {
        self.hit = hit
        self.value = value
        self.tier = tier
        self.ttl = ttl
    }

    /// Reads a `cache.get` result: `{"hit", "value", "tier", "ttl"}`.
    init(result: JSONValue) throws(SidecarClientError) {
        guard let hit = result["hit"]?.boolValue else {
            throw .decodingFailed(method: "cache.get", reason: "result: missing boolean member 'hit'")
        }
        guard hit else {
            self.init(hit: false, value: Optional<JSONValue>.none, tier: nil, ttl: nil)
            return
        }
        let tier: CacheTier?
        switch result["tier"] {
        case .none, .null?:
            tier = nil
        case .string(let name)?:
            guard let known = CacheTier(rawValue: name) else {
                throw .decodingFailed(method: "cache.get", reason: "result.tier: expected \"l1\" or \"l2\", got \"\(name)\"")
            }
            tier = known
        case let other?:
            throw .decodingFailed(method: "cache.get", reason: "result.tier: expected a string, got \(other.typeName)")
        }
        let ttl: Int?
        switch result["ttl"] {
        case .none, .null?:
            ttl = nil
        case let number?:
            guard let seconds = number.intValue else {
                throw .decodingFailed(method: "cache.get", reason: "result.ttl: expected an integer or null, got \(number)")
            }
            ttl = Int(clamping: seconds)
        }
        self.init(hit: true, value: result["value"] ?? .null, tier: tier, ttl: ttl)
    }
}

/// What `cache.fetch` answered.
public enum CacheFetchResult: Sendable, Hashable {
    /// The key was cached (or the lease holder this call waited for stored it): its value.
    case hit(JSONValue)
    /// The key was not cached and this caller holds the lease: compute the value and pass the
    /// token to ``CacheAPI/set(_:value:ttl:lease:timeout:)``.
    case lease(String)

    /// Reads a `cache.fetch` result: `{"hit": true, "value"}` or `{"hit": false, "lease"}`.
    init(result: JSONValue) throws(SidecarClientError) {
        switch result["hit"] {
        case .bool(true)?:
            self = .hit(result["value"] ?? .null)
        case .bool(false)?:
            guard let token = result["lease"]?.stringValue else {
                throw .decodingFailed(method: "cache.fetch", reason: "result: a miss without a string member 'lease'")
            }
            self = .lease(token)
        default:
            throw .decodingFailed(method: "cache.fetch", reason: "result: missing boolean member 'hit'")
        }
    }
}

/// The counters of `cache.stats` (and of the `cache` section of `sidecar.metrics`), since the
/// daemon started.
///
/// ```swift
/// let stats = try await client.cache.stats()
/// if stats.breaker.state != .closed { print("Redis is failing: answering from memory only") }
/// ```
public struct CacheStats: Decodable, Sendable, Hashable {
    /// The in-memory tier.
    public var l1: L1
    /// The Redis tier.
    public var l2: L2
    /// The circuit breaker in front of Redis.
    public var breaker: Breaker

    /// The in-memory tier's counters.
    public struct L1: Decodable, Sendable, Hashable {
        /// Reads (`cache.get`, `cache.fetch`) answered from memory.
        public var hits: Int
        /// Reads not found in memory (Redis was then asked, when enabled).
        public var misses: Int
        /// Entries stored.
        public var writes: Int
        /// Entries dropped to stay within `--cache-l1-entries` / `--cache-l1-bytes`.
        public var evictions: Int
        /// Entries dropped because their TTL ran out.
        public var expirations: Int
        /// Entries held now.
        public var entries: Int
        /// Bytes held now, as counted against `--cache-l1-bytes`: each entry's key, encoded
        /// value, and a fixed overhead.
        public var bytes: Int

        /// `hits / (hits + misses)`, `nil` before the first read.
        public var hitRatio: Double? { CacheStats.ratio(hits, misses) }
    }

    /// The Redis tier's counters.
    public struct L2: Decodable, Sendable, Hashable {
        /// Whether the daemon runs with `--redis`.
        public var enabled: Bool
        /// Memory misses found in Redis.
        public var hits: Int
        /// Memory misses not in Redis either.
        public var misses: Int
        /// Entries written to Redis.
        public var writes: Int
        /// Redis calls that failed (answered from memory instead).
        public var errors: Int
        /// Redis calls that took longer than `--redis-timeout-ms`.
        public var timeouts: Int

        /// `hits / (hits + misses)`, `nil` before the first read that reached Redis.
        public var hitRatio: Double? { CacheStats.ratio(hits, misses) }
    }

    /// The circuit breaker that stops calling Redis after repeated failures.
    public struct Breaker: Decodable, Sendable, Hashable {
        /// `closed` (Redis is called), `open` (it is not, until `--breaker-recovery` passes),
        /// or `half_open` (one trial call decides).
        public var state: BreakerState
        /// Failures in a row; `--breaker-failures` of them open the breaker.
        public var consecutiveFailures: Int
        /// When the breaker last opened (RFC 3339), `nil` when it is not open.
        public var openedAt: String?
        /// How many times it has opened since the daemon started.
        public var trips: Int
    }

    /// The state of the circuit breaker.
    public enum BreakerState: String, Decodable, Sendable, Hashable {
        case closed
        case open
        case halfOpen = "half_open"
    }

    static func ratio(_ hits: Int, _ misses: Int) -> Double? {
        let lookups = hits + misses
        return lookups > 0 ? Double(hits) / Double(lookups) : nil
    }
}

// MARK: - Coding

/// `Encodable` values as ``JSONValue``, any JSON (a string or a number too, unlike params).
enum CacheValueCoding {
    static func encode<T: Encodable>(_ value: T) throws(SidecarClientError) -> JSONValue {
        do {
            return try JSONParser.parse(bytes: try JSONEncoder().encode(value))
        } catch {
            throw .encodingFailed(method: "cache.set", reason: "\(error)")
        }
    }
}
