import Foundation

/// When a schedule runs: at a fixed interval, on a cron expression, or once at a given time.
///
/// The scheduler keeps, per schedule, the time it planned to run next, and asks
/// ``dueRun(lastPlanned:now:in:)`` at start-up and on each tick what to do:
///
/// ```swift
/// let trigger = ScheduleTrigger.cron(try CronExpression("0 3 * * *"))
/// let due = trigger.dueRun(lastPlanned: stored.nextRunAt, now: clock.now, in: .current)
/// if due.runNow { submitTask() }
/// stored.nextRunAt = due.next   // nil: the schedule is finished
/// ```
public enum ScheduleTrigger: Sendable, Hashable, CustomStringConvertible {
    /// Every `seconds` seconds, keeping the phase of the first planned run. An interval that is
    /// not finite and greater than zero never runs; reject it where the schedule is decoded.
    case every(seconds: Double)
    /// On each fire time of a cron expression, in the time zone passed to the methods.
    case cron(CronExpression)
    /// Once, at this time.
    case at(Date)

    /// The first run strictly after `date`.
    ///
    /// - Parameters:
    ///   - date: The time to search after.
    ///   - timeZone: The zone cron expressions are read in; ignored by the other cases.
    /// - Returns: `date + seconds` for `every`; the next fire time for `cron`; the time itself for
    ///   `at` if it is later than `date`. `nil` when there is no later run.
    public func nextRun(after date: Date, in timeZone: TimeZone) -> Date? {
        switch self {
        case .every(let seconds):
            guard Self.isUsable(interval: seconds) else { return nil }
            return date.addingTimeInterval(seconds)
        case .cron(let expression):
            return expression.nextFire(after: date, in: timeZone)
        case .at(let time):
            return time > date ? time : nil
        }
    }

    /// What the scheduler should do now, given the run it had planned.
    ///
    /// After downtime a schedule runs **once** to catch up, not once per missed slot: if the planned
    /// time has come (whether it is this tick's slot or one long past), the answer is to run now and
    /// plan the first slot strictly after `now`; slots in between are skipped.
    ///
    /// - Parameters:
    ///   - lastPlanned: The stored next run, or `nil` for a schedule that has never been planned.
    ///   - now: The current time, from the scheduler's clock.
    ///   - timeZone: The zone cron expressions are read in.
    /// - Returns: Whether to run now, and the run to plan next (`nil`: none, the schedule is done).
    ///   - `lastPlanned == nil`: no run now; next is ``nextRun(after:in:)`` of `now` (for `at`,
    ///     its time if still ahead).
    ///   - `lastPlanned <= now`: run now; next is the first slot after `now`. For `every` the slots
    ///     are `lastPlanned + k·seconds`, so the phase is kept; `at` has no next run.
    ///   - `lastPlanned > now`: no run now; next is the earlier of `lastPlanned` and the first slot
    ///     after `now`, so a clock set back (or a changed time zone) does not leave a cron or
    ///     interval schedule waiting for a time computed from the old clock.
    public func dueRun(lastPlanned: Date?, now: Date, in timeZone: TimeZone) -> Due {
        guard let lastPlanned else { return Due(runNow: false, next: nextRun(after: now, in: timeZone)) }
        guard lastPlanned <= now else {
            let fresh = nextRun(after: now, in: timeZone)
            return Due(runNow: false, next: fresh.map { Swift.min($0, lastPlanned) } ?? lastPlanned)
        }
        switch self {
        case .every(let seconds):
            guard Self.isUsable(interval: seconds) else { return Due(runNow: true, next: nil) }
            let elapsedSlots = (now.timeIntervalSince(lastPlanned) / seconds).rounded(.down) + 1
            var next = lastPlanned.addingTimeInterval(elapsedSlots * seconds)
            if next <= now { next = next.addingTimeInterval(seconds) }  // rounding at a slot boundary
            return Due(runNow: true, next: next)
        case .cron, .at:
            return Due(runNow: true, next: nextRun(after: now, in: timeZone))
        }
    }

    /// The answer of ``ScheduleTrigger/dueRun(lastPlanned:now:in:)``.
    public struct Due: Sendable, Hashable {
        /// Submit one run of the schedule now.
        public var runNow: Bool
        /// The run to store as planned; `nil` when the schedule will not run again.
        public var next: Date?

        public init(runNow: Bool, next: Date?) {
            self.runNow = runNow
            self.next = next
        }
    }

    /// `every 60s`, `cron 0 3 * * *`, `at 2026-11-25T14:30:00.000Z`.
    public var description: String {
        switch self {
        case .every(let seconds):
            let whole = seconds.rounded() == seconds && abs(seconds) < 1e15
            return "every \(whole ? String(Int64(seconds)) : String(seconds))s"
        case .cron(let expression): return "cron \(expression.text)"
        case .at(let time): return "at \(RFC3339.string(from: time))"
        }
    }

    private static func isUsable(interval seconds: Double) -> Bool {
        seconds.isFinite && seconds > 0
    }
}
