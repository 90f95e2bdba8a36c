import SidecarProtocol

/// The L1 cache: an in-memory LRU map from string keys to JSON values, bounded by a number
/// of entries and a number of bytes, with a TTL per entry.
///
/// A value type with no clock and no locks: its owner (one actor) passes monotonic
/// milliseconds as `now` to every call that depends on time.
///
/// ```swift
/// var cache = LRUCache(limits: .init(maximumEntries: 10_000, maximumBytes: 64 << 20))
/// cache.set("user:1", value: ["name": "Ada"], ttl: CacheTTL(seconds: 60), now: clock.monotonicMilliseconds())
/// if let hit = cache.get("user:1", now: clock.monotonicMilliseconds()) {
///     hit.encoded   // the value's JSON text, written to the wire as is
///     hit.ttl       // 60
/// }
/// ```
///
/// - Expiry is lazy (an expired entry is removed when a lookup finds it and is never returned)
///   plus a sweep (``purgeExpired(now:scanLimit:)``) that the owner runs periodically so that
///   expired entries nobody asks for do not hold memory.
/// - Every operation on one key (`get`, `set`, `remove`) is O(1) amortised; the ones that look
///   at many entries (`removeMatching`, `removeAll(where:)`, `purgeExpired`) are O(entries).
///
/// Layout, and why not `OrderedDictionary` with move-to-end: removing an element from the
/// middle of an `OrderedDictionary` shifts every element after it, so refreshing recency would
/// be O(n). Instead the entries live in an array of slots doubly linked by index (no object
/// per node, so no reference counting per node and contiguous memory); a dictionary maps each
/// key to its slot, and freed slots are reused through a free list, so the array never grows
/// past `maximumEntries + 1` slots.
public struct LRUCache: Sendable {
    /// The two bounds. Values below 1 are raised to 1.
    public struct Limits: Hashable, Sendable {
        public var maximumEntries: Int
        /// Counted as in ``CacheEntry/size``: key bytes + encoded value bytes + ``CacheEntry/overhead``.
        public var maximumBytes: Int

        public init(maximumEntries: Int = 10_000, maximumBytes: Int = 64 << 20) {
            self.maximumEntries = max(1, maximumEntries)
            self.maximumBytes = max(1, maximumBytes)
        }
    }

    /// What a ``set(_:value:encoded:ttl:origin:now:)`` did.
    public enum SetResult: Hashable, Sendable {
        /// Stored; `evictions` live entries were pushed out to make room.
        case stored(evictions: Int)
        /// Not stored: the entry alone exceeds the byte bound. Any older value of the key was
        /// removed, so L1 never serves a value that L2 has replaced.
        case tooLarge(size: Int)
        /// Not stored: the TTL was zero or negative milliseconds. Any older value of the key was
        /// removed, as Redis does for an expiry in the past.
        case alreadyExpired
    }

    public let limits: Limits

    private struct Slot: Sendable {
        var key: String
        /// `nil` for a free slot.
        var entry: CacheEntry?
        /// Towards the most recently used end; `-1` at the head.
        var previous: Int
        /// Towards the least recently used end; `-1` at the tail.
        var next: Int
    }

    private var index: [ExactKey: Int] = [:]
    private var slots: [Slot] = []
    private var freeSlots: [Int] = []
    /// Most recently used slot, or `-1` when empty.
    private var head = -1
    /// Least recently used slot, or `-1` when empty.
    private var tail = -1
    private var sweepCursor = 0
    private var totalBytes = 0
    private var counters = L1Statistics()

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    // MARK: - Reading

    /// Entries held, including expired ones not yet found or swept.
    public var count: Int { index.count }

    /// Bytes charged for the entries held.
    public var bytes: Int { totalBytes }

    /// The counters, with `entries` and `bytes` as of now.
    public var statistics: L1Statistics {
        var statistics = counters
        statistics.entries = index.count
        statistics.bytes = totalBytes
        return statistics
    }

    /// The value of `key` if it is held and not expired at `now`.
    ///
    /// A hit makes the key the most recently used and counts as a hit; anything else counts
    /// as a miss. An expired entry is removed (and counted as an expiration).
    /// - Returns: the value, its encoded bytes, its origin and its remaining TTL; `nil` on a miss.
    public mutating func get(_ key: String, now: Int64) -> CacheHit? {
        guard let slot = index[ExactKey(key)], let entry = slots[slot].entry else {
            counters.misses += 1
            return nil
        }
        if entry.isExpired(at: now) {
            removeSlot(slot)
            counters.expirations += 1
            counters.misses += 1
            return nil
        }
        moveToFront(slot)
        counters.hits += 1
        return CacheHit(
            value: entry.value,
            encoded: entry.encoded,
            origin: entry.origin,
            ttlMilliseconds: entry.remainingMilliseconds(at: now)
        )
    }

    /// The value of `key` if it is held and not expired at `now`, without touching recency,
    /// counters, or the entry itself.
    public func peek(_ key: String, now: Int64) -> CacheHit? {
        guard let slot = index[ExactKey(key)], let entry = slots[slot].entry, !entry.isExpired(at: now) else { return nil }
        return CacheHit(
            value: entry.value,
            encoded: entry.encoded,
            origin: entry.origin,
            ttlMilliseconds: entry.remainingMilliseconds(at: now)
        )
    }

    /// The keys held, most recently used first (expired ones included). O(entries): for
    /// tests and diagnostics.
    public var keysFromMostRecent: [String] {
        var keys: [String] = []
        keys.reserveCapacity(index.count)
        var slot = head
        while slot >= 0 {
            keys.append(slots[slot].key)
            slot = slots[slot].next
        }
        return keys
    }

    // MARK: - Writing

    /// Stores `value` under `key` as the most recently used entry, replacing any older value,
    /// then evicts least recently used entries until both bounds hold again.
    ///
    /// - Parameters:
    ///   - key: the cache key (the RPC layer limits it to 1 KiB).
    ///   - value: the JSON value.
    ///   - encoded: the compact JSON text of `value` (as `JSONWriter` writes it), encoded once by
    ///     the caller; its length is what the entry is charged for.
    ///   - ttl: how long the entry lives from `now`.
    ///   - origin: ``CacheOrigin/local`` for a write through this daemon, ``CacheOrigin/l2`` for a
    ///     fill from Redis.
    ///   - now: monotonic milliseconds.
    /// - Returns: whether it was stored, and how many live entries were evicted for it.
    @discardableResult
    public mutating func set(
        _ key: String,
        value: JSONValue,
        encoded: [UInt8],
        ttl: CacheTTL,
        origin: CacheOrigin = .local,
        now: Int64
    ) -> SetResult {
        let exactKey = ExactKey(key)
        let expiresAt: Int64?
        switch ttl {
        case .never:
            expiresAt = nil
        case .milliseconds(let milliseconds):
            guard milliseconds > 0 else {
                if let slot = index[exactKey] { removeSlot(slot) }
                return .alreadyExpired
            }
            let (sum, overflow) = now.addingReportingOverflow(milliseconds)
            expiresAt = overflow ? .max : sum
        }
        let size = key.utf8.count + encoded.count + CacheEntry.overhead
        guard size <= limits.maximumBytes else {
            if let slot = index[exactKey] { removeSlot(slot) }
            return .tooLarge(size: size)
        }
        let entry = CacheEntry(value: value, encoded: encoded, origin: origin, expiresAt: expiresAt, size: size)
        if let slot = index[exactKey] {
            totalBytes += size - (slots[slot].entry?.size ?? 0)
            slots[slot].entry = entry
            moveToFront(slot)
        } else {
            let slot = allocateSlot(key: key, entry: entry)
            index[exactKey] = slot
            linkAtFront(slot)
            totalBytes += size
        }
        counters.writes += 1

        // The new entry is never the victim: it is at the head, and alone it fits both bounds.
        var evictions = 0
        while index.count > limits.maximumEntries || totalBytes > limits.maximumBytes, tail >= 0 {
            let victim = tail
            if slots[victim].entry?.isExpired(at: now) ?? false {
                counters.expirations += 1
            } else {
                counters.evictions += 1
                evictions += 1
            }
            removeSlot(victim)
        }
        return .stored(evictions: evictions)
    }

    /// Encodes `value` once and stores it; see ``set(_:value:encoded:ttl:origin:now:)``.
    @discardableResult
    public mutating func set(
        _ key: String,
        value: JSONValue,
        ttl: CacheTTL,
        origin: CacheOrigin = .local,
        now: Int64
    ) -> SetResult {
        var encoded: [UInt8] = []
        JSONWriter.write(value, into: &encoded)
        return set(key, value: value, encoded: encoded, ttl: ttl, origin: origin, now: now)
    }

    // MARK: - Removing

    /// Removes `key`.
    /// - Returns: `true` if a live value was removed; `false` if there was none or it had
    ///   already expired (then it is counted as an expiration).
    @discardableResult
    public mutating func remove(_ key: String, now: Int64) -> Bool {
        guard let slot = index[ExactKey(key)] else { return false }
        let expired = slots[slot].entry?.isExpired(at: now) ?? true
        removeSlot(slot)
        if expired { counters.expirations += 1 }
        return !expired
    }

    /// Removes every key that `pattern` matches (Redis glob semantics, as `SCAN MATCH`).
    /// - Returns: how many live values were removed; expired ones found on the way are removed
    ///   too and counted as expirations, not here.
    @discardableResult
    public mutating func removeMatching(_ pattern: GlobPattern, now: Int64) -> Int {
        if let literal = pattern.literal {
            return remove(literal, now: now) ? 1 : 0
        }
        var removed = 0
        for slot in slots.indices {
            guard let entry = slots[slot].entry, pattern.matches(slots[slot].key) else { continue }
            if entry.isExpired(at: now) {
                counters.expirations += 1
            } else {
                removed += 1
            }
            removeSlot(slot)
        }
        return removed
    }

    /// Removes every entry for which `shouldRemove` returns `true`, expired or not.
    /// - Returns: how many entries were removed.
    @discardableResult
    public mutating func removeAll(where shouldRemove: (_ key: String, _ entry: CacheEntry) throws -> Bool) rethrows -> Int {
        var removed = 0
        for slot in slots.indices {
            guard let entry = slots[slot].entry, try shouldRemove(slots[slot].key, entry) else { continue }
            removeSlot(slot)
            removed += 1
        }
        return removed
    }

    /// Removes every entry that came from `origin`: after a Redis outage, `.l2` entries may
    /// be stale because the invalidations published meanwhile were missed.
    /// - Returns: how many entries were removed.
    @discardableResult
    public mutating func removeEntries(from origin: CacheOrigin) -> Int {
        removeAll { _, entry in entry.origin == origin }
    }

    /// Removes every entry; the counters other than `entries` and `bytes` are kept.
    public mutating func removeAll() {
        index.removeAll()
        slots.removeAll()
        freeSlots.removeAll()
        head = -1
        tail = -1
        sweepCursor = 0
        totalBytes = 0
    }

    /// Removes expired entries, looking at no more than `scanLimit` slots per call.
    ///
    /// The sweep walks the slot array round-robin from where the previous call stopped, so
    /// calls with a small limit together cover every entry, and one call costs at most
    /// `min(scanLimit, maximumEntries + 1)` checks. With the default limit one call sweeps
    /// everything.
    /// - Returns: how many entries were removed (each also counted as an expiration).
    @discardableResult
    public mutating func purgeExpired(now: Int64, scanLimit: Int = .max) -> Int {
        let toScan = min(max(0, scanLimit), slots.count)
        var removed = 0
        for _ in 0..<toScan {
            if sweepCursor >= slots.count { sweepCursor = 0 }
            let slot = sweepCursor
            sweepCursor += 1
            if let entry = slots[slot].entry, entry.isExpired(at: now) {
                removeSlot(slot)
                removed += 1
            }
        }
        counters.expirations += removed
        return removed
    }

    // MARK: - Slots and links

    private mutating func allocateSlot(key: String, entry: CacheEntry) -> Int {
        let slot = Slot(key: key, entry: entry, previous: -1, next: -1)
        if let reused = freeSlots.popLast() {
            slots[reused] = slot
            return reused
        }
        slots.append(slot)
        return slots.count - 1
    }

    /// Unlinks the slot, forgets its key and frees it (its value is released now, not when
    /// the slot is reused).
    private mutating func removeSlot(_ slot: Int) {
        unlink(slot)
        let key = ExactKey(slots[slot].key)
        index.removeValue(forKey: key)
        totalBytes -= slots[slot].entry?.size ?? 0
        slots[slot].entry = nil
        slots[slot].key = ""
        freeSlots.append(slot)
    }

    private mutating func linkAtFront(_ slot: Int) {
        slots[slot].previous = -1
        slots[slot].next = head
        if head >= 0 { slots[head].previous = slot }
        head = slot
        if tail < 0 { tail = slot }
    }

    private mutating func unlink(_ slot: Int) {
        let previous = slots[slot].previous
        let next = slots[slot].next
        if previous >= 0 { slots[previous].next = next } else { head = next }
        if next >= 0 { slots[next].previous = previous } else { tail = previous }
        slots[slot].previous = -1
        slots[slot].next = -1
    }

    private mutating func moveToFront(_ slot: Int) {
        guard head != slot else { return }
        unlink(slot)
        linkAtFront(slot)
    }
}
