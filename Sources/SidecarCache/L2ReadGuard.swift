/// Keeps a Redis read from putting into L1 a value that became stale while the read was in flight.
///
/// Reading L2 takes a round trip, and Redis may run the read before a write that this daemon
/// (or another one) made meanwhile. If the key was set, deleted or invalidated here, or an
/// invalidation for it arrived, after the read began, what the read returns may be older
/// than what L1 must hold. The read still answers its caller (it is what Redis held when it
/// ran), but it fills L1 only when nothing touched its keys since it began.
///
/// ```swift
/// let read = reads.begin(.key("user:1"))
/// // … GET user:1 …; meanwhile cache.set user:1 calls reads.touch(key: "user:1")
/// if reads.mayFill(read, key: "user:1") { l1.set(…) }  // false: the set came after
/// reads.end(read)
/// ```
struct L2ReadGuard {
    /// What a read covers: one key (`cache.get`), or the keys of a pattern (`cache.warm`).
    enum Scope {
        case key(String)
        case pattern(GlobPattern)
    }

    /// A read's ticket.
    struct Read: Hashable {
        fileprivate let number: UInt64
    }

    private struct InFlight {
        var scope: Scope
        /// Every key of the scope was touched (or the cache cleared).
        var isStale = false
        /// Keys of a pattern scope that were touched.
        var touchedKeys: Set<ExactKey> = []
    }

    private var reads: [UInt64: InFlight] = [:]
    private var nextNumber: UInt64 = 0

    /// The reads in flight.
    var count: Int { reads.count }

    /// Starts tracking a read of `scope`.
    mutating func begin(_ scope: Scope) -> Read {
        nextNumber += 1
        reads[nextNumber] = InFlight(scope: scope)
        return Read(number: nextNumber)
    }

    /// `key` was set, deleted or invalidated.
    mutating func touch(key: String) {
        guard !reads.isEmpty else { return }
        for (number, var read) in reads {
            switch read.scope {
            case .key(let scoped):
                guard ExactKey(scoped) == ExactKey(key) else { continue }
                read.isStale = true
            case .pattern(let pattern):
                guard pattern.matches(key) else { continue }
                read.touchedKeys.insert(ExactKey(key))
            }
            reads[number] = read
        }
    }

    /// The keys matching `pattern` were invalidated. A pattern read is taken as wholly stale
    /// (whether two patterns share a key is not worth working out for a rare warm-up).
    mutating func touch(matching pattern: GlobPattern) {
        guard !reads.isEmpty else { return }
        for (number, var read) in reads {
            if case .key(let key) = read.scope, !pattern.matches(key) { continue }
            read.isStale = true
            reads[number] = read
        }
    }

    /// Every key was removed (`cache.clear`).
    mutating func touchAll() {
        for number in reads.keys { reads[number]?.isStale = true }
    }

    /// Whether the read may fill L1 with what it read for `key`; the read stays tracked.
    func mayFill(_ read: Read, key: String) -> Bool {
        guard let inFlight = reads[read.number] else { return false }
        return !inFlight.isStale && !inFlight.touchedKeys.contains(ExactKey(key))
    }

    /// Stops tracking `read`.
    mutating func end(_ read: Read) {
        reads[read.number] = nil
    }
}
