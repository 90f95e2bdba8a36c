import SidecarProtocol

/// What L2 (Redis) did, for `cache.stats` → `l2`.
public struct L2Statistics: Hashable, Sendable {
    /// An L1 miss that Redis answered with a value.
    public var hits = 0
    /// An L1 miss that Redis answered without one.
    public var misses = 0
    /// Values written to Redis.
    public var writes = 0
    /// Redis calls that failed (timeouts included).
    public var errors = 0
    /// Redis calls that ran out of `--redis-timeout-ms`.
    public var timeouts = 0

    public init() {}

    /// The statistics as `cache.stats` reports them.
    public func jsonValue(enabled: Bool) -> JSONValue {
        [
            "enabled": .bool(enabled), "hits": .int(Int64(hits)), "misses": .int(Int64(misses)),
            "writes": .int(Int64(writes)), "errors": .int(Int64(errors)), "timeouts": .int(Int64(timeouts)),
        ]
    }
}
