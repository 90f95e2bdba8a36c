import Foundation
import SidecarProtocol
import Testing

@testable import SidecarTasks

/// SplitMix64: a small seeded generator, so jitter tests see the same numbers on every run.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func seconds(_ duration: Duration) -> Double {
    let (whole, attoseconds) = duration.components
    return Double(whole) + Double(attoseconds) / 1e18
}

@Suite("Backoff")
struct BackoffTests {
    @Test("defaults: 1 s, doubling, at most an hour, with jitter")
    func defaults() {
        #expect(Backoff() == Backoff(base: 1, factor: 2, max: 3600, jitter: true))
    }

    @Test("without jitter the delays are exact: base·factorⁿ⁻¹, capped at max")
    func exactSequence() {
        var generator = SeededGenerator(state: 1)
        let backoff = Backoff(base: 1, factor: 2, max: 60, jitter: false)
        let delays = (1...9).map { backoff.delay(beforeRetry: $0, random: &generator) }
        #expect(delays == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(32), .seconds(60), .seconds(60), .seconds(60)])

        let tripling = Backoff(base: 0.5, factor: 3, max: 100, jitter: false)
        #expect((1...6).map { tripling.delay(beforeRetry: $0) } == [.milliseconds(500), .milliseconds(1500), .milliseconds(4500), .milliseconds(13500), .milliseconds(40500), .seconds(100)])

        let constant = Backoff(base: 5, factor: 1, max: 3600, jitter: false)
        #expect((1...4).map { constant.delay(beforeRetry: $0) } == Array(repeating: .seconds(5), count: 4))
    }

    @Test("retries below 1 count as the first; huge retry numbers stay at max")
    func retryEdges() {
        let backoff = Backoff(base: 3, factor: 2, max: 3600, jitter: false)
        #expect(backoff.delay(beforeRetry: 0) == .seconds(3))
        #expect(backoff.delay(beforeRetry: -7) == .seconds(3))
        #expect(backoff.delay(beforeRetry: 5000) == .seconds(3600))
        #expect(backoff.delay(beforeRetry: .max) == .seconds(3600))
        #expect(backoff.nominalDelay(beforeRetry: 3) == 12)
    }

    @Test("with jitter each delay lies between half the nominal delay and all of it, and varies")
    func jitterBounds() {
        var generator = SeededGenerator(state: 0x5EED)
        let backoff = Backoff(base: 1, factor: 2, max: 300, jitter: true)
        for retry in 1...12 {
            let nominal = backoff.nominalDelay(beforeRetry: retry)
            let samples = (0..<500).map { _ in seconds(backoff.delay(beforeRetry: retry, random: &generator)) }
            #expect(samples.allSatisfy { $0 >= nominal / 2 && $0 <= nominal }, "retry \(retry)")
            // Spread over the whole band, not stuck at one end.
            #expect(samples.contains { $0 < nominal * 0.6 }, "retry \(retry)")
            #expect(samples.contains { $0 > nominal * 0.9 }, "retry \(retry)")
        }
    }

    @Test("with jitter and factor 2, a later retry never waits less than the earlier one's nominal delay")
    func jitterStillGrows() {
        var generator = SeededGenerator(state: 42)
        let backoff = Backoff(base: 1, factor: 2, max: 3600, jitter: true)
        for retry in 1...11 {
            let later = seconds(backoff.delay(beforeRetry: retry + 1, random: &generator))
            #expect(later >= backoff.nominalDelay(beforeRetry: retry))
        }
    }

    @Test("the same seed gives the same delays")
    func deterministic() {
        var first = SeededGenerator(state: 7)
        var second = SeededGenerator(state: 7)
        let backoff = Backoff()
        let a = (1...10).map { backoff.delay(beforeRetry: $0, random: &first) }
        let b = (1...10).map { backoff.delay(beforeRetry: $0, random: &second) }
        #expect(a == b)
    }

    // MARK: - Validation and JSON

    static let invalidSettings: [(Backoff, String, String)] = [
        (Backoff(base: 0), "backoff.base", "'backoff.base' must be greater than 0, got 0"),
        (Backoff(base: -1.5), "backoff.base", "'backoff.base' must be greater than 0, got -1.5"),
        (Backoff(base: .infinity), "backoff.base", "'backoff.base' must be greater than 0, got inf"),
        (Backoff(factor: 0.5), "backoff.factor", "'backoff.factor' must be at least 1, got 0.5"),
        (Backoff(base: 10, max: 5), "backoff.max", "'backoff.max' must be at least 'backoff.base' (10), got 5"),
        // A delay past about 9.2e15 s overflowed the Unix milliseconds of the retry time and
        // crashed the daemon when the retry was scheduled.
        (Backoff(base: 1e16, max: 1e16), "backoff.base", "'backoff.base' must be at most 31622400 seconds (366 days), got 10000000000000000"),
        (Backoff(base: 1, max: 31_622_401), "backoff.max", "'backoff.max' must be at most 31622400 seconds (366 days), got 31622401"),
    ]

    @Test("validation names the member", arguments: invalidSettings)
    func validation(_ backoff: Backoff, _ field: String, _ message: String) {
        #expect(throws: BackoffError(field: field, message: message)) { try backoff.validate() }
    }

    @Test("valid settings pass, including a constant delay and the longest, 366 days")
    func validSettings() throws {
        try Backoff().validate()
        try Backoff(base: 5, factor: 1, max: 5, jitter: false).validate()
        let longest = Backoff(base: 1, factor: 1e308, max: Backoff.longestDelay, jitter: false)
        try longest.validate()
        #expect(longest.delay(beforeRetry: 1000) == .seconds(31_622_400))
    }

    static let decoded: [(JSONValue, Backoff)] = [
        ([:], Backoff()),
        (["base": 2], Backoff(base: 2)),
        (["base": 0.25, "factor": 1.5, "max": 10, "jitter": false], Backoff(base: 0.25, factor: 1.5, max: 10, jitter: false)),
        (["base": nil, "jitter": nil], Backoff()),
        (["max": 60], Backoff(max: 60)),
    ]

    @Test("decodes from JSON with defaults for missing members", arguments: decoded)
    func decodes(_ json: JSONValue, _ expected: Backoff) throws {
        #expect(try Backoff(json: json) == expected)
    }

    static let refused: [(JSONValue, String, String)] = [
        ([1, 2], "backoff", "'backoff' must be an object, got array"),
        ("fast", "backoff", "'backoff' must be an object, got string"),
        (["base": "1"], "backoff.base", "'backoff.base' must be a number, got string"),
        (["factor": true], "backoff.factor", "'backoff.factor' must be a number, got boolean"),
        (["max": [1]], "backoff.max", "'backoff.max' must be a number, got array"),
        (["jitter": 1], "backoff.jitter", "'backoff.jitter' must be true or false, got number"),
        (["maxDelay": 5], "backoff.maxDelay", "'backoff.maxDelay' is not a backoff setting; use base, factor, max or jitter"),
        (["base": 0], "backoff.base", "'backoff.base' must be greater than 0, got 0"),
        (["factor": 0.9], "backoff.factor", "'backoff.factor' must be at least 1, got 0.9"),
        (["base": 10, "max": 5], "backoff.max", "'backoff.max' must be at least 'backoff.base' (10), got 5"),
        (["base": 7200], "backoff.max", "'backoff.max' must be at least 'backoff.base' (7200), got 3600"),
    ]

    @Test("refuses bad JSON naming the member", arguments: refused)
    func refuses(_ json: JSONValue, _ field: String, _ message: String) {
        #expect(throws: BackoffError(field: field, message: message)) { try Backoff(json: json) }
    }

    @Test("jsonValue has every member and reads back")
    func jsonRoundTrip() throws {
        #expect(JSONWriter.string(Backoff().jsonValue) == #"{"base":1,"factor":2,"max":3600,"jitter":true}"#)
        for backoff in [Backoff(), Backoff(base: 0.25, factor: 1.5, max: 10.5, jitter: false), Backoff(base: 3, factor: 1, max: 3)] {
            #expect(try Backoff(json: backoff.jsonValue) == backoff)
            #expect(try Backoff(json: JSONParser.parse(JSONWriter.string(backoff.jsonValue))) == backoff)
        }
    }

    @Test("Codable: defaults for missing keys, validation on decode, round trip")
    func codable() throws {
        let decoder = JSONDecoder()
        #expect(try decoder.decode(Backoff.self, from: Data(#"{"factor":3}"#.utf8)) == Backoff(factor: 3))
        #expect(throws: DecodingError.self) { try decoder.decode(Backoff.self, from: Data(#"{"base":0}"#.utf8)) }
        let backoff = Backoff(base: 2, factor: 1.5, max: 90, jitter: false)
        #expect(try decoder.decode(Backoff.self, from: JSONEncoder().encode(backoff)) == backoff)
    }
}
