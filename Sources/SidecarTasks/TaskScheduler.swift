#if canImport(Glibc)
import Glibc
#endif
import GRDB
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SidecarProtocol
import SidecarStore

/// The durable task scheduler: tasks in SQLite, a ready queue by priority, a pool of built-in
/// workers, external workers that claim tasks under a lease, retries with backoff, timeouts,
/// cancellation, waiting and subscriptions.
///
/// One event loop owns every unfinished task (``eventLoop``). A change of a task is written
/// to SQLite in the next batch; `tasks.submit` is answered once its batch has committed, so
/// an acknowledged task survives `kill -9`. After a restart, tasks that were running are run
/// again (the attempt is counted and the restart noted in `errors`).
public final class TaskScheduler: Sendable {
    /// Settings from the daemon.
    public struct Configuration: Sendable {
        /// Built-in workers (`--workers`).
        public var workers = 10
        /// Whether the `exec` kind runs (`--no-exec` turns it off).
        public var execEnabled = true
        /// SIGTERM → SIGKILL grace for `exec` (`--kill-grace`).
        public var killGrace: Duration = .seconds(5)
        /// How long finished tasks are kept (`--task-retention`).
        public var retention: Duration = .seconds(7 * 86_400)
        /// A waiting task rises one priority level per period (`--priority-aging`); `nil` = off.
        public var priorityAging: Duration?

        public init() {}
    }

    /// A connection's interest in task changes (`tasks.subscribe`).
    public struct Subscriber: Sendable {
        public var connectionID: UInt64
        /// Only this task, when set.
        public var taskID: String?
        /// Only this kind, when set.
        public var kind: String?
        /// Sends one `tasks.changed` params object to the subscription's connection, coalesced
        /// per task by the transport. (Each change is sent once per connection, through the
        /// first of its subscriptions that watch the task.)
        public var send: @Sendable (_ taskID: String, _ params: JSONValue) -> Void

        public init(connectionID: UInt64, taskID: String?, kind: String?, send: @escaping @Sendable (String, JSONValue) -> Void) {
            self.connectionID = connectionID
            self.taskID = taskID
            self.kind = kind
            self.send = send
        }
    }

    /// The schema this service needs; pass it to ``SidecarDatabase`` at start-up.
    public static let migrations = [TaskStore.migration]

    /// The kinds the daemon runs itself.
    public static let noopKind = "sidecar.noop"
    public static let execKind = "exec"

    public let eventLoop: any EventLoop
    public let configuration: Configuration
    let database: SidecarDatabase
    let logger: Logger
    let core: NIOLoopBoundBox<TaskSchedulerCore>
    /// Unfinished tasks, and schedules that will run again, readable from any thread (idle exit asks).
    let pendingCount = NIOLockedValueBox(0)
    let activeSchedules = NIOLockedValueBox(0)

    /// Loads the unfinished tasks; nothing runs until ``start()``.
    public init(database: SidecarDatabase, eventLoop: any EventLoop, configuration: Configuration = Configuration(), logger: Logger) async throws {
        self.database = database
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.logger = logger
        let (unfinished, newestID) = try await database.read { db in
            (try TaskStore.unfinished(in: db), try TaskStore.newestID(in: db))
        }
        var core = TaskSchedulerCore(freeWorkers: configuration.workers)
        if let newestID { core.ids.resume(after: newestID) }
        let now = Self.now()
        var restarted: [TaskRecord] = []
        for var task in unfinished {
            if task.status == .running {
                // It was running when the daemon stopped: run it again; the attempt counts.
                task.recordFailure("the daemon stopped while attempt \(task.attempt) was running; running it again", at: now)
                task.status = .queued
                task.startedAt = nil
                restarted.append(task)
            }
            core.tasks[task.id] = task
            if let key = task.idempotencyKey { core.idempotency[key] = task.id }
            if task.status == .scheduled { core.queue.delay(task) } else { core.queue.enqueue(task) }
        }
        core.unstored = restarted.map { .save($0) }
        self.core = .makeBoxSendingValue(core, eventLoop: eventLoop)
        pendingCount.withLockedValue { $0 = unfinished.count }
        if !restarted.isEmpty {
            logger.notice("tasks that were running when the daemon stopped run again", metadata: ["count": "\(restarted.count)"])
        }
    }

    /// Starts running tasks and schedules.
    public func start() {
        eventLoop.execute {
            self.core.withValue { $0.isStarted = true }
            self.flushIfNeeded()
            self.promoteDueTasks()
            self.dispatch()
            self.scheduleRetentionSweep()
            self.scheduleAging()
            self.loadSchedules().whenFailure { error in
                self.logger.error("schedules could not be read", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Whether any task is unfinished (queued, scheduled or running): the daemon does not
    /// exit for idleness while one is.
    public var hasPendingWork: Bool {
        pendingCount.withLockedValue { $0 > 0 } || activeSchedules.withLockedValue { $0 > 0 }
    }

    // MARK: - Submitting

    /// `tasks.submit` / `tasks.submitMany`: creates the tasks (or, for an idempotency key
    /// whose task is unfinished, returns that task with `created: false`), answered once
    /// committed, in one transaction.
    public func submit(_ submissions: [TaskSubmission]) -> EventLoopFuture<[(task: TaskRecord, created: Bool)]> {
        onLoop {
            let (results, created) = self.createTasks(submissions, schedule: nil)
            // Queued only once stored: a task never runs before its submission is acknowledged.
            return self.persist(created).map {
                self.queueCreated(created)
                return results
            }
        }
    }

    /// Creates the tasks in memory (or finds the unfinished task of an idempotency key).
    func createTasks(_ submissions: [TaskSubmission], schedule: String?) -> (results: [(task: TaskRecord, created: Bool)], created: [TaskRecord]) {
        let now = Self.now()
        let outcome = core.withValue { core -> ([(task: TaskRecord, created: Bool)], [TaskRecord]) in
            var results: [(task: TaskRecord, created: Bool)] = []
            var created: [TaskRecord] = []
            for submission in submissions {
                if let key = submission.idempotencyKey, let id = core.idempotency[key], let existing = core.tasks[id] {
                    results.append((existing, false))
                    continue
                }
                let runAt = submission.runAt ?? now
                let task = TaskRecord(
                    id: core.ids.next(now: now), kind: submission.kind, payload: submission.payload,
                    priority: submission.priority, status: runAt > now ? .scheduled : .queued, attempt: 0,
                    maxRetries: submission.maxRetries, timeout: submission.timeout, backoff: submission.backoff,
                    runAt: runAt, createdAt: now, startedAt: nil, finishedAt: nil, result: nil, error: nil, errors: [],
                    progress: nil, idempotencyKey: submission.idempotencyKey, schedule: schedule)
                core.tasks[task.id] = task
                if let key = task.idempotencyKey { core.idempotency[key] = task.id }
                core.metrics.submitted += 1
                results.append((task, true))
                created.append(task)
            }
            return (results, created)
        }
        pendingCount.withLockedValue { $0 += outcome.1.count }
        return outcome
    }

    /// Puts stored new tasks in the queue (or on hold until their `runAt`) and starts what can run.
    func queueCreated(_ created: [TaskRecord]) {
        core.withValue { core in
            for task in created where core.tasks[task.id]?.status == task.status {
                if task.status == .scheduled { core.queue.delay(task) } else { core.queue.enqueue(task) }
            }
        }
        for task in created { notify(task) }
        rescheduleTick()
        dispatch()
    }

    // MARK: - Reading

    /// `tasks.get`: the task, or `nil` when there is none with this id.
    public func task(id: String) -> EventLoopFuture<TaskRecord?> {
        onLoop {
            if let task = self.core.value.tasks[id] { return self.eventLoop.makeSucceededFuture(task) }
            return self.afterStored { try TaskStore.task(id: id, in: $0) }
        }
    }

    /// `tasks.list`: a page in id order, and the cursor of the next page (`nil` at the end).
    public func list(
        status: TaskStatus?, kind: String?, priority: TaskPriority?, after: String?, limit: Int
    ) -> EventLoopFuture<(tasks: [TaskRecord], next: String?)> {
        onLoop {
            self.afterStored { db in
                let page = try TaskStore.list(status: status, kind: kind, priority: priority, after: after, limit: limit + 1, in: db)
                let tasks = Array(page.prefix(limit))
                return (tasks, page.count > limit ? tasks.last?.id : nil)
            }
        }
    }

    /// `tasks.metrics`.
    public func metrics() -> EventLoopFuture<JSONValue> {
        onLoop {
            let core = self.core.value
            var queued: [TaskPriority: Int] = [:]
            var running = 0
            var scheduled = 0
            for task in core.tasks.values {
                switch task.status {
                case .queued: queued[task.priority, default: 0] += 1
                case .running: running += 1
                case .scheduled: scheduled += 1
                default: break
                }
            }
            return self.eventLoop.makeSucceededFuture(core.metrics.jsonValue(running: running, queued: queued, scheduled: scheduled))
        }
    }

    /// `tasks.purge`: deletes finished tasks that finished more than `olderThan` ago.
    public func purge(status: TaskStatus?, olderThan: Duration) -> EventLoopFuture<Int> {
        let cutoff = Self.now() - olderThan.milliseconds
        return onLoop {
            self.afterStored { _ in () }.flatMap {
                self.eventLoop.makeFutureWithTask {
                    try await self.database.write { db in try TaskStore.purge(status: status, finishedBefore: cutoff, in: db) }
                }
            }
        }
    }

    // MARK: - Waiting and subscribing

    /// `tasks.wait`: the task once it is final; fails with `-32003` after `timeout` (the task goes on).
    public func wait(id: String, timeout: Duration) -> EventLoopFuture<TaskRecord> {
        task(id: id).flatMapThrowing { task -> TaskRecord? in
            guard let task else { throw TaskSchedulerError.notFound(id) }
            return task.status.isFinal ? task : nil
        }.flatMap { final in
            if let final { return self.eventLoop.makeSucceededFuture(final) }
            let promise = self.eventLoop.makePromise(of: TaskRecord.self)
            let waiterID = self.core.withValue { core -> UInt64 in
                core.nextWaiterID += 1
                core.waiters[id, default: [:]][core.nextWaiterID] = promise
                return core.nextWaiterID
            }
            let timer = self.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)) {
                guard let waiter = self.core.withValue({ $0.waiters[id]?.removeValue(forKey: waiterID) }) else { return }
                waiter.fail(TaskSchedulerError.waitTimedOut(id))
            }
            promise.futureResult.whenComplete { _ in timer.cancel() }
            return promise.futureResult
        }
    }

    /// `tasks.subscribe`: `tasks.changed {subscriptions, task}` on every status or progress
    /// change, once per connection however many of its subscriptions watch the task.
    /// - Returns: the subscription's id and, for a subscription to one task, that task as it
    ///   was when the subscription began (`nil` when there is no such task): every change
    ///   notified afterwards is newer.
    public func subscribe(_ subscriber: Subscriber) -> EventLoopFuture<(id: UInt64, task: TaskRecord?)> {
        onLoop {
            let (id, unfinished) = self.core.withValue { core -> (UInt64, TaskRecord?) in
                core.nextSubscriptionID += 1
                core.subscribers[core.nextSubscriptionID] = subscriber
                return (core.nextSubscriptionID, subscriber.taskID.flatMap { core.tasks[$0] })
            }
            guard let taskID = subscriber.taskID, unfinished == nil else {
                return self.eventLoop.makeSucceededFuture((id, unfinished))
            }
            // Not in memory: finished (or unknown), so it is read as stored.
            return self.afterStored { try TaskStore.task(id: taskID, in: $0) }.map { (id, $0) }
        }
    }

    /// `tasks.unsubscribe`: only the connection that made a subscription can end it.
    public func unsubscribe(_ id: UInt64, connectionID: UInt64) -> EventLoopFuture<Bool> {
        onLoop {
            let removed = self.core.withValue { core -> Bool in
                guard core.subscribers[id]?.connectionID == connectionID else { return false }
                core.subscribers[id] = nil
                return true
            }
            return self.eventLoop.makeSucceededFuture(removed)
        }
    }

    /// Ends a closed connection's subscriptions and releases the tasks its workers held.
    public func connectionClosed(_ connectionID: UInt64) {
        eventLoop.execute {
            self.core.withValue { core in core.subscribers = core.subscribers.filter { $0.value.connectionID != connectionID } }
            self.releaseLeases(ownedBy: connectionID)
        }
    }

    /// Sends `task` once to each connection with subscriptions that watch it, naming them.
    func notify(_ task: TaskRecord) {
        let subscribers = core.value.subscribers
        guard !subscribers.isEmpty else { return }
        var watching: [(id: UInt64, subscriber: Subscriber)] = []
        for (id, subscriber) in subscribers {
            if let taskID = subscriber.taskID, taskID != task.id { continue }
            if let kind = subscriber.kind, kind != task.kind { continue }
            watching.append((id, subscriber))
        }
        guard !watching.isEmpty else { return }
        watching.sort { $0.id < $1.id }
        let taskJSON = task.jsonValue
        for connection in Dictionary(grouping: watching, by: \.subscriber.connectionID).values {
            let ids = connection.map { JSONValue.int(Int64($0.id)) }
            connection[0].subscriber.send(task.id, ["subscriptions": .array(ids), "task": taskJSON])
        }
    }

    // MARK: - Helpers

    /// Runs `body` on ``eventLoop``: at once when already there, else after what is queued there.
    func onLoop<T: Sendable>(_ body: @escaping @Sendable () throws -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        eventLoop.onLoop(body)
    }

    /// Reads the database once every change made so far is committed.
    func afterStored<T: Sendable>(_ read: @escaping @Sendable (Database) throws -> T) -> EventLoopFuture<T> {
        storedBarrier().flatMap {
            self.eventLoop.makeFutureWithTask { try await self.database.read(read) }
        }
    }

    /// The wall clock in Unix milliseconds, as task times are kept.
    public static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }
}

extension Duration {
    /// Whole milliseconds.
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

/// Why a `tasks.*` request was refused.
public enum TaskSchedulerError: RPCErrorConvertible, Sendable, CustomStringConvertible {
    case notFound(String)
    case alreadyFinished(String, TaskStatus)
    case notFailed(String, TaskStatus)
    case waitTimedOut(String)
    case leaseLost(String)
    case cancelled(String)

    public var description: String {
        switch self {
        case .notFound(let id): "no task with id '\(id)' (it may have been purged)"
        case .alreadyFinished(let id, let status): "task \(id) is already \(status.rawValue)"
        case .notFailed(let id, let status): "task \(id) is \(status.rawValue); only a failed task can be retried"
        case .waitTimedOut(let id): "task \(id) did not finish in time; it goes on (wait again to keep waiting)"
        case .leaseLost(let id): "this worker no longer holds task \(id) (its lease expired or it was released); drop it"
        case .cancelled(let id): "task \(id) was cancelled; stop working on it"
        }
    }

    /// The JSON-RPC error a client receives.
    public var rpcError: RPCError {
        switch self {
        case .notFound(let id): RPCError(code: .notFound, message: "Not found: \(description)", data: ["id": .string(id)])
        case .alreadyFinished(let id, let status), .notFailed(let id, let status):
            RPCError(code: .conflict, message: "Conflict: \(description)", data: ["id": .string(id), "status": .string(status.rawValue)])
        case .waitTimedOut(let id): RPCError(code: .timedOut, message: "Timed out: \(description)", data: ["id": .string(id)])
        case .leaseLost(let id): RPCError(code: .conflict, message: "Conflict: \(description)", data: ["id": .string(id)])
        case .cancelled(let id): RPCError(code: .cancelled, message: "Cancelled: \(description)", data: ["id": .string(id)])
        }
    }
}
