import Foundation
import Testing

@testable import SidecarTasks

private func instant(_ text: String) throws -> Date {
    try Date.ISO8601FormatStyle().parse(text)
}

private func utc() throws -> TimeZone {
    try #require(TimeZone(identifier: "UTC"))
}

@Suite("ScheduleTrigger")
struct ScheduleTriggerTests {
    // MARK: - nextRun

    @Test("every: the next run is one interval later")
    func everyNextRun() throws {
        let start = try instant("2026-01-01T00:00:00Z")
        #expect(ScheduleTrigger.every(seconds: 90).nextRun(after: start, in: try utc()) == start.addingTimeInterval(90))
        #expect(ScheduleTrigger.every(seconds: 0.5).nextRun(after: start, in: try utc()) == start.addingTimeInterval(0.5))
    }

    @Test("every: an interval that is not a positive finite number never runs", arguments: [0, -5, Double.infinity, Double.nan])
    func everyUnusable(seconds: Double) throws {
        let now = try instant("2026-01-01T00:00:00Z")
        let trigger = ScheduleTrigger.every(seconds: seconds)
        #expect(trigger.nextRun(after: now, in: try utc()) == nil)
        #expect(trigger.dueRun(lastPlanned: now.addingTimeInterval(-10), now: now, in: try utc()) == .init(runNow: true, next: nil))
    }

    @Test("cron: the next run is the expression's next fire time in the given zone")
    func cronNextRun() throws {
        let trigger = ScheduleTrigger.cron(try CronExpression("0 9 * * *"))
        let berlin = try #require(TimeZone(identifier: "Europe/Berlin"))
        #expect(trigger.nextRun(after: try instant("2026-07-01T00:00:00Z"), in: berlin) == (try instant("2026-07-01T07:00:00Z")))
        #expect(trigger.nextRun(after: try instant("2026-07-01T00:00:00Z"), in: try utc()) == (try instant("2026-07-01T09:00:00Z")))
    }

    @Test("at: its time if still ahead, else nothing")
    func atNextRun() throws {
        let time = try instant("2026-11-25T14:30:00Z")
        let trigger = ScheduleTrigger.at(time)
        #expect(trigger.nextRun(after: time.addingTimeInterval(-1), in: try utc()) == time)
        #expect(trigger.nextRun(after: time, in: try utc()) == nil)
        #expect(trigger.nextRun(after: time.addingTimeInterval(1), in: try utc()) == nil)
    }

    // MARK: - dueRun

    @Test("a schedule never planned is planned, not run")
    func neverPlanned() throws {
        let now = try instant("2026-01-01T10:17:00Z")
        #expect(ScheduleTrigger.every(seconds: 60).dueRun(lastPlanned: nil, now: now, in: try utc())
            == .init(runNow: false, next: now.addingTimeInterval(60)))
        #expect(ScheduleTrigger.cron(try CronExpression("0 * * * *")).dueRun(lastPlanned: nil, now: now, in: try utc())
            == .init(runNow: false, next: try instant("2026-01-01T11:00:00Z")))
        let future = try instant("2026-02-01T00:00:00Z")
        #expect(ScheduleTrigger.at(future).dueRun(lastPlanned: nil, now: now, in: try utc()) == .init(runNow: false, next: future))
        #expect(ScheduleTrigger.at(now.addingTimeInterval(-1)).dueRun(lastPlanned: nil, now: now, in: try utc())
            == .init(runNow: false, next: nil))
    }

    @Test("before the planned time: wait for it")
    func notYetDue() throws {
        let now = try instant("2026-01-01T10:17:00Z")
        let planned = try instant("2026-01-01T11:00:00Z")
        #expect(ScheduleTrigger.cron(try CronExpression("0 * * * *")).dueRun(lastPlanned: planned, now: now, in: try utc())
            == .init(runNow: false, next: planned))
        #expect(ScheduleTrigger.every(seconds: 3600).dueRun(lastPlanned: planned, now: now, in: try utc())
            == .init(runNow: false, next: planned))
        #expect(ScheduleTrigger.at(planned).dueRun(lastPlanned: planned, now: now, in: try utc())
            == .init(runNow: false, next: planned))
    }

    @Test("at the planned time: run, and plan the next slot")
    func dueOnTime() throws {
        let planned = try instant("2026-01-01T11:00:00Z")
        #expect(ScheduleTrigger.cron(try CronExpression("0 * * * *")).dueRun(lastPlanned: planned, now: planned, in: try utc())
            == .init(runNow: true, next: try instant("2026-01-01T12:00:00Z")))
        #expect(ScheduleTrigger.every(seconds: 600).dueRun(lastPlanned: planned, now: planned, in: try utc())
            == .init(runNow: true, next: planned.addingTimeInterval(600)))
        #expect(ScheduleTrigger.at(planned).dueRun(lastPlanned: planned, now: planned, in: try utc())
            == .init(runNow: true, next: nil))
    }

    @Test("after downtime: run once, then the first slot after now")
    func catchUpOnce() throws {
        let planned = try instant("2026-01-01T10:00:00Z")
        let now = try instant("2026-01-03T15:20:00Z")  // 53 hourly slots missed
        #expect(ScheduleTrigger.cron(try CronExpression("0 * * * *")).dueRun(lastPlanned: planned, now: now, in: try utc())
            == .init(runNow: true, next: try instant("2026-01-03T16:00:00Z")))
        // `every` keeps its phase: slots at 10:00 + k·1400 s; the first after 15:20 on the 3rd
        // (53 h 20 min = 137.1 intervals later) is 138 intervals on, 15:40.
        #expect(ScheduleTrigger.every(seconds: 1400).dueRun(lastPlanned: planned, now: now, in: try utc())
            == .init(runNow: true, next: try instant("2026-01-03T15:40:00Z")))
        // Now exactly on a later slot: that slot is the one run now, the next is one interval on.
        #expect(ScheduleTrigger.every(seconds: 1500).dueRun(lastPlanned: planned, now: try instant("2026-01-01T11:15:00Z"), in: try utc())
            == .init(runNow: true, next: try instant("2026-01-01T11:40:00Z")))
        #expect(ScheduleTrigger.at(planned).dueRun(lastPlanned: planned, now: now, in: try utc()) == .init(runNow: true, next: nil))
    }

    @Test("a clock set back does not leave the schedule waiting for the old clock's time")
    func clockSetBack() throws {
        let now = try instant("2026-01-01T10:17:00Z")
        let plannedByOldClock = try instant("2026-01-02T10:00:00Z")
        #expect(ScheduleTrigger.every(seconds: 60).dueRun(lastPlanned: plannedByOldClock, now: now, in: try utc())
            == .init(runNow: false, next: now.addingTimeInterval(60)))
        #expect(ScheduleTrigger.cron(try CronExpression("*/5 * * * *")).dueRun(lastPlanned: plannedByOldClock, now: now, in: try utc())
            == .init(runNow: false, next: try instant("2026-01-01T10:20:00Z")))
    }

    @Test("a scheduler ticking every minute, down for five hours, runs each slot once and catches up once")
    func simulatedScheduler() throws {
        let trigger = ScheduleTrigger.cron(try CronExpression("*/10 * * * *"))
        let zone = try utc()
        let start = try instant("2026-01-01T00:00:30Z")
        let downFrom = try instant("2026-01-01T06:00:00Z")
        let downUntil = try instant("2026-01-01T11:00:00Z")
        var planned: Date? = try instant("2026-01-01T00:00:00Z")
        var runs: [Date] = []
        for minute in 0..<(24 * 60) {
            let now = start.addingTimeInterval(Double(minute) * 60)
            if now >= downFrom, now < downUntil { continue }
            let due = trigger.dueRun(lastPlanned: planned, now: now, in: zone)
            if due.runNow { runs.append(now) }
            planned = due.next
        }
        // Six slots an hour in the 19 hours up; the 30 slots missed from 06:00 to 10:50 add no runs:
        // the run at 11:00:30 is the single catch-up, and it stands for the 11:00 slot too.
        #expect(runs.count == 19 * 6)
        #expect(runs.filter { $0 >= downUntil && $0 < downUntil.addingTimeInterval(600) } == [downUntil.addingTimeInterval(30)])
        #expect(runs.allSatisfy { $0 < downFrom || $0 >= downUntil })
        #expect(runs.last == (try instant("2026-01-01T23:50:30Z")))
    }

    @Test("description")
    func description() throws {
        #expect(ScheduleTrigger.every(seconds: 60).description == "every 60s")
        #expect(ScheduleTrigger.every(seconds: 1.5).description == "every 1.5s")
        #expect(ScheduleTrigger.cron(try CronExpression("@daily")).description == "cron @daily")
        #expect(ScheduleTrigger.at(try instant("2026-11-25T14:30:00Z")).description == "at 2026-11-25T14:30:00.000Z")
    }
}
