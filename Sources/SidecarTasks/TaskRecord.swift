import SidecarProtocol

/// One task, as stored and as `tasks.get` returns it.
public struct TaskRecord: Sendable {
    /// Unique, and sorting by it sorts by submission (see ``TaskIDGenerator``).
    public var id: String
    /// What to run: `exec`, `sidecar.noop`, or a kind that external workers claim.
    public var kind: String
    public var payload: JSONValue
    public var priority: TaskPriority
    public var status: TaskStatus
    /// Runs started so far (the first run is attempt 1).
    public var attempt: Int
    /// Runs after the first failure; a task runs at most `maxRetries + 1` times.
    public var maxRetries: Int
    /// Seconds one run may take.
    public var timeout: Double
    public var backoff: Backoff
    /// When the task may run next (Unix milliseconds).
    public var runAt: Int64
    public var createdAt: Int64
    public var startedAt: Int64?
    public var finishedAt: Int64?
    public var result: JSONValue?
    /// The last failure's message.
    public var error: String?
    /// One entry per failed attempt: `{attempt, at, message}`.
    public var errors: [JSONValue]
    /// `{fraction, message}` as last reported by the worker.
    public var progress: JSONValue?
    public var idempotencyKey: String?
    /// The schedule that created the task, if any.
    public var schedule: String?

    /// The task as the `tasks.*` methods return it; times are RFC 3339.
    public var jsonValue: JSONValue {
        var object: JSONObject = [
            "id": .string(id), "kind": .string(kind), "payload": payload,
            "priority": .string(priority.rawValue), "status": .string(status.rawValue),
            "attempt": .int(Int64(attempt)), "maxRetries": .int(Int64(maxRetries)),
            "timeout": timeout.rounded() == timeout ? .int(Int64(timeout)) : .double(timeout), "backoff": backoff.jsonValue,
            "runAt": Self.time(runAt), "createdAt": Self.time(createdAt),
            "startedAt": startedAt.map(Self.time) ?? .null, "finishedAt": finishedAt.map(Self.time) ?? .null,
            "result": result ?? .null, "error": error.map(JSONValue.string) ?? .null,
            "errors": .array(errors), "progress": progress ?? .null,
            "idempotencyKey": idempotencyKey.map(JSONValue.string) ?? .null,
        ]
        if let schedule { object["schedule"] = .string(schedule) }
        return .object(object)
    }

    static func time(_ milliseconds: Int64) -> JSONValue {
        .string(RFC3339.string(fromUnixMilliseconds: milliseconds))
    }

    /// Records a failed attempt.
    mutating func recordFailure(_ message: String, at now: Int64) {
        error = message
        errors.append(["attempt": .int(Int64(attempt)), "at": Self.time(now), "message": .string(message)])
    }
}

/// Makes task ids that sort by creation: 12 hex digits of Unix milliseconds, then 4 of a
/// counter within the millisecond (`t0192f3a4b5c60001`).
struct TaskIDGenerator: Sendable {
    private var lastMilliseconds: Int64 = 0
    private var counter: Int64 = 0

    mutating func next(now: Int64) -> String {
        if now > lastMilliseconds {
            lastMilliseconds = now
            counter = 0
        } else {
            // The same millisecond, or the clock went back: keep the order by counting on.
            counter += 1
            if counter > 0xFFFF {
                lastMilliseconds += 1
                counter = 0
            }
        }
        let time = String(lastMilliseconds, radix: 16)
        let sequence = String(counter, radix: 16)
        return "t" + String(repeating: "0", count: max(0, 12 - time.count)) + time
            + String(repeating: "0", count: max(0, 4 - sequence.count)) + sequence
    }

    /// Continues after the newest id already stored, so ids keep growing across restarts.
    mutating func resume(after id: String) {
        guard id.count == 17, let time = Int64(id.dropFirst().prefix(12), radix: 16),
            let sequence = Int64(id.suffix(4), radix: 16)
        else { return }
        lastMilliseconds = max(lastMilliseconds, time)
        counter = sequence
    }
}
