import Foundation
import SidecarProtocol

/// A statement that ran for at least the slow-query threshold.
public struct SlowQuery: Sendable, Equatable {
    /// The SQL as prepared, with `?` placeholders: argument values never reach the log.
    public var sql: String
    /// How long SQLite reports the statement ran.
    public var duration: Duration
    /// When it finished (wall clock).
    public var at: Date

    public init(sql: String, duration: Duration, at: Date) {
        self.sql = sql
        self.duration = duration
        self.at = at
    }

    /// `{"sql", "durationMs", "at"}`, `at` in ISO 8601 UTC with milliseconds.
    public var json: JSONValue {
        [
            "sql": .string(sql),
            "durationMs": .double(duration.milliseconds),
            "at": .string(at.formatted(Self.timestampStyle)),
        ]
    }

    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}

/// The most recent slow queries, a fixed-capacity ring: the oldest entry makes room for
/// the newest, so the log costs the same memory however many slow statements run.
struct SlowQueryLog: Sendable {
    let capacity: Int
    private var storage: [SlowQuery] = []
    /// Where the next entry goes once the ring is full (it is also the oldest entry).
    private var next = 0

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        storage.reserveCapacity(self.capacity)
    }

    mutating func append(_ entry: SlowQuery) {
        guard capacity > 0 else { return }
        if storage.count < capacity {
            storage.append(entry)
        } else {
            storage[next] = entry
            next = (next + 1) % capacity
        }
    }

    /// The entries, oldest first.
    var entries: [SlowQuery] {
        Array(storage[next...] + storage[..<next])
    }
}
