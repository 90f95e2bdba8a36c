import NIOCore
import SidecarProtocol

extension TaskScheduler {
    /// The kinds the built-in pool runs (sets made once: this is read for every task dispatched).
    var builtInKinds: Set<String> {
        configuration.execEnabled ? Self.noopAndExecKinds : Self.noopKinds
    }

    private static let noopKinds: Set<String> = [noopKind]
    private static let noopAndExecKinds: Set<String> = [noopKind, execKind]

    // MARK: - Dispatching

    /// Starts ready tasks on free built-in workers and hands ready tasks to waiting claims.
    ///
    /// A `sidecar.noop` finishes inside this call, and finishing a task dispatches again to
    /// fill the worker it freed. That inner call only asks for another pass, which this one
    /// then makes: a queue of N instant tasks is worked through in a loop, not N calls deep
    /// (10,000 of them overflowed the event loop's stack).
    func dispatch() {
        let isNested = core.withValue { core -> Bool in
            if core.isDispatching {
                core.isDispatchRequested = true
                return true
            }
            core.isDispatching = true
            return false
        }
        guard !isNested else { return }
        while true {
            dispatchPass()
            let isRequested = core.withValue { core -> Bool in
                let isRequested = core.isDispatchRequested
                core.isDispatchRequested = false
                core.isDispatching = isRequested
                return isRequested
            }
            guard isRequested else { return }
        }
    }

    /// One pass of ``dispatch()``.
    private func dispatchPass() {
        let now = Self.now()
        let started: [TaskRecord] = core.withValue { core in
            guard core.isStarted, !core.isShuttingDown else { return [] }
            var started: [TaskRecord] = []
            while core.freeWorkers > 0, var task = core.takeNextQueued(kinds: builtInKinds) {
                Self.markRunning(&task, now: now, metrics: &core.metrics)
                core.tasks[task.id] = task
                core.runners[task.id] = .builtIn(nil)
                core.freeWorkers -= 1
                started.append(task)
            }
            return started
        }
        for task in started {
            persistLater(.save(task))
            notify(task)
            runBuiltIn(task)
        }
        serveClaimWaiters()
    }

    static func markRunning(_ task: inout TaskRecord, now: Int64, metrics: inout TaskMetrics) {
        metrics.recordStart(queueLatencyMilliseconds: max(0, now - max(task.runAt, task.createdAt)))
        task.status = .running
        task.attempt += 1
        task.startedAt = now
        task.finishedAt = nil
    }

    private func runBuiltIn(_ task: TaskRecord) {
        if task.kind == Self.noopKind {
            // Nothing to run: the result is the payload. No task, no thread.
            finishRun(id: task.id, attempt: task.attempt, outcome: .success(task.payload))
            return
        }
        let handle = Task {
            let outcome: Result<JSONValue, any Error>
            do {
                outcome = .success(try await self.runExec(task))
            } catch {
                outcome = .failure(error)
            }
            self.eventLoop.execute { self.finishRun(id: task.id, attempt: task.attempt, outcome: outcome) }
        }
        core.withValue { core in
            // The run may already have finished (then its runner is gone).
            if case .builtIn? = core.runners[task.id] { core.runners[task.id] = .builtIn(handle) }
        }
    }

    // MARK: - Finishing

    /// Records the end of run `attempt` of task `id`: success, a failure (retried with backoff
    /// while retries are left), or a cancellation. A late report for an earlier attempt is ignored.
    /// - Returns: the task as it is now, or `nil` when the report was stale.
    @discardableResult
    func finishRun(id: String, attempt: Int, outcome: Result<JSONValue, any Error>, retry: Bool = true) -> TaskRecord? {
        let now = Self.now()
        let finished: TaskRecord? = core.withValue { core in
            guard var task = core.tasks[id], task.status == .running, task.attempt == attempt else { return nil }
            if case .builtIn? = core.runners.removeValue(forKey: id) { core.freeWorkers += 1 }
            let cancelled = core.cancelRequested.remove(id) != nil
            if core.isShuttingDown && !cancelled, case .failure = outcome {
                // Stopped by the shutdown: back to the queue, not a failure.
                task.status = .queued
                task.attempt -= 1
                task.startedAt = nil
                core.tasks[id] = task
                return task
            }
            if let startedAt = task.startedAt { core.metrics.recordRun(durationMilliseconds: now - startedAt) }
            switch outcome {
            case _ where cancelled:
                task.status = .cancelled
                task.finishedAt = now
                if case .failure(let error) = outcome, case .failed(_, let result)? = error as? TaskRunError { task.result = result }
                core.metrics.cancelled += 1
            case .success(let result):
                task.status = .succeeded
                task.result = result
                task.finishedAt = now
                core.metrics.succeeded += 1
            case .failure(let error):
                if case .failed(_, let result) = error as? TaskRunError { task.result = result }
                task.recordFailure("\(error)", at: now)
                if retry && task.attempt <= task.maxRetries {
                    var generator = SystemRandomNumberGenerator()
                    task.status = .scheduled
                    task.runAt = now + task.backoff.delay(beforeRetry: task.attempt, random: &generator).milliseconds
                    task.startedAt = nil
                    core.metrics.retries += 1
                    core.queue.delay(task)
                } else {
                    task.status = .failed
                    task.finishedAt = now
                    core.metrics.failed += 1
                }
            }
            core.tasks[id] = task
            return task
        }
        guard let finished else { return nil }
        settle(finished)
        rescheduleTick()
        dispatch()
        return finished
    }

    /// Stores and announces a task's new state; a final task leaves memory and wakes its waiters.
    func settle(_ task: TaskRecord) {
        persistLater(.save(task))
        notify(task)
        if task.status == .queued {
            core.withValue { $0.queue.enqueue(task) }
        }
        guard task.status.isFinal else { return }
        let waiters = core.withValue { core -> [EventLoopPromise<TaskRecord>] in
            core.tasks[task.id] = nil
            if let key = task.idempotencyKey, core.idempotency[key] == task.id { core.idempotency[key] = nil }
            return Array((core.waiters.removeValue(forKey: task.id) ?? [:]).values)
        }
        pendingCount.withLockedValue { $0 -= 1 }
        for waiter in waiters { waiter.succeed(task) }
    }

    // MARK: - Cancelling and retrying

    /// `tasks.cancel`: a queued or scheduled task is cancelled at once; a running built-in one
    /// is stopped (its process group killed) and then cancelled; an externally running one is
    /// cancelled now and its worker told on its next call. A finished task is `-32005`.
    public func cancel(id: String) -> EventLoopFuture<TaskRecord> {
        onLoop {
            let now = Self.now()
            enum Step { case done(TaskRecord), stopping(Task<Void, Never>?), unknown }
            let step: Step = self.core.withValue { core in
                guard var task = core.tasks[id] else { return .unknown }
                switch (task.status, core.runners[id]) {
                case (.running, .builtIn(let handle)?):
                    core.cancelRequested.insert(id)
                    return .stopping(handle)
                case (.running, .external(let connectionID, _, _)?):
                    core.runners[id] = nil
                    core.cancelledUnderWorker[id] = connectionID
                    fallthrough
                default:
                    task.status = .cancelled
                    task.finishedAt = now
                    core.metrics.cancelled += 1
                    core.tasks[id] = task
                    return .done(task)
                }
            }
            switch step {
            case .done(let task):
                self.settle(task)
                self.dispatch()
                return self.eventLoop.makeSucceededFuture(task)
            case .stopping(let handle):
                handle?.cancel()
                return self.wait(id: id, timeout: .seconds(3600))
            case .unknown:
                return self.task(id: id).flatMapThrowing { task in
                    guard let task else { throw TaskSchedulerError.notFound(id) }
                    throw TaskSchedulerError.alreadyFinished(id, task.status)
                }
            }
        }
    }

    /// `tasks.retry`: puts a failed task back in the queue, with its retries renewed.
    public func retry(id: String) -> EventLoopFuture<TaskRecord> {
        onLoop {
            if let task = self.core.value.tasks[id] { throw TaskSchedulerError.notFailed(id, task.status) }
            return self.afterStored { try TaskStore.task(id: id, in: $0) }.flatMapThrowing { stored in
                guard var task = stored else { throw TaskSchedulerError.notFound(id) }
                guard task.status == .failed, self.core.value.tasks[id] == nil else {
                    throw TaskSchedulerError.notFailed(id, self.core.value.tasks[id]?.status ?? task.status)
                }
                task.status = .queued
                task.attempt = 0
                task.runAt = Self.now()
                task.finishedAt = nil
                self.core.withValue { core in
                    core.tasks[id] = task
                    if let key = task.idempotencyKey, core.idempotency[key] == nil { core.idempotency[key] = id }
                }
                self.pendingCount.withLockedValue { $0 += 1 }
                self.settle(task)
                self.dispatch()
                return task
            }
        }
    }

    // MARK: - Time

    /// Keeps one timer at the next delayed task or lease expiry.
    func rescheduleTick() {
        let now = Self.now()
        core.withValue { core in
            var next = core.queue.nextDue
            for runner in core.runners.values {
                if case .external(_, _, let expiresAt) = runner { next = min(next ?? expiresAt, expiresAt) }
            }
            for schedule in core.schedules.values {
                if let due = schedule.nextRunAt { next = min(next ?? due, due) }
            }
            guard let next else { return }
            if let scheduled = core.tickDeadline, scheduled <= next, scheduled > now - 1000 { return }
            core.tick?.cancel()
            core.tickDeadline = next
            core.tick = eventLoop.scheduleTask(in: .milliseconds(max(0, next - now))) {
                self.core.withValue { core in
                    core.tick = nil
                    core.tickDeadline = nil
                }
                self.promoteDueTasks()
                self.expireLeases()
                self.runDueSchedules()
                self.rescheduleTick()
                self.dispatch()
            }
        }
    }

    /// Moves scheduled tasks whose time has come to the queue.
    func promoteDueTasks() {
        let now = Self.now()
        let promoted: [TaskRecord] = core.withValue { core in
            var promoted: [TaskRecord] = []
            for id in core.queue.popDue(now: now) {
                guard var task = core.tasks[id], task.status == .scheduled else { continue }
                task.status = .queued
                core.tasks[id] = task
                promoted.append(task)
            }
            return promoted
        }
        for task in promoted { settle(task) }
    }

    /// With `--priority-aging`, raises each queued task one level per period it has waited
    /// (never above `critical`), so that `low` tasks are not starved by a steady stream of
    /// higher ones. Checked every period, at most every second.
    func scheduleAging() {
        guard let period = configuration.priorityAging, period > .zero else { return }
        let periodMilliseconds = max(1, period.milliseconds)
        let interval = TimeAmount.milliseconds(min(1000, periodMilliseconds))
        _ = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let now = Self.now()
            let raised = self.core.withValue { core -> Bool in
                var raised = false
                for task in core.tasks.values where task.status == .queued {
                    let levels = Int(min(3, max(0, now - task.runAt) / periodMilliseconds))
                    let rank = min(TaskPriority.critical.rank, task.priority.rank + levels)
                    guard rank > (core.agedRanks[task.id] ?? task.priority.rank) else { continue }
                    core.agedRanks[task.id] = rank
                    core.queue.enqueue(task, rank: rank)
                    raised = true
                }
                return raised
            }
            if raised { self.dispatch() }
        }
    }

    /// Deletes finished tasks older than the retention, once an hour.
    func scheduleRetentionSweep() {
        _ = eventLoop.scheduleRepeatedTask(initialDelay: .seconds(60), delay: .seconds(3600)) { _ in
            _ = self.purge(status: nil, olderThan: self.configuration.retention)
        }
    }

    // MARK: - Shutdown

    /// Stops starting tasks, waits up to `timeout` for running built-in tasks, then stops the
    /// rest and puts them back in the queue (nothing is marked failed by a shutdown), and
    /// waits for the last writes to commit.
    public func shutdown(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        try? await eventLoop.submit {
            self.core.withValue { core in
                core.isShuttingDown = true
                for (id, waiter) in core.claimWaiters {
                    waiter.promise.succeed([])
                    core.claimWaiters[id] = nil
                }
            }
        }.get()
        while ContinuousClock.now < deadline {
            let running = (try? await eventLoop.submit { self.core.value.runners.count }.get()) ?? 0
            if running == 0 { break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        try? await eventLoop.submit {
            let (handles, external) = self.core.withValue { core -> ([Task<Void, Never>], [TaskRecord]) in
                var handles: [Task<Void, Never>] = []
                var external: [TaskRecord] = []
                for (id, runner) in core.runners {
                    switch runner {
                    case .builtIn(let handle): if let handle { handles.append(handle) }
                    case .external:
                        guard var task = core.tasks[id] else { continue }
                        task.status = .queued
                        task.attempt -= 1
                        task.startedAt = nil
                        core.tasks[id] = task
                        core.runners[id] = nil
                        external.append(task)
                    }
                }
                return (handles, external)
            }
            for handle in handles { handle.cancel() }
            for task in external { self.persistLater(.save(task)) }
        }.get()
        // Give stopped processes their kill grace, then make sure the last writes are in.
        let stopDeadline = ContinuousClock.now + configuration.killGrace + .seconds(1)
        while ContinuousClock.now < stopDeadline {
            let running = (try? await eventLoop.submit { self.core.value.runners.count }.get()) ?? 0
            if running == 0 { break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        try? await eventLoop.flatSubmit { self.storedBarrier() }.get()
    }
}

/// How a built-in run failed, with what it produced (an `exec` task's output).
public enum TaskRunError: Error, CustomStringConvertible, Sendable {
    case failed(String, result: JSONValue?)

    public var description: String {
        switch self {
        case .failed(let message, _): message
        }
    }
}
