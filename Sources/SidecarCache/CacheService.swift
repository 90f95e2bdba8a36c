import Foundation
import Logging
import NIOCore
import SidecarProtocol
import SidecarRedis

/// The tiered cache: L1 in memory (``LRUCache``), L2 in Redis when configured, a
/// ``CircuitBreaker`` that skips Redis while it fails, invalidation published to every daemon
/// that shares the Redis, and single-flight leases (``LeaseTable``).
///
/// One event loop owns L1, the breaker and the leases (``eventLoop``): an L1 hit is answered
/// there with no task, lock or hop. Redis calls run on the Redis client's own threads; their
/// results come back to the loop. A failing or hung Redis costs a request at most the timeout,
/// and never an error: the answer then comes from L1.
///
/// Every method may be called from any thread; called on ``eventLoop`` it does not hop.
public final class CacheService: Sendable {
    /// What `cache.get` found.
    public struct Lookup: Sendable {
        public var value: JSONValue
        /// The JSON text of ``value``, as stored: ready for the wire.
        public var encoded: [UInt8]
        /// `l1` or `l2`.
        public var tier: CacheTier
        /// Seconds left, rounded up; `nil` for no expiry.
        public var ttl: Int64?
    }

    /// What `cache.fetch` answers.
    public enum FetchResult: Sendable {
        case hit(JSONValue)
        /// A miss: compute the value and `cache.set` it with this lease token.
        case lease(String)
    }

    /// The event loop that owns L1, the breaker and the leases.
    public let eventLoop: any EventLoop
    public let configuration: CacheConfiguration
    private let core: NIOLoopBoundBox<Core>
    private let redis: RedisClient?
    private let clock: any CacheClock
    private let logger: Logger
    /// Tells this daemon's invalidation messages from the others'.
    private let instanceID = "\(getpid())-\(UInt64.random(in: 1...UInt64.max))"
    private let subscriber: RedisSubscriber?

    /// Creates the cache; call ``start()`` to reach Redis, then ``shutdown()`` at the end.
    public init(configuration: CacheConfiguration, eventLoop: any EventLoop, clock: any CacheClock = ContinuousCacheClock(), logger: Logger) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.clock = clock
        self.logger = logger
        self.core = .makeBoxSendingValue(
            Core(l1: LRUCache(limits: configuration.l1Limits), breaker: CircuitBreaker(configuration: configuration.breaker)),
            eventLoop: eventLoop)
        if let endpoint = configuration.redis {
            redis = RedisClient(endpoint: endpoint, timeout: configuration.redisTimeout, logger: logger)
            subscriber = RedisSubscriber(
                endpoint: endpoint, channel: configuration.invalidationChannel, timeout: configuration.redisTimeout, logger: logger)
        } else {
            redis = nil
            subscriber = nil
        }
    }

    // MARK: - Lifecycle

    /// Checks Redis once (a daemon that starts with Redis down opens the breaker and serves
    /// from L1 until a probe succeeds), listens for other daemons' invalidations, warms L1 from
    /// `warmPatterns` in the background and starts the expiry sweep.
    public func start() async {
        scheduleSweep()
        guard let redis, let subscriber else { return }
        do {
            try await redis.ping()
        } catch {
            let now = clock.monotonicMilliseconds()
            let wall = clock.wallMilliseconds()
            try? await eventLoop.submit {
                self.core.withValue { core in _ = core.breaker.forceOpen(now: now, wallTime: wall) }
            }.get()
            logger.warning(
                "Redis is unavailable; serving the cache from L1 until it answers",
                metadata: ["redis": "\(redis.endpoint)", "error": "\(error)",
                           "retryInSeconds": "\(Double(configuration.breaker.recoveryTimeout) / 1000)"])
        }
        // Ends when `shutdown()` stops the subscriber.
        Task { await self.listen(to: subscriber) }
        if !configuration.warmPatterns.isEmpty {
            Task {
                for pattern in configuration.warmPatterns {
                    let loaded = (try? await warm(pattern).get()) ?? 0
                    logger.info("cache warmed", metadata: ["pattern": "\(pattern)", "loaded": "\(loaded)"])
                }
            }
        }
    }

    /// Stops listening and closes the Redis connections.
    public func shutdown() {
        subscriber?.stop()
        redis?.close()
    }

    // MARK: - Reading

    /// `cache.get`'s first step, for a caller on ``eventLoop``: the L1 entry, or `nil` when L1
    /// misses (each counted); after a miss, ``readThrough(_:)`` asks L2.
    public func lookupOnLoop(_ key: String) -> Lookup? {
        let now = clock.monotonicMilliseconds()
        return core.withValue { core in
            core.l1.get(key, now: now).map { Lookup(value: $0.value, encoded: $0.encoded, tier: .l1, ttl: $0.ttl) }
        }
    }

    /// `cache.get`: L1, then L2 (filling L1 with the remaining TTL); `nil` on a miss.
    public func get(_ key: String) -> EventLoopFuture<Lookup?> {
        onLoop {
            if let hit = self.lookupOnLoop(key) { return self.eventLoop.makeSucceededFuture(hit) }
            return self.readThrough(key)
        }
    }

    /// Asks L2 for `key` after an L1 miss, and fills L1 from it; `nil` when L2 has no value,
    /// is not configured, or is unavailable. Call it on ``eventLoop``.
    public func readThrough(_ key: String) -> EventLoopFuture<Lookup?> {
        let redisKey = configuration.prefix + key
        let read = core.withValue { $0.reads.begin(.key(key)) }
        return callL2 { redis in try await redis.getWithTTL(redisKey) }.map { found in
            defer { self.core.withValue { $0.reads.end(read) } }
            guard let found else { return nil }
            guard let (value, ttlMilliseconds) = found else {
                self.core.withValue { $0.l2.misses += 1 }
                return nil
            }
            guard let parsed = try? JSONParser.parse(bytes: value) else {
                // Not written by a sidecar cache: to this cache, a miss.
                self.core.withValue { $0.l2.misses += 1 }
                return nil
            }
            let ttl: CacheTTL = ttlMilliseconds.map { .milliseconds(Int64($0)) } ?? .never
            let now = self.clock.monotonicMilliseconds()
            self.core.withValue { core in
                core.l2.hits += 1
                // Not when the key was written or invalidated meanwhile: Redis may have run
                // this read first, so L1 already holds something newer, or nothing on purpose.
                guard core.reads.mayFill(read, key: key) else { return }
                core.l1.set(key, value: parsed, encoded: value, ttl: ttl, origin: .l2, now: now)
            }
            let seconds = ttlMilliseconds.map { Int64(($0 + 999) / 1000) }
            return Lookup(value: parsed, encoded: value, tier: .l2, ttl: seconds)
        }
    }

    // MARK: - Writing

    /// `cache.set`: stores `value` in L1 and L2 (write-through) and tells the other daemons.
    /// With `lease`, it completes a single flight and wakes its waiters; a lease that is not the
    /// key's current one fails the future with ``LeaseTable/Rejection`` and stores nothing.
    /// - Parameters:
    ///   - encoded: `value` as JSON bytes (the caller measured it against the size limit).
    ///   - ttl: seconds; 0 = no expiry.
    public func set(_ key: String, value: JSONValue, encoded: [UInt8], ttl: Int64, lease: String?) -> EventLoopFuture<Void> {
        onLoop {
            try self.setOnLoop(key, value: value, encoded: encoded, ttl: ttl, lease: lease) ?? self.eventLoop.makeSucceededVoidFuture()
        }
    }

    /// ``set(_:value:encoded:ttl:lease:)`` for a caller on ``eventLoop``: L1 is written now.
    /// - Returns: the write-through to L2 to wait for, or `nil` when there is no L2 (the set
    ///   is complete).
    /// - Throws: ``LeaseTable/Rejection`` for a lease that is not the key's current one;
    ///   nothing is stored then.
    public func setOnLoop(_ key: String, value: JSONValue, encoded: [UInt8], ttl: Int64, lease: String?) throws -> EventLoopFuture<Void>? {
        eventLoop.preconditionInEventLoop()
        let now = clock.monotonicMilliseconds()
        // Leases are rare: with none, a set needs no lease work at all.
        let waiters: [LeaseTable.WaiterID]? = try core.withValue { core in
            if let lease {
                switch core.leases.complete(key: key, token: lease, now: now) {
                case .rejected(let rejection): throw rejection
                case .accepted(let waiters): return waiters
                }
            }
            return core.leases.leaseCount > 0 ? core.leases.resolve(key: key) : nil
        }
        let cacheTTL: CacheTTL = ttl == 0 ? .never : .milliseconds(ttl * 1000)
        core.withValue { core in
            core.reads.touch(key: key)
            core.l1.set(key, value: value, encoded: encoded, ttl: cacheTTL, origin: .local, now: now)
        }
        if let waiters {
            resume(waiters, with: .hit(value))
            rescheduleLeaseTimer()
        }
        guard redis != nil else { return nil }
        var command: [[UInt8]] = [Array("SET".utf8), Array((configuration.prefix + key).utf8), encoded]
        if ttl > 0 { command += [Array("PX".utf8), Array(String(ttl * 1000).utf8)] }
        return writeL2(command, publishing: .key(key)).map { written in
            if written { self.core.withValue { $0.l2.writes += 1 } }
        }
    }

    /// `cache.delete`: removes `key` from both tiers. Returns whether either held it.
    public func delete(_ key: String) -> EventLoopFuture<Bool> {
        onLoop {
            let removed = self.core.withValue { core in
                core.reads.touch(key: key)
                return core.l1.remove(key, now: self.clock.monotonicMilliseconds())
            }
            let command = [Array("UNLINK".utf8), Array((self.configuration.prefix + key).utf8)]
            return self.callL2 { redis in
                try await redis.pipeline([command, self.publishCommand(.key(key))])
            }.map { replies in
                removed || (replies?.first?.integer ?? 0) > 0
            }
        }
    }

    /// `cache.invalidate`: removes the keys matching `pattern` from L1 and from L2 (SCAN and
    /// UNLINK in batches), and tells the other daemons.
    public func invalidate(_ pattern: GlobPattern) -> EventLoopFuture<(l1Removed: Int, l2Removed: Int)> {
        onLoop {
            let l1Removed = self.core.withValue { core in
                core.reads.touch(matching: pattern)
                return core.l1.removeMatching(pattern, now: self.clock.monotonicMilliseconds())
            }
            let redisPattern = RedisClient.globEscaped(self.configuration.prefix) + pattern.pattern
            return self.callL2 { redis in
                let removed = try await redis.scanAndUnlink(pattern: redisPattern)
                _ = try await redis.pipeline([self.publishCommand(.pattern(pattern))])
                return removed
            }.map { (l1Removed, $0 ?? 0) }
        }
    }

    /// `cache.clear`: empties L1 and removes every key under the prefix from L2.
    public func clear() -> EventLoopFuture<(l1Removed: Int, l2Removed: Int)> {
        onLoop {
            let l1Removed = self.core.withValue { core in
                defer {
                    core.reads.touchAll()
                    core.l1.removeAll()
                }
                return core.l1.count
            }
            let redisPattern = RedisClient.globEscaped(self.configuration.prefix) + "*"
            return self.callL2 { redis in
                let removed = try await redis.scanAndUnlink(pattern: redisPattern)
                _ = try await redis.pipeline([self.publishCommand(.clear)])
                return removed
            }.map { (l1Removed, $0 ?? 0) }
        }
    }

    /// `cache.warm`: copies the L2 entries matching `pattern` into L1. Returns how many.
    public func warm(_ pattern: GlobPattern) -> EventLoopFuture<Int> {
        onLoop {
            let redisPattern = RedisClient.globEscaped(self.configuration.prefix) + pattern.pattern
            let prefixLength = self.configuration.prefix.utf8.count
            let read = self.core.withValue { $0.reads.begin(.pattern(pattern)) }
            return self.callL2 { redis -> [(String, [UInt8], Int?)] in
                var entries: [(String, [UInt8], Int?)] = []
                for redisKey in try await redis.scan(pattern: redisPattern) {
                    guard let (value, ttl) = try await redis.getWithTTL(redisKey) else { continue }
                    entries.append((String(decoding: redisKey.utf8.dropFirst(prefixLength), as: UTF8.self), value, ttl))
                }
                return entries
            }.map { entries in
                let now = self.clock.monotonicMilliseconds()
                return self.core.withValue { core in
                    defer { core.reads.end(read) }
                    var loaded = 0
                    for (key, bytes, ttl) in entries ?? [] {
                        guard core.reads.mayFill(read, key: key), let value = try? JSONParser.parse(bytes: bytes) else { continue }
                        let cacheTTL: CacheTTL = ttl.map { .milliseconds(Int64($0)) } ?? .never
                        if case .stored = core.l1.set(key, value: value, encoded: bytes, ttl: cacheTTL, origin: .l2, now: now) {
                            loaded += 1
                        }
                    }
                    return loaded
                }
            }
        }
    }

    // MARK: - Single flight

    /// `cache.fetch`: the value on a hit; on a miss, a lease for the first caller, while later
    /// callers for the key wait (up to `leaseMilliseconds`) for the holder's value, or for the
    /// lease when the holder's expires or its connection closes. A waiter whose time runs out
    /// fails with `-32003`.
    public func fetch(_ key: String, leaseMilliseconds: Int64, connectionID: UInt64) -> EventLoopFuture<FetchResult> {
        get(key).flatMap { lookup in
            if let lookup { return self.eventLoop.makeSucceededFuture(.hit(lookup.value)) }
            let now = self.clock.monotonicMilliseconds()
            let acquisition = self.core.withValue { core in
                core.leases.acquire(
                    key: key, connectionID: connectionID, leaseDuration: leaseMilliseconds,
                    waitDeadline: now + leaseMilliseconds, now: now)
            }
            switch acquisition {
            case .granted(let lease):
                self.rescheduleLeaseTimer()
                return self.eventLoop.makeSucceededFuture(.lease(lease.token))
            case .wait(let waiter):
                let promise = self.eventLoop.makePromise(of: FetchResult.self)
                self.core.withValue { $0.waiters[waiter] = promise }
                self.rescheduleLeaseTimer()
                return promise.futureResult
            }
        }
    }

    /// `cache.release`: the holder of `key`'s lease gives it up without a value (its
    /// computation failed), so the oldest waiter gets the lease now rather than when it expires.
    /// - Returns: whether `token` was the key's lease.
    public func release(_ key: String, token: String) -> EventLoopFuture<Bool> {
        onLoop {
            let actions = self.core.withValue { core in
                core.leases.release(key: key, token: token, now: self.clock.monotonicMilliseconds())
            }
            guard let actions else { return self.eventLoop.makeSucceededFuture(false) }
            self.perform(actions)
            self.rescheduleLeaseTimer()
            return self.eventLoop.makeSucceededFuture(true)
        }
    }

    /// Passes on the leases held by a closed connection and forgets its waiters.
    public func connectionClosed(_ connectionID: UInt64) {
        eventLoop.execute {
            let actions = self.core.withValue { core -> [LeaseTable.Action] in
                guard core.leases.leaseCount > 0 else { return [] }
                return core.leases.releaseLeases(ownedBy: connectionID, now: self.clock.monotonicMilliseconds())
            }
            self.perform(actions)
        }
    }

    private func perform(_ actions: [LeaseTable.Action]) {
        guard !actions.isEmpty else { return }
        for action in actions {
            let (waiter, outcome): (LeaseTable.WaiterID, Result<FetchResult, any Error>)
            switch action {
            case .grant(let lease, let to):
                (waiter, outcome) = (to, .success(.lease(lease.token)))
            case .timeOut(let id):
                (waiter, outcome) = (id, .failure(RPCError(code: .timedOut, message: "Timed out: no value and no lease for the key within the lease time")))
            case .cancel(let id):
                (waiter, outcome) = (id, .failure(RPCError(code: .cancelled, message: "Cancelled: the connection closed")))
            }
            let promise = core.withValue { $0.waiters.removeValue(forKey: waiter) }
            promise?.completeWith(outcome)
        }
        rescheduleLeaseTimer()
    }

    private func resume(_ waiters: [LeaseTable.WaiterID], with result: FetchResult) {
        for waiter in waiters {
            core.withValue { $0.waiters.removeValue(forKey: waiter) }?.succeed(result)
        }
    }

    /// Keeps one timer at the lease table's next deadline.
    private func rescheduleLeaseTimer() {
        let now = clock.monotonicMilliseconds()
        core.withValue { core in
            guard let deadline = core.leases.nextDeadline else {
                core.leaseTimer?.cancel()
                core.leaseTimer = nil
                core.leaseTimerDeadline = nil
                return
            }
            if let scheduled = core.leaseTimerDeadline, scheduled <= deadline { return }
            core.leaseTimer?.cancel()
            core.leaseTimerDeadline = deadline
            core.leaseTimer = eventLoop.scheduleTask(in: .milliseconds(max(0, deadline - now))) {
                let actions = self.core.withValue { core -> [LeaseTable.Action] in
                    core.leaseTimer = nil
                    core.leaseTimerDeadline = nil
                    return core.leases.expire(now: self.clock.monotonicMilliseconds())
                }
                self.perform(actions)
                self.rescheduleLeaseTimer()
            }
        }
    }

    // MARK: - Statistics

    /// `cache.stats`.
    public func statistics() -> EventLoopFuture<JSONValue> {
        onLoop {
            let (l1, l2, breaker) = self.core.withValue { core in
                return (core.l1.statistics, core.l2, core.breaker)
            }
            let openedAt: JSONValue = breaker.openedAt.map {
                .string(Date(timeIntervalSince1970: Double($0) / 1000).formatted(Self.timestampStyle))
            } ?? .null
            return self.eventLoop.makeSucceededFuture([
                "l1": l1.jsonValue,
                "l2": l2.jsonValue(enabled: self.redis != nil),
                "breaker": [
                    "state": .string(breaker.state.rawValue),
                    "consecutiveFailures": .int(Int64(breaker.consecutiveFailures)),
                    "openedAt": openedAt,
                    "trips": .int(Int64(breaker.trips)),
                ],
            ])
        }
    }

    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    // MARK: - L2

    /// Runs `body` against Redis unless the breaker says to skip it; records the outcome in the
    /// breaker and the statistics. The future holds `nil` when L2 was skipped or failed.
    private func callL2<T: Sendable>(_ body: @escaping @Sendable (RedisClient) async throws -> T) -> EventLoopFuture<T?> {
        guard let redis else { return eventLoop.makeSucceededFuture(nil) }
        let admission = core.withValue { $0.breaker.admit(now: clock.monotonicMilliseconds()) }
        guard admission != .skip else { return eventLoop.makeSucceededFuture(nil) }
        let promise = eventLoop.makePromise(of: Result<T, any Error>.self)
        promise.completeWithTask {
            do {
                return .success(try await body(redis))
            } catch {
                return .failure(error)
            }
        }
        return promise.futureResult.map { outcome in
            let now = self.clock.monotonicMilliseconds()
            switch outcome {
            case .success(let value):
                let transition = self.core.withValue { $0.breaker.recordSuccess(of: admission, now: now) }
                if let transition { self.breakerChanged(transition) }
                return value
            case .failure(let error):
                let wall = self.clock.wallMilliseconds()
                let transition = self.core.withValue { core in
                    core.l2.errors += 1
                    if let error = error as? RedisError, error == .timedOut { core.l2.timeouts += 1 }
                    return core.breaker.recordFailure(of: admission, now: now, wallTime: wall)
                }
                if let transition { self.breakerChanged(transition) }
                return nil
            }
        }
    }

    /// Writes `command` and publishes `message` in one round trip. Returns whether it was written.
    private func writeL2(_ command: [[UInt8]], publishing message: InvalidationMessage.Operation) -> EventLoopFuture<Bool> {
        callL2 { redis in
            let replies = try await redis.pipeline([command, self.publishCommand(message)])
            if case .error(let text)? = replies.first { throw RedisError.server(text) }
            return true
        }.map { $0 ?? false }
    }

    private func publishCommand(_ operation: InvalidationMessage.Operation) -> [[UInt8]] {
        [Array("PUBLISH".utf8), Array(configuration.invalidationChannel.utf8),
         InvalidationMessage(sender: instanceID, operation: operation).bytes]
    }

    private func breakerChanged(_ transition: CircuitBreaker.Transition) {
        switch transition {
        case .opened, .reopened:
            logger.warning("Redis failing; the cache serves from L1 (breaker \(transition))", metadata: ["redis": "\(configuration.redis.map { "\($0)" } ?? "")"])
        case .closed:
            // Invalidations published while Redis was away never reached this daemon.
            let dropped = core.withValue { $0.l1.removeEntries(from: .l2) }
            logger.notice("Redis is back; the cache uses L2 again (breaker \(transition))", metadata: ["droppedL1EntriesFromL2": "\(dropped)"])
        }
    }

    /// Applies the other daemons' invalidations until the subscriber stops.
    private func listen(to subscriber: RedisSubscriber) async {
        var wasDisconnected = false
        for await event in subscriber.events {
            switch event {
            case .message(let bytes):
                guard let message = InvalidationMessage(bytes: bytes), message.sender != instanceID else { continue }
                eventLoop.execute { self.apply(message.operation) }
            case .disconnected:
                wasDisconnected = true
            case .connected:
                guard wasDisconnected else { continue }
                wasDisconnected = false
                eventLoop.execute {
                    let dropped = self.core.withValue { $0.l1.removeEntries(from: .l2) }
                    self.logger.notice("invalidation channel reconnected; dropped L1 entries that came from L2", metadata: ["dropped": "\(dropped)"])
                }
            }
        }
    }

    private func apply(_ operation: InvalidationMessage.Operation) {
        let now = clock.monotonicMilliseconds()
        core.withValue { core in
            switch operation {
            case .key(let key):
                core.reads.touch(key: key)
                _ = core.l1.remove(key, now: now)
            case .pattern(let pattern):
                core.reads.touch(matching: pattern)
                _ = core.l1.removeMatching(pattern, now: now)
            case .clear:
                core.reads.touchAll()
                core.l1.removeAll()
            }
        }
    }

    /// Sweeps expired L1 entries every second, a bounded number at a time.
    private func scheduleSweep() {
        eventLoop.execute {
            _ = self.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                self.core.withValue { core in
                    _ = core.l1.purgeExpired(now: self.clock.monotonicMilliseconds(), scanLimit: 1000)
                }
            }
        }
    }

    // MARK: - Helpers

    /// Runs `body` on ``eventLoop``: at once when already there, else after what is queued there.
    func onLoop<T: Sendable>(_ body: @escaping @Sendable () throws -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        eventLoop.onLoop(body)
    }
}

/// Where a `cache.get` was answered from.
public enum CacheTier: String, Sendable {
    case l1
    case l2
}

/// What the owner loop holds.
private struct Core: Sendable {
    var l1: LRUCache
    var breaker: CircuitBreaker
    var leases = LeaseTable()
    /// Redis reads in flight, so that one that a write overtook does not fill L1.
    var reads = L2ReadGuard()
    var l2 = L2Statistics()
    /// Parked `cache.fetch` callers.
    var waiters: [LeaseTable.WaiterID: EventLoopPromise<CacheService.FetchResult>] = [:]
    var leaseTimer: Scheduled<Void>?
    var leaseTimerDeadline: Int64?
}
