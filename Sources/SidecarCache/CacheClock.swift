import Foundation

/// Where the cache's notion of time comes from: monotonic milliseconds for expiry and
/// recovery timing, wall-clock milliseconds for what is reported to people.
///
/// The cache's value types (``LRUCache``, ``CircuitBreaker``, ``LeaseTable``) never read a
/// clock themselves; they take `now` as a parameter. The actor that owns them reads the clock
/// once per operation and passes the reading down, so tests drive time with a
/// ``ManualCacheClock`` and never sleep.
///
/// ```swift
/// let clock: any CacheClock = ContinuousCacheClock()
/// let hit = cache.get("user:1", now: clock.monotonicMilliseconds())
/// ```
public protocol CacheClock: Sendable {
    /// Milliseconds on a clock that never goes backwards (its origin is arbitrary).
    func monotonicMilliseconds() -> Int64
    /// Milliseconds since the Unix epoch, for reports only (it may jump).
    func wallMilliseconds() -> Int64
}

/// The real clock: `ContinuousClock` for monotonic time (it keeps counting while the machine
/// sleeps, so TTLs do not stretch over a suspend), the system time for wall time.
public struct ContinuousCacheClock: CacheClock {
    private let origin: ContinuousClock.Instant

    public init() {
        origin = ContinuousClock.now
    }

    public func monotonicMilliseconds() -> Int64 {
        let elapsed = origin.duration(to: ContinuousClock.now).components
        return elapsed.seconds * 1000 + elapsed.attoseconds / 1_000_000_000_000_000
    }

    public func wallMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}

/// A clock that moves only when told to, for tests.
///
/// ```swift
/// let clock = ManualCacheClock()
/// clock.advance(by: 1_500)       // both readings move 1.5 s
/// clock.monotonicMilliseconds()  // 1500
/// ```
public final class ManualCacheClock: CacheClock, @unchecked Sendable {
    // @unchecked: `readings` is only touched under `lock`. (`Synchronization.Mutex` needs
    // macOS 15; the package supports 14.)
    private let lock = NSLock()
    private var readings: (monotonic: Int64, wall: Int64)

    /// - Parameters:
    ///   - monotonic: the first monotonic reading.
    ///   - wall: the first wall reading (Unix milliseconds); any fixed value will do in tests.
    public init(monotonic: Int64 = 0, wall: Int64 = 1_700_000_000_000) {
        readings = (monotonic, wall)
    }

    public func monotonicMilliseconds() -> Int64 {
        lock.lock()
        defer { lock.unlock() }
        return readings.monotonic
    }

    public func wallMilliseconds() -> Int64 {
        lock.lock()
        defer { lock.unlock() }
        return readings.wall
    }

    /// Moves both readings forward by `milliseconds`.
    public func advance(by milliseconds: Int64) {
        lock.lock()
        defer { lock.unlock() }
        readings.monotonic += milliseconds
        readings.wall += milliseconds
    }
}
