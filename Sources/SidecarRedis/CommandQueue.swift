import Foundation

/// The pipelines callers of a ``RedisClient`` have handed over, in arrival order, until a
/// connection thread takes them. Callers never block on it; connection threads wait on it.
final class CommandQueue: @unchecked Sendable {
    /// One caller's pipeline and the continuation that resumes it.
    struct Entry {
        var commands: [[[UInt8]]]
        /// When the caller handed it over: a pipeline that waited longer than the timeout is
        /// failed without being sent, so that a hung Redis costs each caller about one timeout.
        var enqueuedAt: ContinuousClock.Instant
        var continuation: CheckedContinuation<Result<[RedisReply], RedisError>, Never>
    }

    // All below guarded by `condition`.
    private let condition = NSCondition()
    private var entries: [Entry] = []
    private var head = 0
    private var isClosed = false

    /// Adds `entry`; returns `false` (and keeps nothing) once the queue is closed.
    func push(_ entry: Entry) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !isClosed else { return false }
        entries.append(entry)
        condition.signal()
        return true
    }

    /// The oldest entry, waiting (blocking the calling thread) for one; `nil` once the queue is closed.
    func pop() -> Entry? {
        condition.lock()
        defer { condition.unlock() }
        while !isClosed && head == entries.count {
            condition.wait()
        }
        guard !isClosed else { return nil }
        let entry = entries[head]
        head += 1
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 {
            entries.removeFirst(head)
            head = 0
        }
        return entry
    }

    /// Closes the queue and wakes every waiting thread.
    /// - Returns: the entries no thread took; the caller fails them.
    func close() -> [Entry] {
        condition.lock()
        defer { condition.unlock() }
        guard !isClosed else { return [] }
        isClosed = true
        let pending = Array(entries[head...])
        entries = []
        head = 0
        condition.broadcast()
        return pending
    }
}
