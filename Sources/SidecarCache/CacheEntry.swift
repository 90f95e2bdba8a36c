import SidecarProtocol

/// Where an L1 entry's value came from.
public enum CacheOrigin: String, Hashable, Sendable {
    /// Written through this daemon (`cache.set`, a lease holder's value).
    case local
    /// Filled from Redis on an L1 miss. After a Redis outage these may be stale (invalidations
    /// published while the daemon was cut off were missed), so the owner drops them when the
    /// breaker closes again: `cache.removeEntries(from: .l2)`.
    case l2
}

/// How long an entry lives.
///
/// ```swift
/// CacheTTL(seconds: 0)        // .never: the protocol's "0 = no expiry"
/// CacheTTL(seconds: 30)       // .milliseconds(30_000)
/// CacheTTL.milliseconds(1_250) // e.g. a Redis PTTL when filling L1 from L2
/// ```
public enum CacheTTL: Hashable, Sendable {
    /// The entry never expires (it can still be evicted).
    case never
    /// The entry expires this many milliseconds after it is stored. Zero or less means it is
    /// already expired: storing it removes the key instead (as Redis does for a past expiry).
    case milliseconds(Int64)

    /// The protocol's TTL: whole seconds, `0` for no expiry. Negative values are refused at
    /// the RPC layer; here they mean "already expired".
    public init(seconds: Int64) {
        if seconds == 0 {
            self = .never
        } else {
            let (milliseconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
            self = .milliseconds(overflow ? (seconds > 0 ? .max : .min) : milliseconds)
        }
    }
}

/// One stored value: the JSON value and its encoded bytes, kept together so a hit is written
/// to the wire without encoding it again.
public struct CacheEntry: Sendable {
    /// Bytes charged for each entry on top of its key and encoded value: the slot, the index
    /// entry and the two headers, roughly. Public so tests and stats can compute exact sizes.
    public static let overhead = 64

    public var value: JSONValue
    /// The compact JSON text of `value`, as `JSONWriter` writes it.
    public var encoded: [UInt8]
    public var origin: CacheOrigin
    /// Monotonic milliseconds at which the entry stops being visible; `nil` for no expiry.
    public var expiresAt: Int64?
    /// What the entry counts against the byte bound: key UTF-8 bytes + encoded bytes + ``overhead``.
    public var size: Int

    /// Whether the entry is past its expiry at `now` (expiry is exclusive: an entry stored at
    /// `t` with a TTL of `d` ms is visible up to `t + d - 1`).
    @inlinable
    public func isExpired(at now: Int64) -> Bool {
        guard let expiresAt else { return false }
        return now >= expiresAt
    }

    /// Milliseconds left at `now`; `nil` for no expiry, `0` once expired.
    public func remainingMilliseconds(at now: Int64) -> Int64? {
        guard let expiresAt else { return nil }
        return max(0, expiresAt - now)
    }
}

/// What ``LRUCache/get(_:now:)`` returns on a hit.
public struct CacheHit: Sendable {
    public var value: JSONValue
    /// The compact JSON text of ``value``, ready for the wire.
    public var encoded: [UInt8]
    public var origin: CacheOrigin
    /// Milliseconds until expiry; `nil` for no expiry. Always positive for a hit.
    public var ttlMilliseconds: Int64?

    /// Whole seconds until expiry, rounded up so that a live entry never reports `0` (which the
    /// protocol reserves for "no expiry"); `nil` for no expiry.
    public var ttl: Int64? {
        ttlMilliseconds.map { $0 / 1000 + ($0 % 1000 == 0 ? 0 : 1) }
    }
}

/// A key compared and hashed by its UTF-8 bytes, as Redis compares keys.
///
/// `String` equality is Unicode canonical equivalence: a precomposed "é" equals "e" followed
/// by a combining accent, but in Redis those are two keys. L1 and the lease table key their
/// dictionaries with this so that L1 never answers for a key L2 considers different.
struct ExactKey: Hashable, Sendable {
    let string: String

    init(_ string: String) {
        self.string = string
    }

    static func == (lhs: ExactKey, rhs: ExactKey) -> Bool {
        var left = lhs.string
        var right = rhs.string
        return left.withUTF8 { leftBytes in
            right.withUTF8 { rightBytes in leftBytes.elementsEqual(rightBytes) }
        }
    }

    func hash(into hasher: inout Hasher) {
        var string = string
        string.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
