import Foundation

/// Reads and writes RFC 3339 timestamps, the time format of the `tasks.*` methods.
///
/// Reading accepts every form RFC 3339 allows: `Z` or a numeric offset, any number of
/// fractional-second digits, and (section 5.6) a lowercase `t`/`z` or a space between date and
/// time. Writing always gives UTC with milliseconds, so every time the daemon returns has one shape:
///
/// ```swift
/// let date = try RFC3339.date(from: "2026-11-25T15:30:00+01:00")
/// RFC3339.string(from: date)   // "2026-11-25T14:30:00.000Z"
/// ```
///
/// This is a hand-written parser rather than `Date.ISO8601FormatStyle` because one format style
/// either requires fractional seconds or rejects them, refuses the lowercase and space forms, and
/// cannot say which part of a bad timestamp is wrong.
public enum RFC3339 {
    /// Parses an RFC 3339 timestamp.
    ///
    /// - Parameter text: A timestamp such as `2026-11-25T14:30:00Z`, `2026-11-25T15:30:00.250+01:00`.
    /// - Returns: The instant it names. Digits beyond the ninth fractional one are ignored.
    /// - Throws: ``RFC3339Error`` saying what is wrong and where. The leap second `:60` is refused
    ///   because `Date` cannot represent it.
    public static func date(from text: String) throws(RFC3339Error) -> Date {
        let time = try Timestamp(parsing: text)
        return Date(timeIntervalSince1970: Double(time.epochSeconds) + Double(time.nanoseconds) / 1e9)
    }

    /// Parses an RFC 3339 timestamp into Unix milliseconds, exactly (sub-millisecond digits are
    /// truncated toward the past).
    ///
    /// - Throws: ``RFC3339Error``, as ``date(from:)``.
    public static func unixMilliseconds(from text: String) throws(RFC3339Error) -> Int64 {
        let time = try Timestamp(parsing: text)
        return time.epochSeconds * 1000 + time.nanoseconds / 1_000_000
    }

    /// Formats `date` as UTC with milliseconds, `2026-11-25T14:30:00.000Z`, rounded to the
    /// nearest millisecond.
    public static func string(from date: Date) -> String {
        let scaled = (date.timeIntervalSince1970 * 1000).rounded()
        let milliseconds: Int64 =
            if scaled.isNaN { 0 } else if scaled >= 9.2e18 { .max } else if scaled <= -9.2e18 { .min } else { Int64(scaled) }
        return string(fromUnixMilliseconds: milliseconds)
    }

    /// Formats Unix milliseconds as UTC with milliseconds, `2026-11-25T14:30:00.000Z`.
    ///
    /// Years outside 0000…9999 have no RFC 3339 form; they come out with as many digits as they
    /// need (and a `-` before the year zero), never as a crash.
    public static func string(fromUnixMilliseconds milliseconds: Int64) -> String {
        let (seconds, millisecond) = GregorianCalendarMath.floorDivision(milliseconds, 1000)
        let (days, secondOfDay) = GregorianCalendarMath.floorDivision(seconds, 86_400)
        let date = GregorianCalendarMath.civilDate(fromDaysSinceEpoch: days)
        var text = ""
        text.reserveCapacity(24)
        if date.year < 0 { text += "-" }
        text += padded(date.year.magnitude, width: 4)
        text += "-" + padded(UInt64(date.month), width: 2) + "-" + padded(UInt64(date.day), width: 2)
        text += "T" + padded(UInt64(secondOfDay / 3600), width: 2)
        text += ":" + padded(UInt64(secondOfDay / 60 % 60), width: 2)
        text += ":" + padded(UInt64(secondOfDay % 60), width: 2)
        text += "." + padded(UInt64(millisecond), width: 3) + "Z"
        return text
    }

    fileprivate static func padded(_ value: UInt64, width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

/// A timestamp that is not valid RFC 3339.
public struct RFC3339Error: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text that was read (shortened if long).
    public var input: String
    /// What is wrong, and where: `month 13 is out of range 01-12`.
    public var reason: String

    public init(input: String, reason: String) {
        self.input = input
        self.reason = reason
    }

    /// `invalid RFC 3339 time '2026-13-01T00:00:00Z': month 13 is out of range 01-12`
    public var description: String { "invalid RFC 3339 time '\(input)': \(reason)" }
}

// MARK: - Parsing

/// The fields of one timestamp, read strictly left to right.
private struct Timestamp {
    var epochSeconds: Int64
    /// 0 ..< 1_000_000_000.
    var nanoseconds: Int64

    init(parsing text: String) throws(RFC3339Error) {
        var reader = Reader(text: text)
        let year = try reader.digits(4, "a 4-digit year")
        try reader.literal("-", "'-' after the year")
        let month = try reader.digits(2, "a 2-digit month")
        try reader.literal("-", "'-' after the month")
        let day = try reader.digits(2, "a 2-digit day")
        guard let separator = reader.peek, separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t")
            || separator == UInt8(ascii: " ")
        else { throw reader.failure("expected 'T' between the date and the time at character \(reader.position)") }
        reader.advance()
        let hour = try reader.digits(2, "a 2-digit hour")
        try reader.literal(":", "':' after the hour")
        let minute = try reader.digits(2, "a 2-digit minute")
        try reader.literal(":", "':' after the minute")
        let second = try reader.digits(2, "2-digit seconds")

        var nanoseconds: Int64 = 0
        if reader.peek == UInt8(ascii: ".") {
            reader.advance()
            var count = 0
            while let byte = reader.peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                if count < 9 { nanoseconds = nanoseconds * 10 + Int64(byte - UInt8(ascii: "0")) }
                count += 1
                reader.advance()
            }
            guard count > 0 else { throw reader.failure("expected digits after '.' at character \(reader.position)") }
            for _ in min(count, 9)..<9 { nanoseconds *= 10 }
        }

        let offsetSeconds: Int64
        switch reader.peek {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            reader.advance()
            offsetSeconds = 0
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign: Int64 = reader.peek == UInt8(ascii: "-") ? -1 : 1
            reader.advance()
            let offsetHour = try reader.digits(2, "a 2-digit offset hour")
            try reader.literal(":", "':' in the offset (write '+01:00', not '+0100')")
            let offsetMinute = try reader.digits(2, "2-digit offset minutes")
            guard offsetHour <= 23 else { throw reader.failure("offset hour \(offsetHour) is out of range 00-23") }
            guard offsetMinute <= 59 else { throw reader.failure("offset minute \(offsetMinute) is out of range 00-59") }
            offsetSeconds = sign * (offsetHour * 3600 + offsetMinute * 60)
        case nil:
            throw reader.failure("missing the time zone offset: end with 'Z' or an offset such as '+01:00'")
        default:
            throw reader.failure("expected 'Z' or an offset such as '+01:00' at character \(reader.position)")
        }
        guard reader.isAtEnd else {
            throw reader.failure("unexpected text after the time at character \(reader.position)")
        }

        guard (1...12).contains(month) else { throw reader.failure("month \(month) is out of range 01-12") }
        let daysInMonth = GregorianCalendarMath.daysInMonth(year: year, month: Int(month))
        guard day >= 1, day <= daysInMonth else {
            let yearMonth = RFC3339.padded(UInt64(year), width: 4) + "-" + RFC3339.padded(UInt64(month), width: 2)
            throw reader.failure("day \(day) is out of range 01-\(daysInMonth) for \(yearMonth)")
        }
        guard hour <= 23 else { throw reader.failure("hour \(hour) is out of range 00-23") }
        guard minute <= 59 else { throw reader.failure("minute \(minute) is out of range 00-59") }
        guard second != 60 else { throw reader.failure("the leap second :60 cannot be represented; use :59") }
        guard second <= 59 else { throw reader.failure("second \(second) is out of range 00-59") }

        let days = GregorianCalendarMath.daysSinceEpoch(year: year, month: Int(month), day: Int(day))
        epochSeconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        self.nanoseconds = nanoseconds
    }
}

/// A cursor over the bytes of a timestamp; positions in messages count from 1.
private struct Reader {
    let text: String
    let bytes: [UInt8]
    var index = 0

    init(text: String) {
        self.text = text
        bytes = Array(text.utf8)
    }

    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }
    var isAtEnd: Bool { index == bytes.count }
    var position: Int { index + 1 }

    mutating func advance() { index += 1 }

    mutating func digits(_ count: Int, _ what: String) throws(RFC3339Error) -> Int64 {
        let start = position
        var value: Int64 = 0
        for _ in 0..<count {
            guard let byte = peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw failure("expected \(what) at character \(start)")
            }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            advance()
        }
        return value
    }

    mutating func literal(_ character: Unicode.Scalar, _ what: String) throws(RFC3339Error) {
        guard peek == UInt8(ascii: character) else { throw failure("expected \(what) at character \(position)") }
        advance()
    }

    func failure(_ reason: String) -> RFC3339Error {
        // Quote at most 64 characters: the input can be anything a client sent.
        let shown = text.count > 64 ? String(text.prefix(64)) + "…" : text
        return RFC3339Error(input: shown, reason: reason)
    }
}

// MARK: - Proleptic Gregorian arithmetic

/// Day counting in the proleptic Gregorian calendar, shared by the RFC 3339 and cron code so
/// both agree on every date without a `Calendar` round trip per step.
enum GregorianCalendarMath {
    struct CivilDate: Hashable {
        var year: Int64
        var month: Int
        var day: Int
    }

    static func isLeapYear(_ year: Int64) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    static func daysInMonth(year: Int64, month: Int) -> Int {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to the given date (negative before it). Howard Hinnant's
    /// `days_from_civil`.
    static func daysSinceEpoch(year: Int64, month: Int, day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = GregorianCalendarMath.floorDivision(y, 400).quotient
        let yearOfEra = y - era * 400
        let shiftedMonth = Int64(month > 2 ? month - 3 : month + 9)
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The inverse of ``daysSinceEpoch(year:month:day:)`` (Hinnant's `civil_from_days`).
    static func civilDate(fromDaysSinceEpoch days: Int64) -> CivilDate {
        let z = days + 719_468
        let era = GregorianCalendarMath.floorDivision(z, 146_097).quotient
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
        let month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
        return CivilDate(year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month: month, day: day)
    }

    /// Division rounding toward negative infinity, with a remainder that is never negative.
    static func floorDivision(_ dividend: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let quotient = dividend / divisor
        let remainder = dividend % divisor
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    /// 0 = Sunday … 6 = Saturday.
    static func weekday(daysSinceEpoch days: Int64) -> Int {
        // 1970-01-01 was a Thursday.
        Int(GregorianCalendarMath.floorDivision(days + 4, 7).remainder)
    }
}
