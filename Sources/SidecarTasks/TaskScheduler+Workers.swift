import NIOCore
import SidecarProtocol

/// External workers (Faktory-style): a client claims tasks of the kinds it implements under a
/// lease, extends the lease with heartbeats while it works, and completes or fails them.
extension TaskScheduler {
    /// `tasks.claim`: up to `maximum` tasks of `kinds`, each leased to `connectionID` for
    /// `lease`; when none is ready, waits up to `wait` for one (an empty list then).
    public func claim(
        kinds: Set<String>, maximum: Int, lease: Duration, wait: Duration, connectionID: UInt64
    ) -> EventLoopFuture<[TaskRecord]> {
        onLoop {
            let leaseMilliseconds = lease.milliseconds
            let claimed = self.takeReady(kinds: kinds, maximum: maximum, leaseMilliseconds: leaseMilliseconds, connectionID: connectionID)
            guard claimed.isEmpty, wait > .zero, !self.core.value.isShuttingDown else {
                return self.eventLoop.makeSucceededFuture(claimed)
            }
            let promise = self.eventLoop.makePromise(of: [TaskRecord].self)
            let claimID = self.core.withValue { core -> UInt64 in
                core.nextClaimID += 1
                core.claimWaiters[core.nextClaimID] = TaskSchedulerCore.ClaimWaiter(
                    kinds: kinds, maximum: maximum, leaseMilliseconds: leaseMilliseconds, connectionID: connectionID, promise: promise)
                return core.nextClaimID
            }
            let timer = self.eventLoop.scheduleTask(in: .milliseconds(wait.milliseconds)) {
                self.core.withValue { $0.claimWaiters.removeValue(forKey: claimID) }?.promise.succeed([])
            }
            promise.futureResult.whenComplete { _ in timer.cancel() }
            return promise.futureResult
        }
    }

    /// Leases up to `maximum` ready tasks of `kinds`.
    private func takeReady(kinds: Set<String>, maximum: Int, leaseMilliseconds: Int64, connectionID: UInt64) -> [TaskRecord] {
        let now = Self.now()
        let claimed: [TaskRecord] = core.withValue { core in
            guard core.isStarted, !core.isShuttingDown else { return [] }
            var claimed: [TaskRecord] = []
            while claimed.count < maximum, var task = core.takeNextQueued(kinds: kinds) {
                let id = task.id
                Self.markRunning(&task, now: now, metrics: &core.metrics)
                core.tasks[id] = task
                core.runners[id] = .external(connectionID: connectionID, leaseMilliseconds: leaseMilliseconds, expiresAt: now + leaseMilliseconds)
                claimed.append(task)
            }
            return claimed
        }
        for task in claimed {
            persistLater(.save(task))
            notify(task)
        }
        if !claimed.isEmpty { rescheduleTick() }
        return claimed
    }

    /// Hands newly ready tasks to waiting claims, oldest claim first.
    func serveClaimWaiters() {
        let waiting = core.withValue { core in core.claimWaiters.sorted { $0.key < $1.key } }
        for (id, waiter) in waiting where core.value.queue.hasReady(kinds: waiter.kinds) {
            let claimed = takeReady(
                kinds: waiter.kinds, maximum: waiter.maximum, leaseMilliseconds: waiter.leaseMilliseconds, connectionID: waiter.connectionID)
            guard !claimed.isEmpty else { continue }
            core.withValue { $0.claimWaiters[id] = nil }
            waiter.promise.succeed(claimed)
        }
    }

    /// `tasks.heartbeat`: extends the lease (by `lease`, else the claim's) and records progress.
    public func heartbeat(id: String, lease: Duration?, progress: JSONValue?, connectionID: UInt64) -> EventLoopFuture<TaskRecord> {
        onLoop {
            let now = Self.now()
            var task = try self.leasedTask(id: id, connectionID: connectionID)
            self.core.withValue { core in
                if case .external(_, let original, _)? = core.runners[id] {
                    let milliseconds = lease?.milliseconds ?? original
                    core.runners[id] = .external(connectionID: connectionID, leaseMilliseconds: original, expiresAt: now + milliseconds)
                }
                if let progress { task.progress = progress }
                core.tasks[id] = task
            }
            if progress != nil {
                self.persistLater(.save(task))
                self.notify(task)
            }
            self.rescheduleTick()
            return self.eventLoop.makeSucceededFuture(task)
        }
    }

    /// `tasks.complete`: the worker's result; the task succeeds.
    public func complete(id: String, result: JSONValue, connectionID: UInt64) -> EventLoopFuture<TaskRecord> {
        onLoop {
            let task = try self.leasedTask(id: id, connectionID: connectionID)
            self.core.withValue { $0.runners[id] = nil }
            return self.finishExternal(task, outcome: .success(result), retry: true)
        }
    }

    /// `tasks.fail`: the attempt failed; it is retried with backoff unless `retry` is false
    /// or no retries are left.
    public func fail(id: String, error: String, retry: Bool, connectionID: UInt64) -> EventLoopFuture<TaskRecord> {
        onLoop {
            let task = try self.leasedTask(id: id, connectionID: connectionID)
            self.core.withValue { $0.runners[id] = nil }
            return self.finishExternal(task, outcome: .failure(TaskRunError.failed(error, result: nil)), retry: retry)
        }
    }

    /// Ends the worker's run and answers with the task as it now is, from memory: the worker
    /// need not wait for the commit (the change is stored with the next batch).
    private func finishExternal(_ task: TaskRecord, outcome: Result<JSONValue, any Error>, retry: Bool) -> EventLoopFuture<TaskRecord> {
        guard let finished = finishRun(id: task.id, attempt: task.attempt, outcome: outcome, retry: retry) else {
            return eventLoop.makeFailedFuture(TaskSchedulerError.leaseLost(task.id))
        }
        return eventLoop.makeSucceededFuture(finished)
    }

    /// The task `id` if `connectionID` holds its lease; else why not (-32006 cancelled, -32005 lost).
    private func leasedTask(id: String, connectionID: UInt64) throws -> TaskRecord {
        try core.withValue { core in
            if core.cancelledUnderWorker[id] == connectionID {
                core.cancelledUnderWorker[id] = nil
                throw TaskSchedulerError.cancelled(id)
            }
            guard let task = core.tasks[id], task.status == .running,
                case .external(let holder, _, let expiresAt)? = core.runners[id], holder == connectionID, expiresAt > Self.now()
            else { throw TaskSchedulerError.leaseLost(id) }
            return task
        }
    }

    /// Puts back the tasks whose lease ran out; the attempt counts.
    func expireLeases() {
        let now = Self.now()
        let expired: [(String, Int)] = core.withValue { core in
            core.runners.compactMap { id, runner in
                guard case .external(_, _, let expiresAt) = runner, expiresAt <= now, let task = core.tasks[id] else { return nil }
                return (id, task.attempt)
            }
        }
        for (id, attempt) in expired {
            core.withValue { $0.runners[id] = nil }
            finishRun(id: id, attempt: attempt, outcome: .failure(TaskRunError.failed("the worker's lease expired without a heartbeat", result: nil)))
        }
    }

    /// A worker's connection closed: its tasks go back at once (the attempt counts).
    func releaseLeases(ownedBy connectionID: UInt64) {
        let held: [(String, Int)] = core.withValue { core in
            core.claimWaiters = core.claimWaiters.filter { $0.value.connectionID != connectionID }
            core.cancelledUnderWorker = core.cancelledUnderWorker.filter { $0.value != connectionID }
            return core.runners.compactMap { id, runner in
                guard case .external(let holder, _, _) = runner, holder == connectionID, let task = core.tasks[id] else { return nil }
                return (id, task.attempt)
            }
        }
        for (id, attempt) in held {
            core.withValue { $0.runners[id] = nil }
            finishRun(id: id, attempt: attempt, outcome: .failure(TaskRunError.failed("the worker's connection closed", result: nil)))
        }
    }
}
