import Foundation
import SidecarProtocol

extension SidecarClient {
    /// The daemon's durable task scheduler: typed `tasks.*` calls, and ``TasksAPI/work(kinds:concurrency:lease:_:)``
    /// to run tasks of your own kinds in this process.
    ///
    /// ```swift
    /// let (id, _) = try await client.tasks.submit(kind: "exec", payload: ["argv": ["make", "-C", "docs"]])
    /// let task = try await client.tasks.wait(id, timeout: .seconds(120))
    /// print(task.status, task.result?["stdout"] ?? "")      // succeeded "…"
    /// ```
    public nonisolated var tasks: TasksAPI { TasksAPI(client: self) }
}

/// The `tasks.*` methods of a ``SidecarClient``, reached as `client.tasks` (see PROTOCOL.md, "Tasks").
///
/// A task is a `kind` and a JSON `payload`. The daemon runs the kinds `exec` (a process:
/// `{"argv": [...], "env"?, "cwd"?, "stdin"?}`) and `sidecar.noop` (its result is its payload)
/// itself; any other kind waits for a worker that claims it, such as
/// ``work(kinds:concurrency:lease:_:)``. An invalid argument throws ``SidecarClientError/rpc(_:)``
/// with code `-32602` and `data.field` naming it (`priority`, `payload.argv`, `backoff.factor`).
public struct TasksAPI: Sendable {
    /// The client the calls go through.
    public let client: SidecarClient

    /// - Parameter client: the client the calls go through.
    public init(client: SidecarClient) {
        self.client = client
    }

    // MARK: - Submitting

    /// Submits one task; answered once it is stored, so it survives a crash of the daemon.
    ///
    /// ```swift
    /// let (id, created) = try await client.tasks.submit(
    ///     kind: "exec",
    ///     payload: ["argv": ["sh", "-c", "make -C site"]],
    ///     priority: .high,
    ///     maxRetries: 0,
    ///     timeout: .seconds(600),
    ///     idempotencyKey: "build-site"
    /// )
    /// ```
    /// - Parameters:
    ///   - kind: `exec`, `sidecar.noop`, or a kind your workers claim.
    ///   - payload: what the task works on (for `exec`: `{"argv", "env"?, "cwd"?, "stdin"?}`).
    ///   - priority: a free worker takes the highest priority first (default `normal`).
    ///   - maxRetries: runs after the first failure, 0…1000 (default 3).
    ///   - timeout: how long one run may take (default 300 s); an `exec` run that takes longer
    ///     has its process group killed.
    ///   - backoff: the delay before each retry (default 1 s doubling up to an hour, with jitter).
    ///   - delay: run no sooner than this from now. Give `delay` or `runAt`, not both.
    ///   - runAt: run no sooner than this time.
    ///   - idempotencyKey: while a task submitted with this key is unfinished, submitting
    ///     again returns that task's id with `created: false`.
    /// - Returns: the task's id, and whether this call created it.
    /// - Throws: ``SidecarClientError``; `-32602` naming an invalid field.
    @discardableResult
    public func submit(
        kind: String,
        payload: JSONValue = nil,
        priority: TaskInfo.Priority? = nil,
        maxRetries: Int? = nil,
        timeout: Duration? = nil,
        backoff: TaskBackoff? = nil,
        delay: Duration? = nil,
        runAt: Date? = nil,
        idempotencyKey: String? = nil
    ) async throws -> (id: String, created: Bool) {
        let request = TaskRequest(
            kind: kind, payload: payload, priority: priority, maxRetries: maxRetries, timeout: timeout,
            backoff: backoff, delay: delay, runAt: runAt, idempotencyKey: idempotencyKey)
        let result = try await client.call("tasks.submit", params: request.jsonValue)
        return try Self.submitted(result, method: "tasks.submit")
    }

    /// Submits several tasks in one transaction: all are stored, or none.
    ///
    /// ```swift
    /// let pages = (1...20).map { TaskRequest(kind: "render-page", payload: ["page": .int(Int64($0))]) }
    /// let submitted = try await client.tasks.submitMany(pages)
    /// print(submitted.map(\.id))
    /// ```
    /// - Parameter tasks: 1…10000 tasks.
    /// - Returns: one `(id, created)` per task, in order.
    /// - Throws: ``SidecarClientError``; `-32602` naming the field, as `tasks[3].kind`.
    @discardableResult
    public func submitMany(_ tasks: [TaskRequest], timeout: Duration? = nil) async throws -> [(id: String, created: Bool)] {
        let result = try await client.call(
            "tasks.submitMany", params: ["tasks": .array(tasks.map(\.jsonValue))], timeout: timeout)
        guard let elements = result["tasks"]?.arrayValue else {
            throw SidecarClientError.decodingFailed(method: "tasks.submitMany", reason: "result: missing array member 'tasks'")
        }
        return try elements.map { try Self.submitted($0, method: "tasks.submitMany") }
    }

    // MARK: - Reading

    /// Reads a task.
    ///
    /// ```swift
    /// let task = try await client.tasks.get(id)
    /// print(task.status, task.attempt, task.progress?.fraction ?? 0)
    /// ```
    /// - Throws: ``SidecarClientError``; `-32004` when there is no such task (or it was purged).
    public func get(_ id: String, timeout: Duration? = nil) async throws -> TaskInfo {
        try TaskInfo(json: try await client.call("tasks.get", params: ["id": .string(id)], timeout: timeout), method: "tasks.get")
    }

    /// Lists tasks in id order (oldest first), a page at a time.
    ///
    /// ```swift
    /// var after: String? = nil
    /// repeat {
    ///     let page = try await client.tasks.list(status: .failed, limit: 100, after: after)
    ///     for task in page.tasks { print(task.id, task.error ?? "") }
    ///     after = page.next
    /// } while after != nil
    /// ```
    /// - Parameters:
    ///   - status, kind, priority: only tasks that match all those given.
    ///   - limit: the most tasks in the page, 1…1000.
    ///   - after: the `next` of the previous page.
    /// - Returns: the page, and the cursor of the next one (`nil` after the last page).
    public func list(
        status: TaskInfo.Status? = nil,
        kind: String? = nil,
        priority: TaskInfo.Priority? = nil,
        limit: Int = 100,
        after: String? = nil,
        timeout: Duration? = nil
    ) async throws -> TaskPage {
        var params: JSONObject = ["limit": .int(Int64(limit))]
        if let status { params["status"] = .string(status.rawValue) }
        if let kind { params["kind"] = .string(kind) }
        if let priority { params["priority"] = .string(priority.rawValue) }
        if let after { params["after"] = .string(after) }
        let result = try await client.call("tasks.list", params: .object(params), timeout: timeout)
        guard let elements = result["tasks"]?.arrayValue else {
            throw SidecarClientError.decodingFailed(method: "tasks.list", reason: "result: missing array member 'tasks'")
        }
        return TaskPage(
            tasks: try elements.map { try TaskInfo(json: $0, method: "tasks.list") },
            next: result["next"]?.stringValue)
    }

    /// The scheduler's counters: tasks submitted and finished, retries, what runs and waits
    /// now, run durations and queue latencies.
    ///
    /// ```swift
    /// let metrics = try await client.tasks.metrics()
    /// print(metrics.running, metrics.queued.total, metrics.successRate ?? 1)
    /// ```
    public func metrics(timeout: Duration? = nil) async throws -> TaskMetrics {
        try JSONBridge.decode(TaskMetrics.self, from: try await client.call("tasks.metrics", timeout: timeout), method: "tasks.metrics")
    }

    // MARK: - Controlling

    /// Cancels a task: a queued or scheduled one at once; a running `exec` one once its
    /// process group is stopped (SIGTERM, then SIGKILL after the daemon's `--kill-grace`); one
    /// running in an external worker at once (the worker is told on its next heartbeat).
    ///
    /// ```swift
    /// let task = try await client.tasks.cancel(id)     // task.status == .cancelled
    /// ```
    /// - Parameter timeout: the limit for the call; by default a minute more than
    ///   ``SidecarClient/Configuration/defaultTimeout``, for a process to stop.
    /// - Returns: the cancelled task.
    /// - Throws: ``SidecarClientError``; `-32005` when the task already finished, `-32004`
    ///   when there is no such task.
    @discardableResult
    public func cancel(_ id: String, timeout: Duration? = nil) async throws -> TaskInfo {
        let wait = timeout ?? .seconds(60) + client.configuration.defaultTimeout
        return try TaskInfo(json: try await client.call("tasks.cancel", params: ["id": .string(id)], timeout: wait), method: "tasks.cancel")
    }

    /// Runs a failed task again, with its retries renewed.
    ///
    /// ```swift
    /// let task = try await client.tasks.retry(id)      // task.status == .queued, task.attempt == 0
    /// ```
    /// - Throws: ``SidecarClientError``; `-32005` when the task is not failed.
    @discardableResult
    public func retry(_ id: String, timeout: Duration? = nil) async throws -> TaskInfo {
        try TaskInfo(json: try await client.call("tasks.retry", params: ["id": .string(id)], timeout: timeout), method: "tasks.retry")
    }

    /// Waits for a task to finish (succeed, fail for good, or be cancelled).
    ///
    /// While it waits, the client's other calls go on. A task that is still unfinished after
    /// `timeout` throws `-32003` and goes on running: wait again to keep waiting.
    ///
    /// ```swift
    /// let task = try await client.tasks.wait(id, timeout: .seconds(120))
    /// if task.status == .failed { print(task.error ?? "") }
    /// ```
    /// - Parameter timeout: how long to wait, up to a day (default 30 s).
    /// - Returns: the finished task.
    /// - Throws: ``SidecarClientError``; `-32003` when the task did not finish in time,
    ///   `-32004` when there is no such task.
    public func wait(_ id: String, timeout: Duration = .seconds(30)) async throws -> TaskInfo {
        let result = try await client.call(
            "tasks.wait",
            params: ["id": .string(id), "timeout": TaskRequest.seconds(timeout)],
            timeout: timeout + client.configuration.defaultTimeout)
        return try TaskInfo(json: result, method: "tasks.wait")
    }

    /// Follows tasks as they change: the task after each change of status or progress.
    ///
    /// With `id`, the stream yields that task as it is now, then after each change, and ends
    /// once it reaches a final status (succeeded, failed or cancelled); it throws `-32004` when
    /// there is no such task. With `kind`, it yields every task of that kind that changes from
    /// now on; with neither, every task. The stream subscribes with `tasks.subscribe`; when the
    /// connection drops and the client reconnects, it subscribes again (and, with `id`, yields
    /// the task as it is then), but changes of other tasks made meanwhile are not replayed.
    /// A consumer that falls more than `bufferSize` tasks behind skips the oldest. Stopping the
    /// iteration (or cancelling its task) unsubscribes.
    ///
    /// ```swift
    /// for try await task in client.tasks.watch(id: id) {
    ///     print(task.status, task.progress?.fraction ?? 0)   // … then succeeded 1.0
    /// }
    /// ```
    /// - Parameters:
    ///   - id: only this task.
    ///   - kind: only tasks of this kind.
    ///   - bufferSize: the most tasks held for a slow consumer (the newest are kept).
    public func watch(id: String? = nil, kind: String? = nil, bufferSize: Int = 256) -> AsyncThrowingStream<TaskInfo, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: TaskInfo.self,
            bufferingPolicy: .bufferingNewest(max(1, bufferSize))
        )
        TaskWatch(taskID: id, kind: kind, continuation: continuation).start(on: client, endingWith: continuation)
        return stream
    }

    /// Deletes finished tasks (the daemon also does, after `--task-retention`).
    ///
    /// ```swift
    /// let purged = try await client.tasks.purge(status: .succeeded, olderThan: .seconds(3600))
    /// ```
    /// - Parameters:
    ///   - status: only tasks that ended so (`succeeded`, `failed` or `cancelled`); `nil` for all three.
    ///   - olderThan: only tasks that finished at least this long ago.
    /// - Returns: how many tasks were deleted.
    @discardableResult
    public func purge(status: TaskInfo.Status? = nil, olderThan: Duration = .zero, timeout: Duration? = nil) async throws -> Int {
        var params: JSONObject = ["olderThan": TaskRequest.seconds(olderThan)]
        if let status { params["status"] = .string(status.rawValue) }
        let result = try await client.call("tasks.purge", params: .object(params), timeout: timeout)
        guard let purged = result["purged"]?.intValue else {
            throw SidecarClientError.decodingFailed(method: "tasks.purge", reason: "result: missing integer member 'purged'")
        }
        return Int(purged)
    }

    // MARK: - Schedules

    /// Creates or replaces the schedule `name`, which submits `task` on `trigger`.
    ///
    /// After downtime a schedule runs once to catch up, not once per missed time. With
    /// `overlap: .skip` (the default), a run is skipped while the schedule's previous task is
    /// unfinished.
    ///
    /// ```swift
    /// try await client.tasks.schedule(
    ///     "nightly-backup",
    ///     .cron("0 3 * * *"),
    ///     task: TaskRequest(kind: "exec", payload: ["argv": ["restic", "backup", "/home"]])
    /// )
    /// try await client.tasks.schedule("poll-inbox", .every(.seconds(300)), task: TaskRequest(kind: "poll-inbox"))
    /// ```
    /// - Parameters:
    ///   - name: the schedule's name; scheduling an existing name replaces it.
    ///   - trigger: every interval (≥ 1 s), a 5-field cron expression (local time), or once at a time.
    ///   - task: what each run submits (its `delay` and `runAt` are ignored).
    ///   - overlap: whether a run may start while the previous one is unfinished.
    ///   - runImmediately: also submit a run now.
    /// - Returns: the schedule as stored, with its next run.
    /// - Throws: ``SidecarClientError``; `-32602` naming the field (`cron`, `every`, `task.kind`).
    @discardableResult
    public func schedule(
        _ name: String,
        _ trigger: TaskTrigger,
        task: TaskRequest,
        overlap: TaskScheduleInfo.Overlap = .skip,
        runImmediately: Bool = false,
        timeout: Duration? = nil
    ) async throws -> TaskScheduleInfo {
        var params: JSONObject = ["name": .string(name), "task": task.jsonValue]
        switch trigger {
        case .every(let interval): params["every"] = TaskRequest.seconds(interval)
        case .cron(let expression): params["cron"] = .string(expression)
        case .at(let date): params["at"] = .string(TaskRequest.rfc3339(date))
        }
        params["overlap"] = .string(overlap.rawValue)
        if runImmediately { params["runImmediately"] = true }
        let result = try await client.call("tasks.schedule", params: .object(params), timeout: timeout)
        return try JSONBridge.decode(TaskScheduleInfo.self, from: result, method: "tasks.schedule")
    }

    /// Every schedule, by name.
    ///
    /// ```swift
    /// for schedule in try await client.tasks.schedules() {
    ///     print(schedule.name, schedule.nextRunAt ?? "done")
    /// }
    /// ```
    public func schedules(timeout: Duration? = nil) async throws -> [TaskScheduleInfo] {
        let result = try await client.call("tasks.schedules", timeout: timeout)
        guard let schedules = result["schedules"] else {
            throw SidecarClientError.decodingFailed(method: "tasks.schedules", reason: "result: missing member 'schedules'")
        }
        return try JSONBridge.decode([TaskScheduleInfo].self, from: schedules, method: "tasks.schedules")
    }

    /// Removes a schedule; tasks it already submitted go on.
    ///
    /// ```swift
    /// try await client.tasks.unschedule("poll-inbox")
    /// ```
    /// - Throws: ``SidecarClientError``; `-32004` when there is no schedule of that name.
    public func unschedule(_ name: String, timeout: Duration? = nil) async throws {
        _ = try await client.call("tasks.unschedule", params: ["name": .string(name)], timeout: timeout)
    }

    // MARK: - Working

    /// Runs tasks of `kinds` in this process until the calling task is cancelled.
    ///
    /// The worker opens a connection of its own to the daemon, claims up to `concurrency`
    /// tasks at a time (long-polling while there are none), and runs `body` for each. While
    /// `body` runs it extends the task's lease with a heartbeat every third of `lease`. When
    /// `body` returns, the task succeeds with the returned value; when it throws, the attempt
    /// fails with the error's description and is retried with backoff while the task has
    /// retries left (throw ``TaskFailure`` with `retry: false` to fail it for good).
    ///
    /// If the task is cancelled (`tasks.cancel`) or the lease is lost while `body` runs, `body`
    /// is cancelled and nothing is reported. When the calling task is cancelled, every `body`
    /// is cancelled, the worker waits for them to end, and closes its connection, which puts
    /// the tasks it still held back in the queue at once.
    ///
    /// ```swift
    /// let worker = Task {
    ///     try await client.tasks.work(kinds: ["thumbnail"], concurrency: 4) { task in
    ///         let path = task.payload["path"]?.stringValue ?? ""
    ///         try await task.progress.report(0.5, message: "decoded \(path)")
    ///         return ["thumbnail": .string(try await makeThumbnail(path))]
    ///     }
    /// }
    /// // …
    /// worker.cancel()
    /// ```
    /// - Parameters:
    ///   - kinds: the kinds this worker implements.
    ///   - concurrency: how many tasks run at once (at least 1).
    ///   - lease: how long the daemon waits for a heartbeat before giving the task to another
    ///     worker (the attempt then counts as failed).
    ///   - body: runs one task and returns its result.
    /// - Throws: ``SidecarClientError`` when the worker cannot connect, the daemon refuses the
    ///   claim (an empty kind: `-32602`), or the connection is lost and cannot be made again.
    ///   Cancellation is not an error: the method then returns.
    public func work(
        kinds: [String],
        concurrency: Int = 1,
        lease: Duration = .seconds(30),
        _ body: @escaping @Sendable (ClaimedTask) async throws -> JSONValue
    ) async throws {
        var configuration = client.configuration
        configuration.onReconnect = nil
        let connection = try await SidecarClient.connect(to: client.path, configuration: configuration)
        let worker = TaskWorker(
            client: connection, kinds: kinds, concurrency: max(1, concurrency), lease: max(lease, .milliseconds(3)), body: body)
        do {
            try await worker.run()
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    // MARK: - Helpers

    private static func submitted(_ result: JSONValue, method: String) throws -> (id: String, created: Bool) {
        guard let id = result["id"]?.stringValue, let created = result["created"]?.boolValue else {
            throw SidecarClientError.decodingFailed(method: method, reason: "result: expected {id, created}, got \(result)")
        }
        return (id, created)
    }
}

// MARK: - Requests

/// A task to submit: for ``TasksAPI/submitMany(_:timeout:)`` and as the template of a
/// schedule. `nil` members take the daemon's defaults.
///
/// ```swift
/// let request = TaskRequest(kind: "exec", payload: ["argv": ["du", "-sh", "/var/cache"]], priority: .low)
/// ```
public struct TaskRequest: Sendable, Hashable {
    /// `exec`, `sidecar.noop`, or a kind your workers claim.
    public var kind: String
    /// What the task works on.
    public var payload: JSONValue
    /// Default `normal`.
    public var priority: TaskInfo.Priority?
    /// Runs after the first failure, 0…1000; default 3.
    public var maxRetries: Int?
    /// How long one run may take; default 300 s.
    public var timeout: Duration?
    /// The delay before each retry.
    public var backoff: TaskBackoff?
    /// Run no sooner than this from now (not with `runAt`).
    public var delay: Duration?
    /// Run no sooner than this time (not with `delay`).
    public var runAt: Date?
    /// Deduplicates submissions while the task with this key is unfinished.
    public var idempotencyKey: String?

    /// - Parameters: as the properties.
    public init(
        kind: String,
        payload: JSONValue = nil,
        priority: TaskInfo.Priority? = nil,
        maxRetries: Int? = nil,
        timeout: Duration? = nil,
        backoff: TaskBackoff? = nil,
        delay: Duration? = nil,
        runAt: Date? = nil,
        idempotencyKey: String? = nil
    ) {
        self.kind = kind
        self.payload = payload
        self.priority = priority
        self.maxRetries = maxRetries
        self.timeout = timeout
        self.backoff = backoff
        self.delay = delay
        self.runAt = runAt
        self.idempotencyKey = idempotencyKey
    }

    /// The task object of `tasks.submit`: only the members that are set.
    public var jsonValue: JSONValue {
        var object: JSONObject = ["kind": .string(kind)]
        if !payload.isNull { object["payload"] = payload }
        if let priority { object["priority"] = .string(priority.rawValue) }
        if let maxRetries { object["maxRetries"] = .int(Int64(maxRetries)) }
        if let timeout { object["timeout"] = Self.seconds(timeout) }
        if let backoff { object["backoff"] = backoff.jsonValue }
        if let delay { object["delay"] = Self.seconds(delay) }
        if let runAt { object["runAt"] = .string(Self.rfc3339(runAt)) }
        if let idempotencyKey { object["idempotencyKey"] = .string(idempotencyKey) }
        return .object(object)
    }

    /// A duration as JSON seconds: an integer when whole, else a number with milliseconds.
    static func seconds(_ duration: Duration) -> JSONValue {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 { return .int(seconds) }
        return .double(((Double(seconds) + Double(attoseconds) / 1e18) * 1000).rounded() / 1000)
    }

    /// `2026-11-25T14:30:00.000Z`.
    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}

/// When a schedule submits its task (see ``TasksAPI/schedule(_:_:task:overlap:runImmediately:timeout:)``).
public enum TaskTrigger: Sendable, Hashable {
    /// Every interval (at least 1 s), from when the schedule is made.
    case every(Duration)
    /// On a 5-field cron expression (`minute hour day-of-month month day-of-week`), in the
    /// daemon's local time zone: `"*/15 * * * *"`, `"0 3 * * 1-5"`.
    case cron(String)
    /// Once, at this time.
    case at(Date)
}

/// How long a task waits before each retry: `base · factor^(retry − 1)` seconds, at most
/// `max`; with `jitter`, a random time between half of that and all of it.
///
/// ```swift
/// let backoff = TaskBackoff(base: 0.5, factor: 3, max: 60, jitter: false)   // 0.5 s, 1.5 s, 4.5 s, …
/// ```
public struct TaskBackoff: Sendable, Hashable, Decodable {
    /// Seconds before the first retry (> 0).
    public var base: Double
    /// How much each further delay grows (≥ 1).
    public var factor: Double
    /// The longest delay, in seconds (≥ `base`).
    public var max: Double
    /// Whether delays are randomised, so that many failed tasks do not retry at once.
    public var jitter: Bool

    /// - Parameters: as the properties; the defaults are the daemon's.
    public init(base: Double = 1, factor: Double = 2, max: Double = 3600, jitter: Bool = true) {
        self.base = base
        self.factor = factor
        self.max = max
        self.jitter = jitter
    }

    var jsonValue: JSONValue {
        ["base": .double(base), "factor": .double(factor), "max": .double(max), "jitter": .bool(jitter)]
    }
}

// MARK: - Results

/// A task, as the `tasks.*` methods return it.
///
/// ```swift
/// let task = try await client.tasks.get(id)
/// switch task.status {
/// case .succeeded: print(task.result ?? .null)
/// case .failed: print(task.error ?? "", task.errors.count, "failed attempts")
/// default: print(task.status, task.progress?.message ?? "")
/// }
/// ```
public struct TaskInfo: Sendable, Hashable, Decodable {
    /// Where a task is in its life: `scheduled` (waiting for its time, first run or retry) →
    /// `queued` (ready) → `running` → `succeeded`, `failed` or `cancelled`. A failed attempt
    /// with retries left goes back to `scheduled`.
    public enum Status: String, Sendable, Hashable, CaseIterable, Decodable {
        case scheduled
        case queued
        case running
        case succeeded
        case failed
        case cancelled

        /// Whether the task is done for good.
        public var isFinal: Bool {
            switch self {
            case .succeeded, .failed, .cancelled: true
            case .scheduled, .queued, .running: false
            }
        }
    }

    /// How urgent a task is: a free worker takes the highest priority first, then the
    /// earliest `runAt`, then the oldest.
    public enum Priority: String, Sendable, Hashable, CaseIterable, Decodable, Comparable {
        case low
        case normal
        case high
        case critical

        private var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }

        public static func < (lhs: Priority, rhs: Priority) -> Bool { lhs.rank < rhs.rank }
    }

    /// One failed attempt.
    public struct AttemptError: Sendable, Hashable, Decodable {
        /// Which run failed (the first run is 1).
        public var attempt: Int
        /// When (RFC 3339, UTC).
        public var at: String
        /// Why: the error a worker reported, `exited with status 2`, `timed out (…)`, …
        public var message: String
    }

    /// What the worker last reported.
    public struct Progress: Sendable, Hashable, Decodable {
        /// 0…1, when the worker knows.
        public var fraction: Double?
        /// A few words on what it is doing.
        public var message: String?
    }

    /// `t` and 16 hex digits; ids sort in submission order.
    public var id: String
    /// `exec`, `sidecar.noop`, or a kind external workers claim.
    public var kind: String
    /// What the task works on, as submitted.
    public var payload: JSONValue
    /// How urgent it is.
    public var priority: Priority
    /// Where it is in its life.
    public var status: Status
    /// Runs started so far (the first run is attempt 1).
    public var attempt: Int
    /// Runs allowed after the first failure.
    public var maxRetries: Int
    /// Seconds one run may take.
    public var timeout: Double
    /// The delay before each retry.
    public var backoff: TaskBackoff
    /// When the task may run next (RFC 3339, UTC, with milliseconds), as are the other times.
    public var runAt: String
    /// When it was submitted.
    public var createdAt: String
    /// When the current or last run started; `nil` while it waits.
    public var startedAt: String?
    /// When the task finished; `nil` while it is unfinished.
    public var finishedAt: String?
    /// What the task produced: the worker's result, or an `exec` run's
    /// `{exitCode, stdout, stderr, signal?, truncated?}` (kept when the process failed too).
    public var result: JSONValue?
    /// The last failure's message.
    public var error: String?
    /// Every failed attempt, oldest first.
    public var errors: [AttemptError]
    /// What its worker last reported; `nil` before any report.
    public var progress: Progress?
    /// The key it was submitted with, if any.
    public var idempotencyKey: String?
    /// The schedule that submitted the task, if one did.
    public var schedule: String?
    /// The task object as the daemon sent it, members this client does not model included:
    /// for printing or passing on.
    public var json: JSONValue

    /// Reads a task object as the daemon sends it.
    /// - Throws: ``SidecarClientError/decodingFailed(method:reason:)`` naming the member.
    public init(json: JSONValue) throws {
        try self.init(json: json, method: "tasks")
    }

    /// Decodes a task object (through ``init(json:)``).
    public init(from decoder: any Decoder) throws {
        try self.init(json: try AnyJSON(from: decoder).value, method: "tasks")
    }

    init(json: JSONValue, method: String) throws {
        let reader = try JSONMembers(json, method: method, path: "result")
        id = try reader.string("id")
        kind = try reader.string("kind")
        payload = reader.value("payload") ?? .null
        priority = try reader.enumeration("priority")
        status = try reader.enumeration("status")
        attempt = try reader.int("attempt")
        maxRetries = try reader.int("maxRetries")
        timeout = try reader.double("timeout")
        backoff = try reader.decode("backoff", as: TaskBackoff.self)
        runAt = try reader.string("runAt")
        createdAt = try reader.string("createdAt")
        startedAt = try reader.optionalString("startedAt")
        finishedAt = try reader.optionalString("finishedAt")
        result = reader.value("result").flatMap { $0.isNull ? nil : $0 }
        error = try reader.optionalString("error")
        errors = try reader.value("errors").map { try JSONBridge.decode([AttemptError].self, from: $0, method: method) } ?? []
        progress = try reader.value("progress").flatMap { $0.isNull ? nil : try JSONBridge.decode(Progress.self, from: $0, method: method) }
        idempotencyKey = try reader.optionalString("idempotencyKey")
        schedule = try reader.optionalString("schedule")
        self.json = json
    }

    /// The `exec` result's exit status, when the process exited (not when a signal ended it).
    public var exitCode: Int? { result?["exitCode"]?.intValue.map { Int($0) } }
}

/// One page of ``TasksAPI/list(status:kind:priority:limit:after:timeout:)``.
public struct TaskPage: Sendable, Hashable {
    /// The tasks, in id order.
    public var tasks: [TaskInfo]
    /// Pass as `after` for the next page; `nil` after the last.
    public var next: String?

    /// - Parameters: as the properties.
    public init(tasks: [TaskInfo], next: String?) {
        self.tasks = tasks
        self.next = next
    }
}

/// A schedule, as `tasks.schedule` and `tasks.schedules` return it.
public struct TaskScheduleInfo: Sendable, Hashable, Decodable {
    /// Whether a run may start while the schedule's previous task is unfinished.
    public enum Overlap: String, Sendable, Hashable, Decodable {
        /// Skip the run (the default).
        case skip
        /// Run anyway.
        case allow
    }

    /// The schedule's name.
    public var name: String
    /// The task object each run submits.
    public var task: JSONValue
    /// The interval in seconds, for an `every` schedule.
    public var every: Double?
    /// The expression, for a `cron` schedule.
    public var cron: String?
    /// The time, for a one-off `at` schedule (RFC 3339).
    public var at: String?
    /// Whether runs may overlap.
    public var overlap: Overlap
    /// The next planned run; `nil` when the schedule will not run again.
    public var nextRunAt: String?
    /// When it last submitted a task.
    public var lastRunAt: String?
    /// The task of the last run.
    public var lastTaskId: String?

    private enum CodingKeys: String, CodingKey {
        case name, task, every, cron, at, overlap, nextRunAt, lastRunAt, lastTaskId
    }

    /// Decodes a schedule object as the daemon sends it.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        task = try container.decode(AnyJSON.self, forKey: .task).value
        every = try container.decodeIfPresent(Double.self, forKey: .every)
        cron = try container.decodeIfPresent(String.self, forKey: .cron)
        at = try container.decodeIfPresent(String.self, forKey: .at)
        overlap = try container.decode(Overlap.self, forKey: .overlap)
        nextRunAt = try container.decodeIfPresent(String.self, forKey: .nextRunAt)
        lastRunAt = try container.decodeIfPresent(String.self, forKey: .lastRunAt)
        lastTaskId = try container.decodeIfPresent(String.self, forKey: .lastTaskId)
    }
}

/// The counters of `tasks.metrics` (and of the `tasks` section of `sidecar.metrics`), since
/// the daemon started.
///
/// ```swift
/// let metrics = try await client.tasks.metrics()
/// print("p99 run \(metrics.durationMs.p99 ?? 0) ms, \(metrics.queued.total) waiting")
/// ```
public struct TaskMetrics: Sendable, Hashable, Decodable {
    /// Tasks created (by `tasks.submit`, `tasks.submitMany` and schedules).
    public var submitted: Int
    /// Tasks that succeeded.
    public var succeeded: Int
    /// Tasks that failed for good.
    public var failed: Int
    /// Tasks that were cancelled.
    public var cancelled: Int
    /// Failed attempts that were scheduled to run again.
    public var retries: Int
    /// Tasks running now.
    public var running: Int
    /// Tasks ready now, waiting for a worker, by priority.
    public var queued: Queued
    /// Tasks waiting for their time (a delay, a `runAt` or a retry's backoff).
    public var scheduled: Int
    /// `succeeded / (succeeded + failed)`; `nil` before the first finished task.
    public var successRate: Double?
    /// Run durations, start to end, in milliseconds (over the last 10000 runs).
    public var durationMs: Durations
    /// Time from ready to started, in milliseconds (over the last 10000 starts).
    public var queueLatencyMs: Latencies

    /// Ready tasks by priority.
    public struct Queued: Sendable, Hashable, Decodable {
        /// Ready `low` tasks.
        public var low: Int
        /// Ready `normal` tasks.
        public var normal: Int
        /// Ready `high` tasks.
        public var high: Int
        /// Ready `critical` tasks.
        public var critical: Int

        /// Every ready task.
        public var total: Int { low + normal + high + critical }
    }

    /// Run durations; `nil` before the first run ends.
    public struct Durations: Sendable, Hashable, Decodable {
        /// The mean.
        public var avg: Double?
        /// The median.
        public var p50: Double?
        /// The 99th percentile.
        public var p99: Double?
    }

    /// Queue latencies; `nil` before the first start.
    public struct Latencies: Sendable, Hashable, Decodable {
        /// The median.
        public var p50: Double?
        /// The 99th percentile.
        public var p99: Double?
    }
}

// MARK: - Workers

/// A task handed to the body of ``TasksAPI/work(kinds:concurrency:lease:_:)``.
///
/// ```swift
/// try await client.tasks.work(kinds: ["resize"]) { task in
///     struct Resize: Decodable { var path: String; var width: Int }
///     let job = try task.payload(as: Resize.self)
///     try await task.progress.report(0.1, message: "reading \(job.path)")
///     return ["done": true]
/// }
/// ```
public struct ClaimedTask: Sendable {
    /// The task as claimed: `running`, its `attempt` counting this run.
    public let info: TaskInfo
    /// Reports progress to the daemon (and to `tasks.subscribe` watchers).
    public let progress: TaskProgressReporter

    /// The task's id.
    public var id: String { info.id }
    /// The task's kind.
    public var kind: String { info.kind }
    /// The task's payload.
    public var payload: JSONValue { info.payload }
    /// Which run this is (1 for the first).
    public var attempt: Int { info.attempt }

    /// The payload decoded as `T`.
    /// - Throws: ``SidecarClientError/decodingFailed(method:reason:)`` when it is not a `T`.
    public func payload<T: Decodable>(as type: T.Type) throws -> T {
        try JSONBridge.decode(type, from: info.payload, method: "tasks.claim")
    }
}

/// Sends a claimed task's progress to the daemon, with a heartbeat that also extends its lease.
public struct TaskProgressReporter: Sendable {
    let client: SidecarClient
    let taskID: String

    /// Records progress: `tasks.get` shows it and `tasks.subscribe` watchers are told.
    ///
    /// ```swift
    /// for (index, file) in files.enumerated() {
    ///     try await task.progress.report(Double(index) / Double(files.count), message: file)
    ///     try await process(file)
    /// }
    /// ```
    /// - Parameters:
    ///   - fraction: how much is done, 0…1 (clamped); `nil` when unknown.
    ///   - message: a few words on what is happening.
    /// - Throws: ``SidecarClientError``: `-32006` when the task was cancelled and `-32005`
    ///   when this worker lost its lease (stop working on it either way; the worker also
    ///   cancels the body).
    public func report(_ fraction: Double?, message: String? = nil) async throws {
        var progress: JSONObject = [:]
        progress["fraction"] = fraction.map { .double(Swift.min(1, Swift.max(0, $0.isFinite ? $0 : 0))) } ?? .null
        progress["message"] = message.map(JSONValue.string) ?? .null
        _ = try await client.call("tasks.heartbeat", params: ["id": .string(taskID), "progress": .object(progress)])
    }
}

/// Throw from a worker's body to control how the attempt fails.
///
/// ```swift
/// guard let path = task.payload["path"]?.stringValue else {
///     throw TaskFailure("payload.path is missing", retry: false)   // no point retrying
/// }
/// ```
public struct TaskFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The message recorded as the task's `error`.
    public var message: String
    /// Whether the task may be retried (while it has retries left).
    public var retry: Bool

    /// - Parameters: as the properties.
    public init(_ message: String, retry: Bool = true) {
        self.message = message
        self.retry = retry
    }

    public var description: String { message }
}

// MARK: - Decoding helpers

/// Any JSON, decoded through `Decoder` (object members in the decoder's order).
struct AnyJSON: Decodable {
    var value: JSONValue

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: Key.self) {
            var object: JSONObject = [:]
            for key in container.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
                object[key.stringValue] = try container.decode(AnyJSON.self, forKey: key).value
            }
            value = .object(object)
            return
        }
        if var container = try? decoder.unkeyedContainer() {
            var elements: [JSONValue] = []
            while !container.isAtEnd { elements.append(try container.decode(AnyJSON.self).value) }
            value = .array(elements)
            return
        }
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            value = .null
        } else if let bool = try? container.decode(Bool.self) {
            value = .bool(bool)
        } else if let int = try? container.decode(Int64.self) {
            value = .int(int)
        } else if let double = try? container.decode(Double.self) {
            value = .double(double)
        } else {
            value = .string(try container.decode(String.self))
        }
    }
}

/// Reads the members of a result object, naming the member that is wrong.
private struct JSONMembers {
    let members: JSONObject
    let method: String
    let path: String

    init(_ json: JSONValue, method: String, path: String) throws {
        guard case .object(let members) = json else {
            throw SidecarClientError.decodingFailed(method: method, reason: "\(path): expected a task object, got \(json.typeName)")
        }
        self.members = members
        self.method = method
        self.path = path
    }

    func value(_ name: String) -> JSONValue? { members[name] }

    private func wrong(_ name: String, _ expected: String) -> SidecarClientError {
        .decodingFailed(method: method, reason: "\(path).\(name): expected \(expected), got \(members[name].map { "\($0)" } ?? "nothing")")
    }

    func string(_ name: String) throws -> String {
        guard let string = members[name]?.stringValue else { throw wrong(name, "a string") }
        return string
    }

    func optionalString(_ name: String) throws -> String? {
        guard let value = members[name], !value.isNull else { return nil }
        guard let string = value.stringValue else { throw wrong(name, "a string or null") }
        return string
    }

    func int(_ name: String) throws -> Int {
        guard let int = members[name]?.intValue else { throw wrong(name, "an integer") }
        return Int(clamping: int)
    }

    func double(_ name: String) throws -> Double {
        guard let double = members[name]?.doubleValue else { throw wrong(name, "a number") }
        return double
    }

    func enumeration<T: RawRepresentable & CaseIterable>(_ name: String) throws -> T where T.RawValue == String {
        guard let text = members[name]?.stringValue, let value = T(rawValue: text) else {
            throw wrong(name, "one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    func decode<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        guard let value = members[name] else { throw wrong(name, "a member") }
        return try JSONBridge.decode(type, from: value, method: method)
    }
}

// MARK: - The worker loop

/// The loop behind ``TasksAPI/work(kinds:concurrency:lease:_:)``, on a connection of its own:
/// claims while a slot is free, runs each task's body beside its heartbeat, and reports the
/// outcome.
struct TaskWorker: Sendable {
    let client: SidecarClient
    let kinds: [String]
    let concurrency: Int
    let lease: Duration
    let body: @Sendable (ClaimedTask) async throws -> JSONValue

    /// How long one claim waits on the daemon for a task before asking again.
    static let pollWait: Duration = .seconds(30)
    /// The pause before claiming again after the connection dropped.
    static let retryPause: Duration = .milliseconds(100)

    /// How a run ended, for reporting.
    private enum Outcome: Sendable {
        /// The body returned or threw.
        case finished(Result<JSONValue, any Error>)
        /// The task was cancelled or its lease lost while the body ran: report nothing.
        case abandoned
    }

    /// Runs until the calling task is cancelled (then returns once every body has ended), or
    /// until claiming fails for good (then throws).
    func run() async throws {
        let running = RunningCount()
        try await withThrowingTaskGroup(of: Void.self) { group in
            while !Task.isCancelled {
                let free = concurrency - running.value
                if free <= 0 {
                    // Every slot is busy: wait for a run to end (or reap one that already has).
                    _ = try await group.next()
                    continue
                }
                let claimed: [TaskInfo]
                do {
                    claimed = try await claim(maximum: free)
                } catch is CancellationError {
                    break
                } catch let error as SidecarClientError where isTransient(error) {
                    try? await Task.sleep(for: Self.retryPause)
                    continue
                }
                for task in claimed {
                    running.add(1)
                    group.addTask {
                        defer { running.add(-1) }
                        await process(task)
                    }
                }
            }
            group.cancelAll()
            while try await group.next() != nil {}
        }
    }

    /// Claims up to `maximum` tasks, waiting on the daemon up to ``pollWait`` for one.
    private func claim(maximum: Int) async throws -> [TaskInfo] {
        let params: JSONValue = [
            "kinds": .array(kinds.map(JSONValue.string)),
            "max": .int(Int64(maximum)),
            "lease": TaskRequest.seconds(lease),
            "wait": TaskRequest.seconds(Self.pollWait),
        ]
        let result = try await client.call("tasks.claim", params: params, timeout: Self.pollWait + client.configuration.defaultTimeout)
        guard let tasks = result["tasks"]?.arrayValue else {
            throw SidecarClientError.decodingFailed(method: "tasks.claim", reason: "result: missing array member 'tasks'")
        }
        return try tasks.map { try TaskInfo(json: $0, method: "tasks.claim") }
    }

    /// A lost connection is worth claiming again over when the client reconnects; a reply that
    /// came late is always.
    private func isTransient(_ error: SidecarClientError) -> Bool {
        switch error {
        case .timedOut: true
        case .connectionClosed: client.configuration.reconnect.isEnabled
        default: false
        }
    }

    /// Runs one task's body beside its heartbeat, and reports how it ended.
    private func process(_ info: TaskInfo) async {
        let task = ClaimedTask(info: info, progress: TaskProgressReporter(client: client, taskID: info.id))
        let outcome = await withTaskGroup(of: Outcome?.self) { group -> Outcome in
            group.addTask {
                do {
                    return .finished(.success(try await body(task)))
                } catch {
                    return .finished(.failure(error))
                }
            }
            group.addTask { await heartbeat(info.id) }
            var finished: Outcome?
            var abandoned = false
            for await result in group {
                switch result {
                case .finished?:
                    finished = result
                    group.cancelAll()  // the body ended: stop the heartbeat
                case .abandoned?:
                    abandoned = true
                    group.cancelAll()  // the task is gone: stop the body
                case nil:
                    break  // the heartbeat stopped
                }
            }
            return abandoned ? .abandoned : finished ?? .abandoned
        }
        guard case .finished(let result) = outcome else { return }
        switch result {
        case .success(let value):
            // Reported even while the worker stops: the work is done. Out of this task, so that
            // its cancellation does not cancel the call.
            await report("tasks.complete", ["id": .string(info.id), "result": value])
        case .failure(let error):
            // A body cancelled because the worker stops: its connection's close puts the task back.
            if Task.isCancelled { return }
            if let rpc = (error as? SidecarClientError)?.rpcError, rpc.code == .cancelled || rpc.code == .conflict {
                return  // from its progress report: the task is cancelled or no longer ours
            }
            let failure = error as? TaskFailure
            await report("tasks.fail", [
                "id": .string(info.id),
                "error": .string(failure?.message ?? String(describing: error)),
                "retry": .bool(failure?.retry ?? true),
            ])
        }
    }

    /// Extends the lease every third of it while the body runs.
    /// - Returns: `.abandoned` when the task was cancelled or is no longer this worker's;
    ///   `nil` when cancelled (the body ended first).
    private func heartbeat(_ id: String) async -> Outcome? {
        let interval = lease / 3
        while true {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return nil
            }
            do {
                _ = try await client.call("tasks.heartbeat", params: ["id": .string(id)], timeout: lease / 2)
            } catch is CancellationError {
                return nil
            } catch SidecarClientError.timedOut {
                continue  // late, not lost: the next beat may make it in time
            } catch {
                // -32006 cancelled, -32005 lease lost, or the connection is gone (which
                // releases the lease on the daemon): someone else has the task now, or nobody.
                return .abandoned
            }
        }
    }

    /// Sends a final report; its errors are nobody's to handle (a lost lease means the task
    /// was released and will run again).
    private func report(_ method: String, _ params: JSONObject) async {
        let client = self.client
        await Task {
            _ = try? await client.call(method, params: .object(params))
        }.value
    }
}

/// The runs in progress, counted by the runs themselves so that the claim loop sees a slot
/// free up while it is waiting on the daemon.
private final class RunningCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    var value: Int { lock.withLock { count } }

    func add(_ delta: Int) {
        lock.withLock { count += delta }
    }
}
