import Foundation
import SidecarProtocol

/// How long a failed task waits before its next attempt.
///
/// Retry *n* (the first retry is 1) waits `base · factorⁿ⁻¹` seconds, capped at `max`. With
/// `jitter`, the wait is drawn uniformly between half of that and all of it ("equal jitter"):
/// tasks that failed together spread out, yet each retry still waits at least half its nominal
/// delay, so the waits keep growing (with "full jitter", anywhere from zero, a late retry could
/// come almost at once).
///
/// ```swift
/// let backoff = Backoff(base: 2, factor: 3, max: 60, jitter: false)
/// backoff.delay(beforeRetry: 3)   // 18 seconds
/// ```
///
/// In JSON every member is optional: `{"base": 1, "factor": 2, "max": 3600, "jitter": true}`.
public struct Backoff: Codable, Sendable, Hashable {
    /// Seconds before the first retry; greater than 0.
    public var base: Double
    /// Growth from one retry to the next; at least 1 (1 means a constant delay).
    public var factor: Double
    /// The longest delay in seconds; at least `base`.
    public var max: Double
    /// Draw each delay from between half the nominal delay and all of it.
    public var jitter: Bool

    /// The longest delay a backoff may have: 366 days, as for a submission's `delay`.
    public static let longestDelay: Double = 366 * 86_400

    public init(base: Double = 1, factor: Double = 2, max: Double = 3600, jitter: Bool = true) {
        self.base = base
        self.factor = factor
        self.max = max
        self.jitter = jitter
    }

    // MARK: - Delays

    /// The delay before retry `retry` without jitter, in seconds: `base · factor^(retry−1)`,
    /// at most `max`. A `retry` below 1 counts as 1.
    public func nominalDelay(beforeRetry retry: Int) -> Double {
        let exponent = Double(Swift.max(retry, 1) - 1)
        let delay = Swift.min(base * pow(factor, exponent), max)
        return delay >= 0 ? delay : 0  // also catches NaN from values that skipped validation
    }

    /// The delay before retry `retry` (the first retry is 1).
    ///
    /// - Parameters:
    ///   - retry: Which retry this is; values below 1 count as 1.
    ///   - random: The source of jitter; pass a seeded generator in tests.
    /// - Returns: ``nominalDelay(beforeRetry:)``, or with `jitter` a uniformly drawn time between
    ///   half of it and all of it.
    public func delay(beforeRetry retry: Int, random: inout some RandomNumberGenerator) -> Duration {
        let nominal = nominalDelay(beforeRetry: retry)
        guard jitter, nominal > 0, nominal.isFinite else { return Self.duration(seconds: nominal) }
        let half = nominal / 2
        return Self.duration(seconds: half + Double.random(in: 0...half, using: &random))
    }

    /// The delay before retry `retry`, with jitter from the system's random number generator.
    public func delay(beforeRetry retry: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(beforeRetry: retry, random: &generator)
    }

    private static func duration(seconds: Double) -> Duration {
        guard seconds > 0 else { return .zero }
        // Validation keeps `max` within this; a longer delay would also overflow the Unix
        // milliseconds the retry time is kept in.
        let seconds = Swift.min(seconds, longestDelay)
        let whole = seconds.rounded(.down)
        return Duration(
            secondsComponent: Int64(whole), attosecondsComponent: Int64(((seconds - whole) * 1e18).rounded(.down)))
    }

    // MARK: - Validation

    /// Checks the settings: `base` > 0, `factor` ≥ 1, `base` ≤ `max` ≤ ``longestDelay``, all finite.
    ///
    /// - Throws: ``BackoffError`` naming the member (`backoff.base` …).
    public func validate() throws(BackoffError) {
        guard base.isFinite, base > 0 else {
            throw BackoffError(field: "backoff.base", message: "'backoff.base' must be greater than 0, got \(Self.format(base))")
        }
        guard factor.isFinite, factor >= 1 else {
            throw BackoffError(field: "backoff.factor", message: "'backoff.factor' must be at least 1, got \(Self.format(factor))")
        }
        guard base <= Self.longestDelay else {
            throw BackoffError(
                field: "backoff.base",
                message: "'backoff.base' must be at most \(Self.format(Self.longestDelay)) seconds (366 days), got \(Self.format(base))")
        }
        guard max.isFinite, max >= base else {
            throw BackoffError(
                field: "backoff.max",
                message: "'backoff.max' must be at least 'backoff.base' (\(Self.format(base))), got \(Self.format(max))")
        }
        guard max <= Self.longestDelay else {
            throw BackoffError(
                field: "backoff.max",
                message: "'backoff.max' must be at most \(Self.format(Self.longestDelay)) seconds (366 days), got \(Self.format(max))")
        }
    }

    // MARK: - JSON

    /// Reads a backoff from a JSON object; missing or `null` members take their defaults.
    ///
    /// - Parameter json: An object with any of `base`, `factor`, `max` (numbers) and `jitter` (boolean).
    /// - Throws: ``BackoffError`` naming the member: not an object, an unknown member, a member of
    ///   the wrong type, or settings that fail ``validate()``.
    public init(json: JSONValue) throws(BackoffError) {
        guard case .object(let members) = json else {
            throw BackoffError(field: "backoff", message: "'backoff' must be an object, got \(json.typeName)")
        }
        self.init()
        for (name, value) in members {
            let field = "backoff.\(name)"
            if value.isNull, Self.memberNames.contains(name) { continue }
            switch name {
            case "base", "factor", "max":
                guard let number = value.doubleValue else {
                    throw BackoffError(field: field, message: "'\(field)' must be a number, got \(value.typeName)")
                }
                switch name {
                case "base": base = number
                case "factor": factor = number
                default: max = number
                }
            case "jitter":
                guard let flag = value.boolValue else {
                    throw BackoffError(field: field, message: "'\(field)' must be true or false, got \(value.typeName)")
                }
                jitter = flag
            default:
                let shown = name.count > 40 ? String(name.prefix(40)) + "…" : name
                throw BackoffError(
                    field: "backoff.\(shown)",
                    message: "'backoff.\(shown)' is not a backoff setting; use base, factor, max or jitter")
            }
        }
        try validate()
    }

    /// The backoff as JSON, with every member: `{"base": 1, "factor": 2, "max": 3600, "jitter": true}`.
    public var jsonValue: JSONValue {
        ["base": Self.number(base), "factor": Self.number(factor), "max": Self.number(max), "jitter": .bool(jitter)]
    }

    private static let memberNames: Set<String> = ["base", "factor", "max", "jitter"]

    /// Whole numbers as JSON integers, so stored and returned JSON reads `1`, not `1.0`.
    private static func number(_ value: Double) -> JSONValue {
        if let whole = Int64(exactly: value) { return .int(whole) }
        return .double(value)
    }

    private static func format(_ value: Double) -> String {
        if let whole = Int64(exactly: value) { return String(whole) }
        return String(value)
    }

    // MARK: - Codable

    private enum CodingKeys: String, CodingKey {
        case base, factor, max, jitter
    }

    /// Decodes with the same defaults and checks as ``init(json:)``.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            base: try container.decodeIfPresent(Double.self, forKey: .base) ?? 1,
            factor: try container.decodeIfPresent(Double.self, forKey: .factor) ?? 2,
            max: try container.decodeIfPresent(Double.self, forKey: .max) ?? 3600,
            jitter: try container.decodeIfPresent(Bool.self, forKey: .jitter) ?? true)
        do {
            try validate()
        } catch {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }
}

/// Backoff settings that cannot be used; the message names the member and is meant for the client.
public struct BackoffError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The member at fault: `backoff.base`, `backoff.factor`, `backoff.max`, `backoff.jitter`,
    /// `backoff.<unknown name>` or `backoff` itself.
    public var field: String
    /// `'backoff.base' must be greater than 0, got 0`
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { message }
}
