import Foundation
import Testing

@testable import SidecarTasks

/// Parses an ISO 8601 time with Foundation's own parser, so expected values do not depend on
/// the code under test.
private func instant(_ text: String) throws -> Date {
    try Date.ISO8601FormatStyle().parse(text)
}

private func zone(_ identifier: String) throws -> TimeZone {
    try #require(TimeZone(identifier: identifier))
}

/// The first `count` fire times after `start`, as UTC instants.
private func fireTimes(_ expression: String, after start: String, count: Int, in zoneIdentifier: String = "UTC")
    throws -> [Date]
{
    let cron = try CronExpression(expression)
    let timeZone = try zone(zoneIdentifier)
    var times: [Date] = []
    var cursor = try instant(start)
    for _ in 0..<count {
        guard let next = cron.nextFire(after: cursor, in: timeZone) else { break }
        times.append(next)
        cursor = next
    }
    return times
}

@Suite("CronExpression parsing and fire times (UTC)")
struct CronExpressionTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var expression: String
        var after: String
        var expected: [String]
        var testDescription: String { "'\(expression)' after \(after)" }
    }

    // 2026-01-01 is a Thursday.
    static let cases: [Case] = [
        Case(expression: "* * * * *", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z", "2026-01-01T00:03:00Z"]),
        Case(expression: "*/15 * * * *", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z"]),
        Case(expression: "10-50/20 * * * *", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-01T00:10:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:50:00Z", "2026-01-01T01:10:00Z"]),
        Case(expression: "5/20 * * * *", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-01T00:05:00Z", "2026-01-01T00:25:00Z", "2026-01-01T00:45:00Z", "2026-01-01T01:05:00Z"]),
        Case(expression: "1,5,10 0 * * *", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-01T00:01:00Z", "2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z", "2026-01-02T00:01:00Z"]),
        Case(expression: "0 9-17/4 * * *", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-01T09:00:00Z", "2026-01-01T13:00:00Z", "2026-01-01T17:00:00Z", "2026-01-02T09:00:00Z"]),
        Case(expression: "05 09 * * *", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-01T09:05:00Z", "2026-01-02T09:05:00Z"]),
        Case(expression: "  0  0\t* * *  ", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-02T00:00:00Z"]),
        // Day names, ranges of names, mixed case.
        Case(expression: "30 9 * * mon-fri", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-01T09:30:00Z", "2026-01-02T09:30:00Z", "2026-01-05T09:30:00Z", "2026-01-06T09:30:00Z"]),
        Case(expression: "30 9 * * MON-Fri", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-01T09:30:00Z", "2026-01-02T09:30:00Z", "2026-01-05T09:30:00Z", "2026-01-06T09:30:00Z"]),
        Case(expression: "0 0 * * 0", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"]),
        Case(expression: "0 0 * * 7", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"]),
        Case(expression: "0 0 * * sun", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"]),
        Case(expression: "0 0 * * fri-sun", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"]),
        Case(expression: "0 0 * * 5-7", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"]),
        Case(expression: "0 0 * * */3", after: "2026-01-01T00:00:00Z",  // Sunday, Wednesday, Saturday
             expected: ["2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-07T00:00:00Z"]),
        // Month names and ranges.
        Case(expression: "0 0 1 jan,jul *", after: "2026-01-01T00:00:00Z",
             expected: ["2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"]),
        Case(expression: "0 0 1 JAN-mar *", after: "2026-01-01T00:00:00Z",
             expected: ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2027-01-01T00:00:00Z"]),
        Case(expression: "0 0 31 * *", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z"]),
        Case(expression: "0 0 29 2 *", after: "2026-01-01T00:00:00Z",
             expected: ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]),
        // 2100 is not a leap year: eight years between two 29 Februaries.
        Case(expression: "0 0 29 2 *", after: "2096-03-01T00:00:00Z", expected: ["2104-02-29T00:00:00Z"]),
        // Vixie rule: both day fields restricted, so either may match (Fridays, and the 13th).
        Case(expression: "0 12 13 * fri", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-02T12:00:00Z", "2026-01-09T12:00:00Z", "2026-01-13T12:00:00Z", "2026-01-16T12:00:00Z"]),
        // Both restricted with an impossible date: Mondays in February still match.
        Case(expression: "0 0 30 2 mon", after: "2026-01-01T00:00:00Z",
             expected: ["2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z"]),
        // A day-of-month starting with `*` counts as unrestricted (as in Vixie cron): odd days AND Fridays.
        Case(expression: "0 12 */2 * fri", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-09T12:00:00Z", "2026-01-23T12:00:00Z", "2026-02-13T12:00:00Z"]),
        // Macros.
        Case(expression: "@hourly", after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"]),
        Case(expression: "@daily", after: "2026-01-01T00:00:00Z", expected: ["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"]),
        Case(expression: "@DAILY", after: "2026-01-01T00:00:00Z", expected: ["2026-01-02T00:00:00Z"]),
        Case(expression: "@midnight", after: "2026-01-01T00:00:00Z", expected: ["2026-01-02T00:00:00Z"]),
        Case(expression: "@weekly", after: "2026-01-01T00:00:00Z", expected: ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"]),
        Case(expression: "@monthly", after: "2026-01-01T00:00:00Z", expected: ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"]),
        Case(expression: "@yearly", after: "2026-01-01T00:00:00Z", expected: ["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"]),
        Case(expression: "@annually", after: "2026-01-01T00:00:00Z", expected: ["2027-01-01T00:00:00Z"]),
    ]

    @Test("fire times", arguments: cases)
    func fires(_ testCase: Case) throws {
        let times = try fireTimes(testCase.expression, after: testCase.after, count: testCase.expected.count)
        #expect(times == (try testCase.expected.map(instant)))
    }

    @Test("the next fire time is strictly after the given time, on a whole minute")
    func strictlyAfter() throws {
        let cron = try CronExpression("30 9 * * *")
        let utc = try zone("UTC")
        #expect(cron.nextFire(after: try instant("2026-01-01T09:30:00Z"), in: utc) == (try instant("2026-01-02T09:30:00Z")))
        let justBefore = try instant("2026-01-01T09:29:59Z").addingTimeInterval(0.5)
        #expect(cron.nextFire(after: justBefore, in: utc) == (try instant("2026-01-01T09:30:00Z")))
        let halfPast = try instant("2026-01-01T09:30:00Z").addingTimeInterval(0.25)
        #expect(cron.nextFire(after: halfPast, in: utc) == (try instant("2026-01-02T09:30:00Z")))
    }

    @Test("local time in a fixed-offset zone")
    func fixedOffsetZone() throws {
        let cron = try CronExpression("0 9 * * *")
        let india = try #require(TimeZone(secondsFromGMT: 5 * 3600 + 1800))
        #expect(cron.nextFire(after: try instant("2026-01-01T00:00:00Z"), in: india) == (try instant("2026-01-01T03:30:00Z")))
    }

    @Test("times that cannot be searched from give nil, not a crash")
    func unusableStart() throws {
        let cron = try CronExpression("* * * * *")
        let utc = try zone("UTC")
        #expect(cron.nextFire(after: Date(timeIntervalSince1970: .infinity), in: utc) == nil)
        #expect(cron.nextFire(after: Date(timeIntervalSince1970: 1e300), in: utc) == nil)
        // Far but representable: still answered.
        #expect(cron.nextFire(after: Date.distantFuture, in: utc) == Date.distantFuture.addingTimeInterval(60))
    }

    @Test("fire times years apart are found")
    func yearsApart() throws {
        // `*/31` is just the 1st, but starts with `*`, so both day fields must match: 1 February
        // falling on a Monday, years apart.
        let utc = try zone("UTC")
        let cron = try CronExpression("0 0 */31 2 mon")
        var cursor = try instant("2026-01-01T00:00:00Z")
        var found: [Date] = []
        for _ in 0..<5 {
            guard let next = cron.nextFire(after: cursor, in: utc) else { break }
            found.append(next)
            cursor = next
        }
        #expect(found == (try ["2027-02-01", "2038-02-01", "2044-02-01", "2049-02-01", "2055-02-01"].map { try instant($0 + "T00:00:00Z") }))
    }

    @Test("the expression text is kept, trimmed")
    func text() throws {
        #expect(try CronExpression("  */5 * * * *\n").text == "*/5 * * * *")
        #expect(try CronExpression("@daily").description == "@daily")
    }

    // MARK: - Errors

    struct Invalid: CustomTestStringConvertible, Sendable {
        var expression: String
        var message: String
        var field: CronExpressionError.Field?
        var testDescription: String { "'\(expression)'" }
    }

    static let invalid: [Invalid] = [
        Invalid(expression: "", message: "cron expression is empty; write five fields (minute hour day-of-month month day-of-week) or a macro such as @daily"),
        Invalid(expression: " \t ", message: "cron expression is empty; write five fields (minute hour day-of-month month day-of-week) or a macro such as @daily"),
        Invalid(expression: "* * * *", message: "cron expression '* * * *' has 4 fields; expected 5: minute hour day-of-month month day-of-week"),
        Invalid(expression: "0 * * * * *", message: "cron expression '0 * * * * *' has 6 fields; expected 5: minute hour day-of-month month day-of-week"),
        Invalid(expression: "daily", message: "cron expression 'daily' has 1 field; expected 5: minute hour day-of-month month day-of-week"),
        Invalid(expression: "@reboot", message: "unknown cron macro '@reboot'; expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"),
        Invalid(expression: "0 24 * * *", message: "cron field 'hour': 24 is out of range 0-23", field: .hour),
        Invalid(expression: "60 * * * *", message: "cron field 'minute': 60 is out of range 0-59", field: .minute),
        Invalid(expression: "* * 0 * *", message: "cron field 'day-of-month': 0 is out of range 1-31", field: .dayOfMonth),
        Invalid(expression: "* * 32 * *", message: "cron field 'day-of-month': 32 is out of range 1-31", field: .dayOfMonth),
        Invalid(expression: "* * * 0 *", message: "cron field 'month': 0 is out of range 1-12", field: .month),
        Invalid(expression: "* * * 13 *", message: "cron field 'month': 13 is out of range 1-12", field: .month),
        Invalid(expression: "* * * * 8", message: "cron field 'day-of-week': 8 is out of range 0-7", field: .dayOfWeek),
        Invalid(expression: "* * 99999999999999999999 * *",
                message: "cron field 'day-of-month': 99999999999999999999 is out of range 1-31", field: .dayOfMonth),
        Invalid(expression: "x * * * *", message: "cron field 'minute': 'x' is not a number", field: .minute),
        Invalid(expression: "* * mon * *", message: "cron field 'day-of-month': 'mon' is not a number", field: .dayOfMonth),
        Invalid(expression: "* * * foo *", message: "cron field 'month': 'foo' is not a number or a month name (jan-dec)", field: .month),
        Invalid(expression: "* * * january *", message: "cron field 'month': 'january' is not a number or a month name (jan-dec)", field: .month),
        Invalid(expression: "* * * * funday", message: "cron field 'day-of-week': 'funday' is not a number or a day name (sun-sat)", field: .dayOfWeek),
        Invalid(expression: "* ? * * *", message: "cron field 'hour': '?' is not a number", field: .hour),
        Invalid(expression: "* 5-1 * * *",
                message: "cron field 'hour': range '5-1' goes backwards; write the smaller value first, or a list such as '22-23,0-2' to wrap around",
                field: .hour),
        Invalid(expression: "* * * * sat-mon",
                message: "cron field 'day-of-week': range 'sat-mon' goes backwards; write the smaller value first, or a list such as '22-23,0-2' to wrap around",
                field: .dayOfWeek),
        Invalid(expression: "*/0 * * * *", message: "cron field 'minute': step 0 in '*/0' is out of range 1-60", field: .minute),
        Invalid(expression: "*/61 * * * *", message: "cron field 'minute': step 61 in '*/61' is out of range 1-60", field: .minute),
        Invalid(expression: "* * * * */8", message: "cron field 'day-of-week': step 8 in '*/8' is out of range 1-7", field: .dayOfWeek),
        Invalid(expression: "*/x * * * *", message: "cron field 'minute': step 'x' in '*/x' is not a number", field: .minute),
        Invalid(expression: "*/ * * * *", message: "cron field 'minute': step '' in '*/' is not a number", field: .minute),
        Invalid(expression: "1,,2 * * * *", message: "cron field 'minute': empty item in list '1,,2'", field: .minute),
        Invalid(expression: "1, * * * *", message: "cron field 'minute': empty item in list '1,'", field: .minute),
        Invalid(expression: "1-2-3 * * * *",
                message: "cron field 'minute': '1-2-3' is not a valid item; expected *, a value or a range a-b, optionally followed by /step",
                field: .minute),
        Invalid(expression: "*/5/2 * * * *",
                message: "cron field 'minute': '*/5/2' is not a valid item; expected *, a value or a range a-b, optionally followed by /step",
                field: .minute),
        Invalid(expression: "-5 * * * *",
                message: "cron field 'minute': '-5' is not a valid item; expected *, a value or a range a-b, optionally followed by /step",
                field: .minute),
        Invalid(expression: "*-5 * * * *",
                message: "cron field 'minute': '*-5' is not a valid item; expected *, a value or a range a-b, optionally followed by /step",
                field: .minute),
        Invalid(expression: "0 0 30 2 *",
                message: "cron expression '0 0 30 2 *' never fires: day-of-month '30' does not occur in month '2'",
                field: .dayOfMonth),
        Invalid(expression: "0 0 31 apr,jun,sep,nov *",
                message: "cron expression '0 0 31 apr,jun,sep,nov *' never fires: day-of-month '31' does not occur in month 'apr,jun,sep,nov'",
                field: .dayOfMonth),
        Invalid(expression: "0 0 30-31 feb *",
                message: "cron expression '0 0 30-31 feb *' never fires: day-of-month '30-31' does not occur in month 'feb'",
                field: .dayOfMonth),
    ]

    @Test("invalid expressions are refused with a message naming the field and token", arguments: invalid)
    func refuses(_ testCase: Invalid) {
        #expect {
            _ = try CronExpression(testCase.expression)
        } throws: { error in
            guard let error = error as? CronExpressionError else { return false }
            return error.description == testCase.message && error.field == testCase.field
        }
    }

    @Test("the first wrong field is reported")
    func firstWrongField() throws {
        do {
            _ = try CronExpression("99 99 * * *")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "cron field 'minute': 99 is out of range 0-59")
        }
    }

    @Test("a long token is quoted shortened")
    func longToken() throws {
        let token = String(repeating: "z", count: 500)
        do {
            _ = try CronExpression("\(token) * * * *")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "cron field 'minute': '\(String(repeating: "z", count: 40))…' is not a number")
        }
    }
}

@Suite("CronExpression across daylight-saving changes")
struct CronExpressionDaylightSavingTests {
    // Europe/Berlin 2026: 29 March 02:00 CET → 03:00 CEST (01:00 UTC);
    //                    25 October 03:00 CEST → 02:00 CET (01:00 UTC).
    // America/New_York 2026: 8 March 02:00 EST → 03:00 EDT (07:00 UTC);
    //                        1 November 02:00 EDT → 01:00 EST (06:00 UTC).

    @Test("a fixed time in the spring-forward gap fires once, at the jump")
    func fixedTimeInGapBerlin() throws {
        let times = try fireTimes("30 2 * * *", after: "2026-03-28T00:00:00Z", count: 3, in: "Europe/Berlin")
        #expect(times == [
            try instant("2026-03-28T01:30:00Z"),  // 02:30 CET
            try instant("2026-03-29T01:00:00Z"),  // 03:00 CEST: 02:30 did not exist
            try instant("2026-03-30T00:30:00Z"),  // 02:30 CEST
        ])
    }

    @Test("several fixed times in the gap, and one right after it, fire once at the jump")
    func severalFixedTimesInGap() throws {
        #expect(try fireTimes("0,30 2 * * *", after: "2026-03-28T12:00:00Z", count: 2, in: "Europe/Berlin") == [
            try instant("2026-03-29T01:00:00Z"), try instant("2026-03-30T00:00:00Z"),
        ])
        #expect(try fireTimes("0 2,3 * * *", after: "2026-03-28T12:00:00Z", count: 3, in: "Europe/Berlin") == [
            try instant("2026-03-29T01:00:00Z"),  // 02:00 skipped and 03:00 itself: once
            try instant("2026-03-30T00:00:00Z"),  // 02:00 CEST
            try instant("2026-03-30T01:00:00Z"),  // 03:00 CEST
        ])
    }

    @Test("an expression with a * minute or hour skips the times that do not exist")
    func wildcardSkipsGap() throws {
        #expect(try fireTimes("*/30 * * * *", after: "2026-03-29T00:00:00Z", count: 3, in: "Europe/Berlin") == [
            try instant("2026-03-29T00:30:00Z"),  // 01:30 CET
            try instant("2026-03-29T01:00:00Z"),  // 03:00 CEST
            try instant("2026-03-29T01:30:00Z"),  // 03:30 CEST
        ])
        #expect(try fireTimes("30 * * * *", after: "2026-03-29T00:00:00Z", count: 2, in: "Europe/Berlin") == [
            try instant("2026-03-29T00:30:00Z"),  // 01:30 CET
            try instant("2026-03-29T01:30:00Z"),  // 03:30 CEST; 02:30 did not exist
        ])
        // Only 02:xx allowed, minute wild: nothing on the day of the jump.
        #expect(try fireTimes("*/10 2 * * *", after: "2026-03-28T12:00:00Z", count: 1, in: "Europe/Berlin") == [
            try instant("2026-03-30T00:00:00Z")
        ])
    }

    @Test("a time repeated when clocks fall back fires once, at its first occurrence")
    func repeatedTimeBerlin() throws {
        #expect(try fireTimes("30 2 * * *", after: "2026-10-24T12:00:00Z", count: 2, in: "Europe/Berlin") == [
            try instant("2026-10-25T00:30:00Z"),  // 02:30 CEST
            try instant("2026-10-26T01:30:00Z"),  // 02:30 CET the next day; not 01:30 UTC on the 25th
        ])
        #expect(try fireTimes("*/30 * * * *", after: "2026-10-25T00:00:00Z", count: 3, in: "Europe/Berlin") == [
            try instant("2026-10-25T00:30:00Z"),  // 02:30 CEST
            try instant("2026-10-25T02:00:00Z"),  // 03:00 CET; 02:00 and 02:30 CET already fired as CEST
            try instant("2026-10-25T02:30:00Z"),
        ])
    }

    @Test("searching from inside the repeated hour does not fire its times again")
    func fromInsideRepeatedHour() throws {
        let cron = try CronExpression("*/30 * * * *")
        let berlin = try zone("Europe/Berlin")
        // 02:10 CET, the second pass through 02:xx.
        #expect(cron.nextFire(after: try instant("2026-10-25T01:10:00Z"), in: berlin) == (try instant("2026-10-25T02:00:00Z")))
    }

    @Test("New York: spring forward and fall back")
    func newYork() throws {
        #expect(try fireTimes("30 2 * * *", after: "2026-03-07T12:00:00Z", count: 2, in: "America/New_York") == [
            try instant("2026-03-08T07:00:00Z"),  // 03:00 EDT: 02:30 did not exist
            try instant("2026-03-09T06:30:00Z"),  // 02:30 EDT
        ])
        #expect(try fireTimes("30 1 * * *", after: "2026-10-31T12:00:00Z", count: 2, in: "America/New_York") == [
            try instant("2026-11-01T05:30:00Z"),  // 01:30 EDT
            try instant("2026-11-02T06:30:00Z"),  // 01:30 EST the next day
        ])
        #expect(try fireTimes("0 * * * *", after: "2026-11-01T04:30:00Z", count: 3, in: "America/New_York") == [
            try instant("2026-11-01T05:00:00Z"),  // 01:00 EDT
            try instant("2026-11-01T07:00:00Z"),  // 02:00 EST
            try instant("2026-11-01T08:00:00Z"),
        ])
        // Weekday schedule across the March change keeps its local time.
        #expect(try fireTimes("0 9 * * mon-fri", after: "2026-03-05T00:00:00Z", count: 3, in: "America/New_York") == [
            try instant("2026-03-05T14:00:00Z"),  // Thu 09:00 EST
            try instant("2026-03-06T14:00:00Z"),  // Fri 09:00 EST
            try instant("2026-03-09T13:00:00Z"),  // Mon 09:00 EDT
        ])
    }
}
