import SidecarProtocol

/// Counters of the in-memory cache, exact (no sampling), for `cache.stats`.
///
/// A lookup is either a hit or a miss; an expired entry found by a lookup counts as a miss and
/// an expiration. An entry leaves the cache in one of three ways, counted apart: an
/// *eviction* (a live entry pushed out by the entry or byte bound), an *expiration* (its TTL
/// passed: found on access, by ``LRUCache/purgeExpired(now:scanLimit:)``, or as the LRU
/// victim), or a removal asked for by the owner (`remove`, `removeMatching`, origin-based
/// removal), which is not counted here.
public struct L1Statistics: Hashable, Sendable {
    /// Lookups that returned a value.
    public var hits: Int = 0
    /// Lookups that found nothing, or only an expired entry.
    public var misses: Int = 0
    /// Values stored (new keys and replacements alike).
    public var writes: Int = 0
    /// Live entries removed to respect the entry or byte bound.
    public var evictions: Int = 0
    /// Entries removed because their TTL had passed.
    public var expirations: Int = 0
    /// Entries held now, including expired ones not yet found or swept.
    public var entries: Int = 0
    /// Bytes charged for the entries held now (see ``CacheEntry/size``).
    public var bytes: Int = 0

    public init() {}

    /// The counters as a JSON object, for the stats method.
    public var jsonValue: JSONValue {
        [
            "hits": .int(Int64(hits)),
            "misses": .int(Int64(misses)),
            "writes": .int(Int64(writes)),
            "evictions": .int(Int64(evictions)),
            "expirations": .int(Int64(expirations)),
            "entries": .int(Int64(entries)),
            "bytes": .int(Int64(bytes)),
        ]
    }
}
