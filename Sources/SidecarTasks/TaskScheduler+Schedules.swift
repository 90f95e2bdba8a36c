import Foundation
import NIOCore
import SidecarProtocol

/// Named schedules: `every` an interval, `cron` in the local time zone, `at` a time. After
/// downtime a schedule runs once to catch up, not once per missed slot.
extension TaskScheduler {
    /// `tasks.schedule`: creates or replaces the schedule named `schedule.name`; with
    /// `runImmediately`, also submits a run now. Answered once stored.
    public func schedule(_ schedule: TaskSchedule, runImmediately: Bool) -> EventLoopFuture<TaskSchedule> {
        onLoop {
            let now = Self.now()
            var schedule = schedule
            let previous = self.core.value.schedules[schedule.name]
            schedule.lastRunAt = previous?.lastRunAt
            schedule.lastTaskID = previous?.lastTaskID
            schedule.nextRunAt = schedule.trigger.nextRun(after: Date(unixMilliseconds: now), in: .current).map(\.unixMilliseconds)
            if runImmediately { schedule = self.run(schedule, now: now) }
            self.core.withValue { $0.schedules[schedule.name] = schedule }
            self.updateActiveSchedules()
            let stored = schedule
            return self.persistSchedule(.saveSchedule(stored)).map {
                self.rescheduleTick()
                return stored
            }
        }
    }

    /// `tasks.unschedule`: removes the schedule (its unfinished tasks go on). `false` when unknown.
    public func unschedule(name: String) -> EventLoopFuture<Bool> {
        onLoop {
            guard self.core.withValue({ $0.schedules.removeValue(forKey: name) }) != nil else {
                return self.eventLoop.makeSucceededFuture(false)
            }
            self.updateActiveSchedules()
            return self.persistSchedule(.deleteSchedule(name)).map { true }
        }
    }

    /// `tasks.schedules`, by name.
    public func schedules() -> EventLoopFuture<[TaskSchedule]> {
        onLoop {
            self.eventLoop.makeSucceededFuture(self.core.value.schedules.values.sorted { $0.name < $1.name })
        }
    }

    /// Loads the stored schedules; called once from ``start()``.
    func loadSchedules() -> EventLoopFuture<Void> {
        eventLoop.makeFutureWithTask {
            try await self.database.read { db in try TaskStore.schedules(in: db) }
        }.map { schedules in
            self.core.withValue { core in
                for schedule in schedules { core.schedules[schedule.name] = schedule }
            }
            self.updateActiveSchedules()
            self.runDueSchedules()
            self.rescheduleTick()
        }
    }

    /// Submits a run of every schedule whose planned time has come (once, however many slots
    /// were missed) and plans its next run.
    func runDueSchedules() {
        let now = Self.now()
        let due = core.value.schedules.values.filter { schedule in
            guard let next = schedule.nextRunAt else { return false }
            return next <= now
        }
        guard !due.isEmpty, !core.value.isShuttingDown else { return }
        for var schedule in due {
            let plan = schedule.trigger.dueRun(
                lastPlanned: schedule.nextRunAt.map(Date.init(unixMilliseconds:)), now: Date(unixMilliseconds: now), in: .current)
            if plan.runNow { schedule = run(schedule, now: now) }
            schedule.nextRunAt = plan.next?.unixMilliseconds
            core.withValue { $0.schedules[schedule.name] = schedule }
            persistLater(.saveSchedule(schedule))
        }
        updateActiveSchedules()
    }

    /// Submits one run of `schedule` unless its previous run is unfinished and it skips overlaps.
    private func run(_ schedule: TaskSchedule, now: Int64) -> TaskSchedule {
        var schedule = schedule
        if schedule.overlap == .skip, let last = schedule.lastTaskID, core.value.tasks[last] != nil {
            logger.info("schedule run skipped: the previous run is unfinished", metadata: ["schedule": "\(schedule.name)", "task": "\(last)"])
            return schedule
        }
        let submission: TaskSubmission
        do {
            submission = try TaskSubmission(json: schedule.task, field: "task.", now: now)
        } catch {
            logger.error("schedule's task is invalid", metadata: ["schedule": "\(schedule.name)", "error": "\(error.message)"])
            return schedule
        }
        let (results, created) = createTasks([submission], schedule: schedule.name)
        for task in created { persistLater(.save(task)) }
        queueCreated(created)
        schedule.lastRunAt = now
        schedule.lastTaskID = results.first?.task.id
        return schedule
    }

    private func persistSchedule(_ write: TaskSchedulerCore.Write) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        core.withValue { core in
            core.unstored.append(write)
            core.unstoredPromises.append(promise)
            core.issuedSequence += 1
        }
        flushIfNeeded()
        return promise.futureResult
    }

    private func updateActiveSchedules() {
        let active = core.value.schedules.values.filter { $0.nextRunAt != nil }.count
        activeSchedules.withLockedValue { $0 = active }
    }
}

extension Date {
    init(unixMilliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(unixMilliseconds) / 1000)
    }

    var unixMilliseconds: Int64 {
        Int64((timeIntervalSince1970 * 1000).rounded())
    }
}
