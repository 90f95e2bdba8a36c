import Collections
import SidecarProtocol

/// Single flight for `cache.fetch`: on a miss the first caller gets a lease (the right to
/// compute the value and set it), the others wait for that value instead of all computing it.
///
/// A value-type state machine with no clock and no continuations: it decides, and its owner
/// (the cache actor) keeps the waiting callers' continuations by ``WaiterID`` and carries out
/// the returned decisions.
///
/// ```swift
/// switch table.acquire(key: "report:7", connectionID: 3, leaseDuration: 5_000, waitDeadline: nil, now: now) {
/// case .granted(let lease): return ["hit": false, "lease": .string(lease.token)]  // caller computes
/// case .wait(let waiter):   return try await parked(waiter)                    // continuation by id
/// }
/// // later, the holder's cache.set {key, value, lease}:
/// switch table.complete(key: "report:7", token: token, now: now) {
/// case .accepted(let waiters): resume(waiters, with: value)
/// case .rejected(let rejection): throw rejection.rpcError                     // -32005
/// }
/// ```
///
/// The owner's duties:
/// - keep one timer at ``nextDeadline`` and call ``expire(now:)`` when it passes: that is where
///   expired leases pass to the next waiter and waiters past their own deadline time out;
/// - call ``releaseLeases(ownedBy:now:)`` when a connection closes;
/// - carry out every returned ``Action`` (each names a waiter to resume).
///
/// Keys are compared by their UTF-8 bytes, like the cache's. The work per call is proportional
/// to the keys under lease (few: one per concurrent miss), not to the cache size.
public struct LeaseTable: Sendable {
    /// One waiting caller, issued by ``acquire(key:connectionID:leaseDuration:waitDeadline:now:)``.
    public struct WaiterID: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt64
        public var description: String { "waiter \(rawValue)" }
    }

    /// The right to compute a key's value and set it, until `expiresAt`.
    public struct Lease: Hashable, Sendable {
        public var key: String
        /// Opaque to clients: they send it back with `cache.set`.
        public var token: String
        /// The connection that holds the lease; closing it passes the lease on.
        public var connectionID: UInt64
        /// Monotonic milliseconds.
        public var expiresAt: Int64

        public init(key: String, token: String, connectionID: UInt64, expiresAt: Int64) {
            self.key = key
            self.token = token
            self.connectionID = connectionID
            self.expiresAt = expiresAt
        }
    }

    /// What a caller that missed should do.
    public enum Acquisition: Hashable, Sendable {
        /// Compute the value and set it with `lease.token`.
        case granted(Lease)
        /// Someone else holds the lease: park the caller under this id until an ``Action``
        /// or ``Completion`` names it.
        case wait(WaiterID)
    }

    /// Something the owner must do for a waiter.
    public enum Action: Hashable, Sendable {
        /// The waiter now holds the lease (the previous holder's lease expired or its connection
        /// closed): answer its fetch as a miss with this lease.
        case grant(Lease, to: WaiterID)
        /// The waiter's own deadline passed: answer it with a timeout.
        case timeOut(WaiterID)
        /// The waiter's connection closed: drop its continuation.
        case cancel(WaiterID)
    }

    /// Why a set with a lease token was refused; the owner answers `-32005` with ``rpcError``.
    public enum Rejection: RPCErrorConvertible, Hashable, Sendable, CustomStringConvertible {
        /// No lease is held on the key (it was never leased, its value was already set, or the
        /// lease expired with nobody waiting).
        case noLease(key: String)
        /// The lease on the key has a different token: this one expired and passed to another caller.
        case superseded(key: String)
        /// The token is the key's current lease, but it expired at `expiredAt` (monotonic ms).
        case expired(key: String, expiredAt: Int64)

        public var description: String {
            switch self {
            case .noLease(let key):
                return "no lease is held on key '\(key)'; fetch it again to get a lease"
            case .superseded(let key):
                return "the lease on key '\(key)' expired and passed to another caller; fetch it again"
            case .expired(let key, _):
                return "the lease on key '\(key)' has expired; fetch it again to get a new lease"
            }
        }

        /// `-32005 Conflict`, with the key in `data`.
        public var rpcError: RPCError {
            let key: String
            switch self {
            case .noLease(let k), .superseded(let k), .expired(let k, _): key = k
            }
            return RPCError(code: .conflict, message: "Conflict: \(description)", data: ["key": .string(key)])
        }
    }

    /// What ``complete(key:token:now:)`` decided.
    public enum Completion: Hashable, Sendable {
        /// The value may be stored; resume these waiters with it (oldest first).
        case accepted(waiters: [WaiterID])
        case rejected(Rejection)
    }

    private struct Waiter: Sendable {
        var id: WaiterID
        var connectionID: UInt64
        var leaseDuration: Int64
        var deadline: Int64?
    }

    private struct Entry: Sendable {
        var lease: Lease
        var waiters: Deque<Waiter> = []
    }

    private var entries: [ExactKey: Entry] = [:]
    private var nextWaiterID: UInt64 = 1
    private var nextTokenNumber: UInt64 = 1
    private let tokenPrefix: String

    /// - Parameter tokenPrefix: starts every token; by default a random one per table, so that a
    ///   token from an earlier daemon run never matches. Tests pass a fixed one.
    public init(tokenPrefix: String? = nil) {
        self.tokenPrefix = tokenPrefix ?? "l\(String(UInt64.random(in: 0...UInt64(UInt32.max)), radix: 16))-"
    }

    // MARK: - Reading

    /// The lease held on `key`, expired or not.
    public func lease(for key: String) -> Lease? {
        entries[ExactKey(key)]?.lease
    }

    /// Keys under lease.
    public var leaseCount: Int { entries.count }

    /// Callers waiting, over all keys.
    public var waiterCount: Int { entries.values.reduce(0) { $0 + $1.waiters.count } }

    /// The earliest time at which ``expire(now:)`` has something to do (a lease expiry or a
    /// waiter's deadline), in monotonic milliseconds; `nil` when nothing is pending.
    public var nextDeadline: Int64? {
        var earliest: Int64?
        for entry in entries.values {
            earliest = min(earliest ?? entry.lease.expiresAt, entry.lease.expiresAt)
            for waiter in entry.waiters {
                if let deadline = waiter.deadline { earliest = min(earliest ?? deadline, deadline) }
            }
        }
        return earliest
    }

    // MARK: - Leasing

    /// Called on a miss: grants the lease on `key` if nobody holds it (or its holder's lease
    /// has expired and nobody is waiting), otherwise queues the caller behind the holder.
    ///
    /// A caller queued behind an expired lease gets it through ``expire(now:)``, oldest waiter
    /// first, which is due at once (``nextDeadline`` is already past).
    /// - Parameters:
    ///   - key: the cache key.
    ///   - connectionID: the caller's connection.
    ///   - leaseDuration: milliseconds the lease is valid, from when it is granted.
    ///   - waitDeadline: monotonic milliseconds after which a waiting caller times out; `nil`
    ///     to wait until a value arrives or the lease passes to it.
    ///   - now: monotonic milliseconds.
    public mutating func acquire(
        key: String,
        connectionID: UInt64,
        leaseDuration: Int64,
        waitDeadline: Int64?,
        now: Int64
    ) -> Acquisition {
        let exactKey = ExactKey(key)
        if let entry = entries[exactKey], entry.lease.expiresAt > now || !entry.waiters.isEmpty {
            let id = makeWaiterID()
            let waiter = Waiter(id: id, connectionID: connectionID, leaseDuration: leaseDuration, deadline: waitDeadline)
            entries[exactKey]?.waiters.append(waiter)
            return .wait(id)
        }
        let lease = makeLease(key: key, connectionID: connectionID, duration: leaseDuration, now: now)
        entries[exactKey] = Entry(lease: lease)
        return .granted(lease)
    }

    /// The lease holder's set: accepted if `token` is the key's lease and it has not expired.
    /// Accepting ends the lease; the returned waiters are to be resumed with the value.
    public mutating func complete(key: String, token: String, now: Int64) -> Completion {
        let exactKey = ExactKey(key)
        guard let entry = entries[exactKey] else { return .rejected(.noLease(key: key)) }
        guard entry.lease.token == token else { return .rejected(.superseded(key: key)) }
        guard entry.lease.expiresAt > now else {
            return .rejected(.expired(key: key, expiredAt: entry.lease.expiresAt))
        }
        entries.removeValue(forKey: exactKey)
        return .accepted(waiters: entry.waiters.map(\.id))
    }

    /// A value for `key` arrived another way (a plain `cache.set`): ends any lease on it,
    /// whoever holds it.
    /// - Returns: the waiters to resume with the value, oldest first.
    public mutating func resolve(key: String) -> [WaiterID] {
        guard let entry = entries.removeValue(forKey: ExactKey(key)) else { return [] }
        return entry.waiters.map(\.id)
    }

    /// The holder gives its lease up without a value (its computation failed): the lease passes
    /// to the oldest waiter at once.
    /// - Returns: what to do for the waiters; `nil`, with nothing done, unless `token` is the
    ///   key's lease.
    public mutating func release(key: String, token: String, now: Int64) -> [Action]? {
        let exactKey = ExactKey(key)
        guard var entry = entries[exactKey], entry.lease.token == token else { return nil }
        var actions: [Action] = []
        passLease(of: &entry, key: exactKey, now: now, actions: &actions)
        return actions
    }

    /// A waiting caller went away (its request was cancelled or timed out on the owner's side).
    /// - Returns: whether it was waiting.
    @discardableResult
    public mutating func cancelWaiter(_ id: WaiterID) -> Bool {
        for (key, entry) in entries {
            guard let position = entry.waiters.firstIndex(where: { $0.id == id }) else { continue }
            entries[key]?.waiters.remove(at: position)
            return true
        }
        return false
    }

    // MARK: - Time and connections

    /// Times out waiters whose deadline has passed, then passes each expired lease to the oldest
    /// remaining waiter of its key (or forgets the key if none is left).
    /// - Returns: what to do for each affected waiter; within a key, in queue order.
    public mutating func expire(now: Int64) -> [Action] {
        var actions: [Action] = []
        for key in Array(entries.keys) {
            guard var entry = entries[key] else { continue }
            let before = entry.waiters.count
            entry.waiters.removeAll { waiter in
                guard let deadline = waiter.deadline, deadline <= now else { return false }
                actions.append(.timeOut(waiter.id))
                return true
            }
            if entry.lease.expiresAt <= now {
                passLease(of: &entry, key: key, now: now, actions: &actions)
            } else if entry.waiters.count != before {
                entries[key] = entry
            }
        }
        return actions
    }

    /// A connection closed: its waiters are cancelled and every lease it holds passes to the
    /// oldest waiter of that key (or the key is forgotten if none is left).
    public mutating func releaseLeases(ownedBy connectionID: UInt64, now: Int64) -> [Action] {
        var actions: [Action] = []
        for key in Array(entries.keys) {
            guard var entry = entries[key] else { continue }
            let before = entry.waiters.count
            entry.waiters.removeAll { waiter in
                guard waiter.connectionID == connectionID else { return false }
                actions.append(.cancel(waiter.id))
                return true
            }
            if entry.lease.connectionID == connectionID {
                passLease(of: &entry, key: key, now: now, actions: &actions)
            } else if entry.waiters.count != before {
                entries[key] = entry
            }
        }
        return actions
    }

    // MARK: - Helpers

    /// Gives `entry`'s lease to its oldest waiter, or forgets the key when nobody waits.
    private mutating func passLease(of entry: inout Entry, key: ExactKey, now: Int64, actions: inout [Action]) {
        guard let next = entry.waiters.popFirst() else {
            entries.removeValue(forKey: key)
            return
        }
        entry.lease = makeLease(key: key.string, connectionID: next.connectionID, duration: next.leaseDuration, now: now)
        entries[key] = entry
        actions.append(.grant(entry.lease, to: next.id))
    }

    private mutating func makeLease(key: String, connectionID: UInt64, duration: Int64, now: Int64) -> Lease {
        let token = tokenPrefix + String(nextTokenNumber)
        nextTokenNumber += 1
        let (sum, overflow) = now.addingReportingOverflow(max(0, duration))
        return Lease(key: key, token: token, connectionID: connectionID, expiresAt: overflow ? .max : sum)
    }

    private mutating func makeWaiterID() -> WaiterID {
        defer { nextWaiterID += 1 }
        return WaiterID(rawValue: nextWaiterID)
    }
}
