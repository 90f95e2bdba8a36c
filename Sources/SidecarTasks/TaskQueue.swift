import HeapModule

/// The order in which waiting tasks run, as a value: ready tasks per kind, highest priority
/// first, then earliest `runAt`, then oldest (smallest id); and delayed tasks by `runAt`.
///
/// Removal is lazy: a cancelled task stays in its heap until it reaches the top, where the
/// owner skips it because it no longer holds it as queued.
struct TaskQueue: Sendable {
    struct ReadyEntry: Comparable, Sendable {
        var rank: Int
        var runAt: Int64
        var id: String

        /// "Less" is "runs first", so a min-heap pops the next task.
        static func < (lhs: ReadyEntry, rhs: ReadyEntry) -> Bool {
            if lhs.rank != rhs.rank { return lhs.rank > rhs.rank }
            if lhs.runAt != rhs.runAt { return lhs.runAt < rhs.runAt }
            return lhs.id < rhs.id
        }
    }

    struct DelayedEntry: Comparable, Sendable {
        var runAt: Int64
        var id: String

        static func < (lhs: DelayedEntry, rhs: DelayedEntry) -> Bool {
            lhs.runAt != rhs.runAt ? lhs.runAt < rhs.runAt : lhs.id < rhs.id
        }
    }

    private var ready: [String: Heap<ReadyEntry>] = [:]
    private var delayed = Heap<DelayedEntry>()

    /// Makes `task` ready to run, at its own priority or, once aged, at `rank`.
    mutating func enqueue(_ task: TaskRecord, rank: Int? = nil) {
        ready[task.kind, default: Heap()].insert(ReadyEntry(rank: rank ?? task.priority.rank, runAt: task.runAt, id: task.id))
    }

    /// Holds `task` until its `runAt`.
    mutating func delay(_ task: TaskRecord) {
        delayed.insert(DelayedEntry(runAt: task.runAt, id: task.id))
    }

    /// Removes and returns the next entry among `kinds` (all kinds when `nil`), or `nil`.
    /// The entry may be stale (its task cancelled meanwhile): the caller checks and asks again.
    mutating func popReady(kinds: Set<String>?) -> (id: String, rank: Int)? {
        var best: (kind: String, entry: ReadyEntry)?
        for (kind, heap) in ready where kinds?.contains(kind) ?? true {
            guard let top = heap.min else { continue }
            if let current = best, !(top < current.entry) { continue }
            best = (kind, top)
        }
        guard let best else { return nil }
        ready[best.kind]?.removeMin()
        if ready[best.kind]?.isEmpty == true { ready[best.kind] = nil }
        return (best.entry.id, best.entry.rank)
    }

    /// Whether a ready task of one of `kinds` is waiting (may count stale entries).
    func hasReady(kinds: Set<String>?) -> Bool {
        ready.contains { kind, heap in (kinds?.contains(kind) ?? true) && !heap.isEmpty }
    }

    /// The ids whose `runAt` has come, in `runAt` order.
    mutating func popDue(now: Int64) -> [String] {
        var due: [String] = []
        while let top = delayed.min, top.runAt <= now {
            due.append(top.id)
            delayed.removeMin()
        }
        return due
    }

    /// When the next delayed task is due.
    var nextDue: Int64? { delayed.min?.runAt }
}
