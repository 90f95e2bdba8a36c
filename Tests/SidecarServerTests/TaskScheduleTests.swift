import Foundation
import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

/// Named schedules against a real daemon: intervals, one-off times, cron validation, overlap,
/// and what a restart and downtime do to them.
@Suite("Task schedules", .timeLimit(.minutes(2)))
struct TaskScheduleTests {
    @Test("every 1 s submits a task each second; the tasks carry the schedule's name")
    func everySecond() async throws {
        try await withTaskDaemon { daemon in
            let connection = try daemon.connect()
            let schedule = try connection.result("tasks.schedule", ["name": "tick", "task": ["kind": "sidecar.noop", "payload": "beat"], "every": 1])
            #expect(schedule["name"] == "tick" && schedule["every"] == 1 && schedule["overlap"] == "skip", "\(schedule)")
            #expect(schedule["lastTaskId"] == .null, "no run before the first second: \(schedule)")

            var first: String?
            #expect(try await pollUntil(timeout: 4) {
                first = try connection.schedule(named: "tick")?["lastTaskId"]?.stringValue
                return first != nil
            }, "a first run")
            var runs: [JSONValue] = []
            var last: String?
            #expect(try await pollUntil(timeout: 6, interval: 0.1) {
                last = try connection.schedule(named: "tick")?["lastTaskId"]?.stringValue
                runs = try connection.allTasks().filter { $0["schedule"] == "tick" }
                return runs.count >= 3 && last != first
            }, "\(runs.count) runs in 6 s")
            for task in runs {
                #expect(task["kind"] == "sidecar.noop" && task["payload"] == "beat", "\(task)")
            }
            let newest = try #require(last)
            #expect(newest != first, "lastTaskId moves on with each run")
            #expect(try connection.task(newest)["schedule"] == "tick")
            let created = runs.compactMap { taskTime($0["createdAt"]) }
            for (earlier, later) in zip(created, created.dropFirst()) {
                #expect(later.timeIntervalSince(earlier) > 0.5, "one run per slot, not a burst: \(created)")
            }

            #expect(try connection.result("tasks.unschedule", ["name": "tick"]) == ["unscheduled": true])
            #expect(try connection.schedule(named: "tick") == nil)
            try connection.error("tasks.unschedule", ["name": "tick"], code: -32004)
        }
    }

    @Test("at a time 1 s ahead runs once, then the schedule has no next run")
    func atRunsOnce() async throws {
        try await withTaskDaemon { daemon in
            let connection = try daemon.connect()
            let at = Date().addingTimeInterval(1)
            let schedule = try connection.result("tasks.schedule", ["name": "once", "task": ["kind": "sidecar.noop"], "at": .string(rfc3339(at))])
            #expect(schedule["nextRunAt"]?.stringValue != nil, "\(schedule)")

            var taskID: String?
            #expect(try await pollUntil(timeout: 5) {
                taskID = try connection.schedule(named: "once")?["lastTaskId"]?.stringValue
                return taskID != nil
            }, "the schedule ran")
            let task = try connection.task(try #require(taskID))
            let created = try #require(taskTime(task["createdAt"]))
            #expect(created.timeIntervalSince(at) >= -0.01, "not before its time: created \(created), at \(at)")
            #expect(task["schedule"] == "once")

            await letTimePass(1.2)
            let runs = try connection.allTasks().filter { $0["schedule"] == "once" }
            #expect(runs.count == 1, "\(runs)")
            #expect(try connection.schedule(named: "once")?["nextRunAt"] == .null)
        }
    }

    @Test("an invalid cron expression is -32602 naming the field cron; a valid one is accepted")
    func cronErrors() async throws {
        try await withTaskDaemon { daemon in
            let connection = try daemon.connect()
            for expression in ["* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "5-1 * * * *", "*/0 * * * *", "0 0 30 2 *", "every day", ""] {
                try connection.expectInvalid("tasks.schedule", ["name": "bad", "task": ["kind": "sidecar.noop"], "cron": .string(expression)],
                                             field: "cron")
            }
            #expect(try connection.schedule(named: "bad") == nil)
            let valid = try connection.result("tasks.schedule", ["name": "nightly", "task": ["kind": "sidecar.noop"], "cron": "30 3 * * mon-fri"])
            #expect(valid["cron"] == "30 3 * * mon-fri" && valid["nextRunAt"]?.stringValue != nil, "\(valid)")
        }
    }

    @Test("overlap skip: no run starts while the previous one is unfinished")
    func overlapSkip() async throws {
        try await withTaskDaemon { daemon in
            let connection = try daemon.connect()
            _ = try connection.result("tasks.schedule", [
                "name": "slow", "task": shellTask("sleep 2.5"), "every": 1, "runImmediately": true,
            ])
            let first = try #require(try connection.schedule(named: "slow")?["lastTaskId"]?.stringValue, "runImmediately ran it")

            // Two slots pass while it runs; the next run comes only once it has finished.
            var runs: [JSONValue] = []
            #expect(try await pollUntil(timeout: 8, interval: 0.1) {
                runs = try connection.allTasks().filter { $0["schedule"] == "slow" }
                return runs.count >= 2
            }, "a second run after the first finished")
            #expect(runs.first?["id"] == .string(first))
            let firstTask = try connection.task(first)
            let firstStarted = try #require(taskTime(firstTask["startedAt"]), "\(firstTask)")
            let firstFinished = try #require(taskTime(firstTask["finishedAt"]), "the first run is over: \(firstTask)")
            #expect(firstTask["status"] == "succeeded" && firstFinished.timeIntervalSince(firstStarted) >= 2.4, "\(firstTask)")
            // Each run (ids sort by creation) was created only after the one before it finished.
            for (previous, next) in zip(runs, runs.dropFirst()) {
                let finished = try #require(taskTime(previous["finishedAt"]), "\(next["id"] ?? nil) created while \(previous) ran")
                let created = try #require(taskTime(next["createdAt"]))
                #expect(created >= finished.addingTimeInterval(-0.001), "\(next["id"] ?? nil) created at \(created), before \(previous["id"] ?? nil) finished at \(finished)")
            }
            _ = try connection.result("tasks.unschedule", ["name": "slow"])
        }
    }

    @Test("schedules survive a restart: listed again and running")
    func surviveRestart() async throws {
        try await withTaskDaemon { daemon in
            do {
                let connection = try daemon.connect()
                _ = try connection.result("tasks.schedule", ["name": "kept", "task": ["kind": "sidecar.noop", "payload": 1], "every": 1])
            }
            try await daemon.stop(signal: SIGTERM)
            let restartedAt = Date()
            try daemon.restart()
            try await daemon.waitUntilReady()
            let connection = try daemon.connectAdmitted()
            let listed = try #require(try connection.schedule(named: "kept"), "tasks.schedules after the restart")
            #expect(listed["every"] == 1 && listed["task"]?["kind"] == "sidecar.noop" && listed["task"]?["payload"] == 1, "\(listed)")

            var ran: JSONValue?
            #expect(try await pollUntil(timeout: 5) {
                ran = try connection.allTasks().first {
                    $0["schedule"] == "kept" && $0["status"] == "succeeded" && (taskTime($0["createdAt"]) ?? .distantPast) > restartedAt
                }
                return ran != nil
            }, "the schedule runs after the restart")
        }
    }

    @Test("after 3 s of downtime an every-1-s schedule runs once to catch up, not once per missed second")
    func catchUpOnce() async throws {
        try await withTaskDaemon { daemon in
            let grid: Date
            let stoppedAt: Date
            do {
                let connection = try daemon.connect()
                let made = try connection.result("tasks.schedule", ["name": "catchup", "task": ["kind": "sidecar.noop"], "every": 1])
                grid = try #require(taskTime(made["nextRunAt"]), "\(made)")
                // Let it run once, so that it is a schedule in its stride.
                #expect(try await pollUntil(timeout: 4) { try connection.schedule(named: "catchup")?["lastTaskId"]?.stringValue != nil })
            }
            try await daemon.stop(signal: SIGTERM)
            stoppedAt = Date()
            await letTimePass(3)
            try daemon.restart()
            try await daemon.waitUntilReady()
            let readyAt = Date()
            let connection = try daemon.connectAdmitted()

            // Runs after the restart, once a couple have come.
            var runs: [Date] = []
            #expect(try await pollUntil(timeout: 5, interval: 0.05) {
                runs = try connection.allTasks().filter { $0["schedule"] == "catchup" }
                    .compactMap { taskTime($0["createdAt"]) }.filter { $0 > stoppedAt }.sorted()
                return runs.count >= 2
            }, "runs after the restart: \(runs)")
            let catchUp = try #require(runs.first)
            #expect(catchUp.timeIntervalSince(readyAt) < 1, "the catch-up run comes within the first second: \(catchUp) vs ready \(readyAt)")
            // The slots keep their phase (grid + k s); the next slot after the catch-up run is when
            // the schedule next runs, so nothing else may come before it.
            let slotsPassed = (catchUp.timeIntervalSince(grid)).rounded(.down) + 1
            let nextSlot = grid.addingTimeInterval(slotsPassed)
            // (Times are whole milliseconds; half a millisecond absorbs the parsing's rounding.)
            let beforeNextSlot = runs.filter { $0 < nextSlot.addingTimeInterval(-0.0005) }
            #expect(beforeNextSlot.count == 1, "one catch-up run, not one per missed slot: \(runs), next slot \(nextSlot)")
        }
    }
}
