/// The send times of a connection's outstanding requests, oldest first: a fixed ring, since a
/// connection never has more than `depth` requests in flight. Times are monotonic nanoseconds.
struct SendTimestampQueue {
    private var storage: [UInt64]
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        storage = Array(repeating: 0, count: max(capacity, 1))
    }

    var capacity: Int { storage.count }

    /// Appends the send time of a new request.
    /// - Returns: `false` when the queue is full (more requests in flight than its capacity).
    @discardableResult
    mutating func push(_ nanoseconds: UInt64) -> Bool {
        guard count < storage.count else { return false }
        var tail = head + count
        if tail >= storage.count { tail -= storage.count }
        storage[tail] = nanoseconds
        count += 1
        return true
    }

    /// Removes and returns the oldest send time, or `nil` when nothing is outstanding.
    mutating func pop() -> UInt64? {
        guard count > 0 else { return nil }
        let value = storage[head]
        head += 1
        if head == storage.count { head = 0 }
        count -= 1
        return value
    }
}
