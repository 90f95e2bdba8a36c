import Foundation
import Testing

@testable import SidecarTasks

@Suite("RFC 3339 timestamps")
struct RFC3339Tests {
    // Expected values computed independently (Python's datetime).
    static let parsed: [(String, Int64)] = [
        ("2026-11-25T14:30:00Z", 1_795_617_000_000),
        ("2026-11-25T15:30:00+01:00", 1_795_617_000_000),
        ("2026-11-25T09:00:00-05:30", 1_795_617_000_000),
        ("2026-11-25T14:30:00-00:00", 1_795_617_000_000),
        ("2026-11-25t14:30:00z", 1_795_617_000_000),
        ("2026-11-25 14:30:00Z", 1_795_617_000_000),
        ("2026-11-25T14:30:00.5Z", 1_795_617_000_500),
        ("2026-11-25T14:30:00.123Z", 1_795_617_000_123),
        ("2026-11-25T14:30:00.123456789Z", 1_795_617_000_123),
        ("2026-11-25T14:30:00.1239999999999Z", 1_795_617_000_123),
        ("2026-11-25T15:30:00.000+01:00", 1_795_617_000_000),
        ("2024-02-29T23:59:59.999Z", 1_709_251_199_999),
        ("2000-01-01T00:00:00Z", 946_684_800_000),
        ("1969-12-31T23:59:59.999Z", -1),
        ("1900-03-01T00:00:00Z", -2_203_891_200_000),
        ("0001-01-01T00:00:00Z", -62_135_596_800_000),
        ("9999-12-31T23:59:59.999Z", 253_402_300_799_999),
    ]

    @Test("parses every RFC 3339 form", arguments: parsed)
    func parses(_ text: String, _ milliseconds: Int64) throws {
        #expect(try RFC3339.unixMilliseconds(from: text) == milliseconds)
        let date = try RFC3339.date(from: text)
        // The Date keeps the sub-millisecond digits the milliseconds truncate.
        #expect(date.timeIntervalSince1970 * 1000 - Double(milliseconds) >= -0.001)
        #expect(date.timeIntervalSince1970 * 1000 - Double(milliseconds) < 1.001)
    }

    @Test("fractional seconds are kept below the millisecond in a Date")
    func subMillisecond() throws {
        let date = try RFC3339.date(from: "2026-11-25T14:30:00.000250Z")
        #expect(abs(date.timeIntervalSince1970 - 1_795_617_000.00025) < 1e-6)
    }

    @Test("agrees with Foundation's ISO 8601 parser on the forms both read")
    func agreesWithFoundation() throws {
        for text in ["2026-11-25T14:30:00Z", "2026-03-29T01:00:00+02:00", "1999-12-31T23:59:59-08:00", "2024-02-29T12:00:00Z"] {
            #expect(try RFC3339.date(from: text) == (try Date.ISO8601FormatStyle().parse(text)), "\(text)")
        }
        let fractional = "2026-11-25T14:30:00.250Z"
        #expect(try RFC3339.date(from: fractional) == (try Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(fractional)))
    }

    @Test("formats UTC with milliseconds")
    func formats() {
        #expect(RFC3339.string(fromUnixMilliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(RFC3339.string(fromUnixMilliseconds: 1_795_617_000_123) == "2026-11-25T14:30:00.123Z")
        #expect(RFC3339.string(fromUnixMilliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(RFC3339.string(fromUnixMilliseconds: 1_709_251_199_999) == "2024-02-29T23:59:59.999Z")
        #expect(RFC3339.string(fromUnixMilliseconds: -62_135_596_800_000) == "0001-01-01T00:00:00.000Z")
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 1_795_617_000)) == "2026-11-25T14:30:00.000Z")
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 1_795_617_000.0004)) == "2026-11-25T14:30:00.000Z")
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 1_795_617_000.0006)) == "2026-11-25T14:30:00.001Z")
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 1_795_617_000.123)) == "2026-11-25T14:30:00.123Z")
    }

    @Test("formatting never traps, even outside the years RFC 3339 can write")
    func extremes() {
        #expect(RFC3339.string(fromUnixMilliseconds: 253_402_300_800_000) == "10000-01-01T00:00:00.000Z")
        #expect(RFC3339.string(fromUnixMilliseconds: -62_167_219_200_001) == "-0001-12-31T23:59:59.999Z")
        #expect(!RFC3339.string(fromUnixMilliseconds: .max).isEmpty)
        #expect(!RFC3339.string(fromUnixMilliseconds: .min).isEmpty)
        #expect(!RFC3339.string(from: Date(timeIntervalSince1970: 1e300)).isEmpty)
    }

    @Test("string → date → string and milliseconds → string → milliseconds round trips")
    func roundTrips() throws {
        for milliseconds: Int64 in [0, 1, 999, 1000, -1, -1000, 951_782_400_000, 1_709_251_199_999, 1_795_617_000_123, 253_402_300_799_999,
                                    -62_135_596_800_000, 4_102_444_800_000] {
            let text = RFC3339.string(fromUnixMilliseconds: milliseconds)
            #expect(try RFC3339.unixMilliseconds(from: text) == milliseconds, "\(text)")
            #expect(RFC3339.string(from: try RFC3339.date(from: text)) == text)
        }
        // A whole year of days at an awkward millisecond, through the Date path.
        var milliseconds: Int64 = 1_767_225_599_999  // 2025-12-31T23:59:59.999Z
        for _ in 0..<400 {
            let text = RFC3339.string(fromUnixMilliseconds: milliseconds)
            #expect(RFC3339.string(from: try RFC3339.date(from: text)) == text)
            milliseconds += 86_400_000 + 7
        }
    }

    static let invalid: [(String, String)] = [
        ("", "expected a 4-digit year at character 1"),
        ("yesterday", "expected a 4-digit year at character 1"),
        (" 2026-11-25T14:30:00Z", "expected a 4-digit year at character 1"),
        ("26-11-25T14:30:00Z", "expected a 4-digit year at character 1"),
        ("2026/11/25T14:30:00Z", "expected '-' after the year at character 5"),
        ("2026-1-25T14:30:00Z", "expected a 2-digit month at character 6"),
        ("2026-11-25", "expected 'T' between the date and the time at character 11"),
        ("2026-11-25X14:30:00Z", "expected 'T' between the date and the time at character 11"),
        ("2026-11-25T14:30Z", "expected ':' after the minute at character 17"),
        ("2026-11-25T14:30:00", "missing the time zone offset: end with 'Z' or an offset such as '+01:00'"),
        ("2026-11-25T14:30:00 UTC", "expected 'Z' or an offset such as '+01:00' at character 20"),
        ("2026-11-25T14:30:00.Z", "expected digits after '.' at character 21"),
        ("2026-11-25T14:30:00+0100", "expected ':' in the offset (write '+01:00', not '+0100') at character 23"),
        ("2026-11-25T14:30:00+1", "expected a 2-digit offset hour at character 21"),
        ("2026-11-25T14:30:00+24:00", "offset hour 24 is out of range 00-23"),
        ("2026-11-25T14:30:00+01:60", "offset minute 60 is out of range 00-59"),
        ("2026-11-25T14:30:00Zjunk", "unexpected text after the time at character 21"),
        ("2026-13-01T00:00:00Z", "month 13 is out of range 01-12"),
        ("2026-00-01T00:00:00Z", "month 0 is out of range 01-12"),
        ("2026-02-29T00:00:00Z", "day 29 is out of range 01-28 for 2026-02"),
        ("2100-02-29T00:00:00Z", "day 29 is out of range 01-28 for 2100-02"),
        ("2026-04-31T00:00:00Z", "day 31 is out of range 01-30 for 2026-04"),
        ("2026-04-00T00:00:00Z", "day 0 is out of range 01-30 for 2026-04"),
        ("2026-11-25T24:00:00Z", "hour 24 is out of range 00-23"),
        ("2026-11-25T14:60:00Z", "minute 60 is out of range 00-59"),
        ("2026-12-31T23:59:60Z", "the leap second :60 cannot be represented; use :59"),
        ("2026-11-25T14:30:61Z", "second 61 is out of range 00-59"),
        ("２０２６-11-25T14:30:00Z", "expected a 4-digit year at character 1"),
    ]

    @Test("refuses malformed timestamps saying what and where", arguments: invalid)
    func refuses(_ text: String, _ reason: String) {
        #expect(throws: RFC3339Error(input: text, reason: reason)) {
            _ = try RFC3339.date(from: text)
        }
        #expect(throws: RFC3339Error(input: text, reason: reason)) {
            _ = try RFC3339.unixMilliseconds(from: text)
        }
    }

    @Test("the message quotes the input, shortened when long")
    func message() {
        do {
            _ = try RFC3339.date(from: "2026-13-01T00:00:00Z")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "invalid RFC 3339 time '2026-13-01T00:00:00Z': month 13 is out of range 01-12")
        }
        let long = "2026-11-25T14:30:00Z" + String(repeating: "x", count: 1000)
        do {
            _ = try RFC3339.date(from: long)
            Issue.record("expected an error")
        } catch {
            #expect(error.input == String(long.prefix(64)) + "…")
            #expect(error.reason == "unexpected text after the time at character 21")
        }
    }
}
