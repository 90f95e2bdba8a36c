import SidecarRedis

/// The cache's settings, from the daemon's `--cache-*`, `--redis*` and `--breaker-*` flags.
public struct CacheConfiguration: Sendable {
    /// L2: the Redis to share entries through (`--redis`); `nil` serves from L1 alone.
    public var redis: RedisEndpoint?
    /// Connect and command timeout for Redis (`--redis-timeout-ms`).
    public var redisTimeout: Duration = .milliseconds(100)
    /// Namespace of the cache's keys in Redis (`--cache-prefix`); the invalidation channel is
    /// this prefix followed by `invalidate`.
    public var prefix = "sidecar:"
    /// TTL in seconds of a `cache.set` without one (`--cache-default-ttl`); 0 = no expiry.
    public var defaultTTL: Int64 = 300
    /// Largest value, as encoded JSON bytes (`--cache-max-value-bytes`).
    public var maximumValueBytes = 1 << 20
    /// L1 bounds (`--cache-l1-entries`, `--cache-l1-bytes`).
    public var l1Limits = LRUCache.Limits()
    /// When L2 is skipped after failures, and for how long (`--breaker-failures`, `--breaker-recovery`).
    public var breaker = CircuitBreaker.Configuration()
    /// Patterns whose L2 entries are loaded into L1 at start-up (`--cache-warm`).
    public var warmPatterns: [GlobPattern] = []

    public init() {}

    /// The Redis channel that carries `set`, `delete`, `invalidate` and `clear` between daemons.
    public var invalidationChannel: String { prefix + "invalidate" }
}
