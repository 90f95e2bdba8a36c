import Foundation

/// A five-field cron schedule, `minute hour day-of-month month day-of-week`, read the way Vixie
/// cron and cronie read a crontab line, and evaluated in a given time zone.
///
/// ```swift
/// let weekdays = try CronExpression("30 9 * * mon-fri")
/// let berlin = TimeZone(identifier: "Europe/Berlin")!
/// weekdays.nextFire(after: .now, in: berlin)   // the next weekday at 09:30 Berlin time
/// ```
///
/// Each field is `*` or a comma-separated list of items; an item is a value, a range `a-b`, or
/// either of those or `*` followed by `/step`. `a/step` means `a-max/step`, as in systemd and
/// cronie. Months may be written `jan`…`dec` and days `sun`…`sat`, in any case, also in ranges
/// (`mon-fri`); in a day-of-week range `sun` may end the range (`fri-sun`). Day-of-week 0 and 7
/// are both Sunday. The macros `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily`
/// (`@midnight`) and `@hourly` stand for their usual five fields.
///
/// **Day-of-month and day-of-week.** As in Vixie cron, when both fields are restricted a day
/// matches if *either* matches (`0 0 1 * mon` fires on the 1st and on every Monday). A field
/// counts as unrestricted when its text starts with `*`, which Vixie cron and cronie also apply to
/// `*/2`: `0 0 */2 * mon` fires on odd-numbered days that are Mondays.
///
/// **Expressions that never fire**, such as `0 0 30 2 *` (no 30 February), are rejected when
/// parsed. This is decided from the fields alone: with the day fields combined by "and", some
/// allowed month must have some allowed day of month (February counting its 29th); in every
/// 400-year Gregorian cycle each such date falls on every weekday, so a weekday restriction
/// never makes an expression impossible, and with "or" every month has every weekday.
/// ``nextFire(after:in:)`` can therefore always find the next time.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written, without surrounding white space.
    public let text: String

    // One bit per allowed value: bit n set means value n is allowed.
    let minutes: UInt64
    let hours: UInt64
    let daysOfMonth: UInt64
    let months: UInt64
    /// Bits 0 (Sunday) … 6 (Saturday); a written 7 sets bit 0.
    let daysOfWeek: UInt64
    /// The field's text starts with `*`; see the type's discussion of day matching.
    let dayOfMonthIsStar: Bool
    let dayOfWeekIsStar: Bool
    /// Neither the minute nor the hour field starts with `*`: cronie's "fixed-time" job, which
    /// still runs when a daylight-saving jump skips its time.
    let isFixedTime: Bool

    /// Parses a cron expression.
    ///
    /// - Parameter text: Five fields separated by spaces or tabs, or a macro such as `@daily`.
    /// - Throws: ``CronExpressionError`` naming the field and the token that is wrong, or saying
    ///   that the expression can never fire.
    public init(_ text: String) throws(CronExpressionError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw .empty }
        var fields = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if fields.count == 1, trimmed.hasPrefix("@") {
            guard let expansion = Self.macros[trimmed.lowercased()] else {
                throw .unknownMacro(shortened(trimmed))
            }
            fields = expansion.split(separator: " ").map(String.init)
        }
        guard fields.count == 5 else { throw .wrongFieldCount(fields.count, expression: shortened(trimmed)) }

        self.text = trimmed
        minutes = try Self.parseField(fields[0], .minute)
        hours = try Self.parseField(fields[1], .hour)
        daysOfMonth = try Self.parseField(fields[2], .dayOfMonth)
        months = try Self.parseField(fields[3], .month)
        let weekdayBits = try Self.parseField(fields[4], .dayOfWeek)
        daysOfWeek = (weekdayBits | (weekdayBits >> 7)) & 0x7F  // 7 is Sunday, like 0
        dayOfMonthIsStar = fields[2].hasPrefix("*")
        dayOfWeekIsStar = fields[4].hasPrefix("*")
        isFixedTime = !fields[0].hasPrefix("*") && !fields[1].hasPrefix("*")

        if dayOfMonthIsStar || dayOfWeekIsStar {
            let possible = (1...12).contains { month in
                months & (1 << month) != 0 && daysOfMonth & Self.bits(1...Self.longestMonth[month]) != 0
            }
            guard possible else {
                throw .neverFires(expression: shortened(trimmed), dayOfMonth: fields[2], month: fields[3])
            }
        }
    }

    public var description: String { text }

    // MARK: - Next fire time

    /// The first time after `date` at which the expression fires, in `timeZone`.
    ///
    /// The result is strictly later than `date` and falls on a whole minute of local time. It is
    /// found by stepping through months, days, hours and minutes, skipping whole months or days
    /// that cannot match, so a yearly expression costs no more than a minutely one.
    ///
    /// Daylight-saving time, as cronie handles it:
    /// - A local time that does not exist (clocks spring forward over it) is not lost by a
    ///   fixed-time expression (minute and hour fields both not starting with `*`): it fires once
    ///   at the first instant after the jump, so `30 2 * * *` fires at 03:00 on that day in
    ///   Europe/Berlin. An expression whose minute or hour is `*…` simply has no fire times in the
    ///   skipped hour; its next match after the jump is its next fire time.
    /// - A local time that occurs twice (clocks fall back) fires once, at its first occurrence.
    ///   (cronie runs `*`-minute and `*`-hour jobs again in the repeated hour; here every local time
    ///   fires at most once, so `*/15 * * * *` pauses during the repeated hour.)
    ///
    /// - Parameters:
    ///   - date: The time to search after.
    ///   - timeZone: The zone whose local time the fields describe.
    /// - Returns: The next fire time, or `nil` only when `date` is not a finite time within
    ///   a few million years of now or the zone's rules leave no fire time in 400 years.
    public func nextFire(after date: Date, in timeZone: TimeZone) -> Date? {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        guard seconds.isFinite, abs(seconds) < 1e14 else { return nil }
        let instant = Int64(seconds)
        let localMinute = GregorianCalendarMath.floorDivision(instant + Int64(timeZone.secondsFromGMT(for: date)), 60).quotient
        var start = LocalMinute(minutesSinceEpoch: localMinute + 1)
        // A 400-year Gregorian cycle repeats every date on every weekday (see the type's discussion).
        let lastYear = start.year + 401

        // Each pass either returns or moves `start` forward: rejections happen only for local
        // times in a repeated hour or a skipped one, so the loop ends after a few dozen passes.
        while let candidate = firstMatch(from: start, throughYear: lastYear) {
            switch LocalTimeResolution(candidate, in: timeZone) {
            case .unique(let fire), .repeated(let fire):
                if fire > instant { return Date(timeIntervalSince1970: Double(fire)) }
                start = candidate.adding(minutes: 1)
            case .skipped(let jump):
                if isFixedTime, jump > instant { return Date(timeIntervalSince1970: Double(jump)) }
                // Resume at the local time the jump lands on (03:00 after 01:59:59 in Berlin).
                let landing = LocalMinute(minutesSinceEpoch: GregorianCalendarMath.floorDivision(jump + utcOffset(at: jump, timeZone), 60).quotient)
                start = landing.minutesSinceEpoch > candidate.minutesSinceEpoch ? landing : candidate.adding(minutes: 1)
            }
        }
        return nil
    }

    /// The first local minute at or after `start` whose fields all match, ignoring time zones.
    private func firstMatch(from start: LocalMinute, throughYear lastYear: Int64) -> LocalMinute? {
        var (year, month, day, hour, minute) = (start.year, start.month, start.day, start.hour, start.minute)
        while year <= lastYear {
            guard let nextMonth = Self.nextBit(months, from: month, through: 12) else {
                (year, month, day, hour, minute) = (year + 1, 1, 1, 0, 0)
                continue
            }
            if nextMonth != month { (month, day, hour, minute) = (nextMonth, 1, 0, 0) }

            let daysInMonth = GregorianCalendarMath.daysInMonth(year: year, month: month)
            guard let nextDay = firstMatchingDay(year: year, month: month, from: day, through: daysInMonth) else {
                (month, day, hour, minute) = (month + 1, 1, 0, 0)
                continue
            }
            if nextDay != day { (day, hour, minute) = (nextDay, 0, 0) }

            guard let nextHour = Self.nextBit(hours, from: hour, through: 23) else {
                (day, hour, minute) = (day + 1, 0, 0)
                continue
            }
            if nextHour != hour { (hour, minute) = (nextHour, 0) }

            guard let nextMinute = Self.nextBit(minutes, from: minute, through: 59) else {
                (hour, minute) = (hour + 1, 0)
                continue
            }
            return LocalMinute(year: year, month: month, day: day, hour: hour, minute: nextMinute)
        }
        return nil
    }

    private func firstMatchingDay(year: Int64, month: Int, from firstDay: Int, through lastDay: Int) -> Int? {
        guard firstDay <= lastDay else { return nil }
        var weekday = GregorianCalendarMath.weekday(
            daysSinceEpoch: GregorianCalendarMath.daysSinceEpoch(year: year, month: month, day: firstDay))
        for day in firstDay...lastDay {
            let dayOfMonthMatches = daysOfMonth & (1 << day) != 0
            let dayOfWeekMatches = daysOfWeek & (1 << weekday) != 0
            let matches =
                dayOfMonthIsStar || dayOfWeekIsStar
                ? dayOfMonthMatches && dayOfWeekMatches : dayOfMonthMatches || dayOfWeekMatches
            if matches { return day }
            weekday = (weekday + 1) % 7
        }
        return nil
    }

    /// The smallest allowed value in `value...limit`, if any.
    private static func nextBit(_ bits: UInt64, from value: Int, through limit: Int) -> Int? {
        guard value <= limit else { return nil }
        let remaining = bits >> value
        guard remaining != 0 else { return nil }
        let found = value + remaining.trailingZeroBitCount
        return found <= limit ? found : nil
    }

    // MARK: - Parsing

    private static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    /// Index = month; February counts its 29th.
    private static let longestMonth = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

    private static func bits(_ values: ClosedRange<Int>) -> UInt64 {
        values.reduce(0) { $0 | (1 << $1) }
    }

    private static func parseField(_ text: String, _ field: CronExpressionError.Field) throws(CronExpressionError) -> UInt64 {
        var result: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw .emptyListItem(field: field, fieldText: shortened(text)) }
            result |= try parseItem(String(item), field)
        }
        return result
    }

    /// One list item: `*`, `a`, `a-b`, each optionally followed by `/step`.
    private static func parseItem(_ item: String, _ field: CronExpressionError.Field) throws(CronExpressionError) -> UInt64 {
        let parts = item.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw .malformedItem(field: field, item: shortened(item)) }
        let rangeText = String(parts[0])

        var first: Int
        var last: Int
        if rangeText == "*" {
            (first, last) = (field.values.lowerBound, field.values.upperBound)
            if field == .dayOfWeek { last = 6 }  // `*` needs Sunday once; 7 would only repeat 0
        } else {
            let ends = rangeText.split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count <= 2, ends.allSatisfy({ !$0.isEmpty }), !rangeText.contains("*") else {
                throw .malformedItem(field: field, item: shortened(item))
            }
            first = try value(String(ends[0]), field)
            if ends.count == 2 {
                last = try value(String(ends[1]), field)
                // `fri-sun`: a day name ending a range means the Sunday at the end of the week.
                if field == .dayOfWeek, last == 0, first > 0, ends[1].first?.isLetter == true { last = 7 }
                guard first <= last else {
                    throw .backwardRange(field: field, range: shortened(rangeText))
                }
            } else {
                // `a/step` runs from a to the field's end; a lone `a` is just a.
                last = parts.count == 2 ? field.values.upperBound : first
            }
        }

        var step = 1
        if parts.count == 2 {
            let stepText = String(parts[1])
            let span = field == .dayOfWeek ? 7 : field.values.count
            guard !stepText.isEmpty, stepText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
            else { throw .stepNotANumber(field: field, step: shortened(stepText), item: shortened(item)) }
            guard stepText.utf8.count <= 4, let parsed = Int(stepText), (1...span).contains(parsed) else {
                throw .stepOutOfRange(field: field, step: shortened(stepText), item: shortened(item), limit: span)
            }
            step = parsed
        }
        return stride(from: first, through: last, by: step).reduce(0) { $0 | (1 << $1) }
    }

    private static func value(_ token: String, _ field: CronExpressionError.Field) throws(CronExpressionError) -> Int {
        if token.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            guard token.utf8.count <= 4, let number = Int(token), field.values.contains(number) else {
                throw .outOfRange(field: field, value: shortened(token))
            }
            return number
        }
        if let number = field.names[token.lowercased()] { return number }
        throw .notAValue(field: field, token: shortened(token))
    }
}

/// Tokens quoted in messages are cut short: they come from clients.
private func shortened(_ text: String) -> String {
    text.count > 40 ? String(text.prefix(40)) + "…" : text
}

// MARK: - Local time

/// A minute of local (wall-clock) time, as fields and as minutes since 1970-01-01 00:00 local.
private struct LocalMinute: Hashable {
    var year: Int64
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int

    init(year: Int64, month: Int, day: Int, hour: Int, minute: Int) {
        (self.year, self.month, self.day, self.hour, self.minute) = (year, month, day, hour, minute)
    }

    init(minutesSinceEpoch: Int64) {
        let (days, minuteOfDay) = GregorianCalendarMath.floorDivision(minutesSinceEpoch, 1440)
        let date = GregorianCalendarMath.civilDate(fromDaysSinceEpoch: days)
        self.init(year: date.year, month: date.month, day: date.day, hour: Int(minuteOfDay / 60), minute: Int(minuteOfDay % 60))
    }

    var minutesSinceEpoch: Int64 {
        GregorianCalendarMath.daysSinceEpoch(year: year, month: month, day: day) * 1440 + Int64(hour * 60 + minute)
    }

    func adding(minutes: Int64) -> LocalMinute { LocalMinute(minutesSinceEpoch: minutesSinceEpoch + minutes) }
}

/// Which instants a local time names in a zone.
private enum LocalTimeResolution: Equatable {
    /// The usual case: one instant (Unix seconds).
    case unique(Int64)
    /// Clocks fell back over it; the earlier of its two instants.
    case repeated(Int64)
    /// Clocks sprang forward over it; the instant of the jump.
    case skipped(jump: Int64)

    init(_ local: LocalMinute, in timeZone: TimeZone) {
        let wall = local.minutesSinceEpoch * 60
        // The offsets in force around this local time; a transition nearby shows up as two.
        var offsets: [Int64] = []
        for probe in [wall - 86_400, wall, wall + 86_400] {
            let offset = utcOffset(at: probe, timeZone)
            if !offsets.contains(offset) { offsets.append(offset) }
            let corrected = utcOffset(at: wall - offset, timeZone)
            if !offsets.contains(corrected) { offsets.append(corrected) }
        }
        let instants = offsets.map { wall - $0 }.filter { wall - utcOffset(at: $0, timeZone) == $0 }.sorted()
        if let first = instants.first {
            self = instants.count == 1 ? .unique(first) : .repeated(first)
            return
        }
        // No offset fits: the local time lies in a gap. Before the gap the smaller offset applies and
        // after it the larger one, so the jump lies between these two instants; bisect for it.
        var before = wall - (offsets.max() ?? 0)
        var after = wall - (offsets.min() ?? 0)
        let offsetBefore = utcOffset(at: before, timeZone)
        while after - before > 1 {
            let middle = before + (after - before) / 2
            if utcOffset(at: middle, timeZone) == offsetBefore { before = middle } else { after = middle }
        }
        self = .skipped(jump: after)
    }
}

/// The zone's offset from UTC in seconds at a Unix time.
private func utcOffset(at unixSeconds: Int64, _ timeZone: TimeZone) -> Int64 {
    Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(unixSeconds))))
}

// MARK: - Errors

/// Why a cron expression was refused. The ``description`` names the field and the token, for
/// example `cron field 'hour': 24 is out of range 0-23`; it is meant to be sent to the client
/// as it is (with `-32602`).
public enum CronExpressionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The five fields of an expression, named as in messages.
    public enum Field: String, Sendable, Hashable, CaseIterable {
        case minute
        case hour
        case dayOfMonth = "day-of-month"
        case month
        case dayOfWeek = "day-of-week"

        /// The values a number may take; day-of-week allows both 0 and 7 for Sunday.
        public var values: ClosedRange<Int> {
            switch self {
            case .minute: 0...59
            case .hour: 0...23
            case .dayOfMonth: 1...31
            case .month: 1...12
            case .dayOfWeek: 0...7
            }
        }

        var names: [String: Int] {
            switch self {
            case .month:
                ["jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
                 "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12]
            case .dayOfWeek: ["sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6]
            case .minute, .hour, .dayOfMonth: [:]
            }
        }
    }

    /// Nothing but white space.
    case empty
    /// Not five fields; carries the count and the expression.
    case wrongFieldCount(Int, expression: String)
    /// An `@` word that is not one of the macros.
    case unknownMacro(String)
    /// Two commas in a row, or a comma at either end: `1,,2`.
    case emptyListItem(field: Field, fieldText: String)
    /// An item that is not `*`, a value, or a range, optionally with `/step`: `1-2-3`, `*/5/2`, `-5`.
    case malformedItem(field: Field, item: String)
    /// A token that is neither a number nor a name this field knows.
    case notAValue(field: Field, token: String)
    /// A number outside ``Field/values``.
    case outOfRange(field: Field, value: String)
    /// A range whose start is after its end: `5-1`.
    case backwardRange(field: Field, range: String)
    /// A step that is not a number: `*/x`.
    case stepNotANumber(field: Field, step: String, item: String)
    /// A step outside 1 … `limit` (the number of values the field has).
    case stepOutOfRange(field: Field, step: String, item: String, limit: Int)
    /// Valid fields that no date satisfies, such as `0 0 30 2 *`.
    case neverFires(expression: String, dayOfMonth: String, month: String)

    /// The field at fault, when one is.
    public var field: Field? {
        switch self {
        case .empty, .wrongFieldCount, .unknownMacro: nil
        case .neverFires: .dayOfMonth
        case .emptyListItem(let field, _), .malformedItem(let field, _), .notAValue(let field, _),
            .outOfRange(let field, _), .backwardRange(let field, _), .stepNotANumber(let field, _, _),
            .stepOutOfRange(let field, _, _, _):
            field
        }
    }

    public var description: String {
        switch self {
        case .empty:
            "cron expression is empty; write five fields (minute hour day-of-month month day-of-week) or a macro such as @daily"
        case .wrongFieldCount(let count, let expression):
            "cron expression '\(expression)' has \(count) field\(count == 1 ? "" : "s"); expected 5: minute hour day-of-month month day-of-week"
        case .unknownMacro(let macro):
            "unknown cron macro '\(macro)'; expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
        case .emptyListItem(let field, let fieldText):
            "cron field '\(field.rawValue)': empty item in list '\(fieldText)'"
        case .malformedItem(let field, let item):
            "cron field '\(field.rawValue)': '\(item)' is not a valid item; expected *, a value or a range a-b, optionally followed by /step"
        case .notAValue(let field, let token):
            switch field {
            case .month: "cron field 'month': '\(token)' is not a number or a month name (jan-dec)"
            case .dayOfWeek: "cron field 'day-of-week': '\(token)' is not a number or a day name (sun-sat)"
            case .minute, .hour, .dayOfMonth: "cron field '\(field.rawValue)': '\(token)' is not a number"
            }
        case .outOfRange(let field, let value):
            "cron field '\(field.rawValue)': \(value) is out of range \(field.values.lowerBound)-\(field.values.upperBound)"
        case .backwardRange(let field, let range):
            "cron field '\(field.rawValue)': range '\(range)' goes backwards; write the smaller value first, or a list such as '22-23,0-2' to wrap around"
        case .stepNotANumber(let field, let step, let item):
            "cron field '\(field.rawValue)': step '\(step)' in '\(item)' is not a number"
        case .stepOutOfRange(let field, let step, let item, let limit):
            "cron field '\(field.rawValue)': step \(step) in '\(item)' is out of range 1-\(limit)"
        case .neverFires(let expression, let dayOfMonth, let month):
            "cron expression '\(expression)' never fires: day-of-month '\(dayOfMonth)' does not occur in month '\(month)'"
        }
    }
}
