import SidecarCache
import Testing

/// The L2 breaker's state machine, driven by explicit times (monotonic ms; wall ms for reports).
@Suite("Circuit breaker")
struct CircuitBreakerTests {
    static let wall: Int64 = 1_700_000_000_000

    @Test("closed: five failures in a row open it; a success in between resets the count")
    func opensAfterThreshold() {
        var breaker = CircuitBreaker()
        #expect(breaker.state == .closed)
        for time in 0..<4 {
            #expect(breaker.admit(now: Int64(time)) == .proceed)
            #expect(breaker.recordFailure(of: .proceed, now: Int64(time), wallTime: Self.wall) == nil)
        }
        #expect(breaker.consecutiveFailures == 4)
        breaker.recordSuccess(of: .proceed, now: 4)
        #expect(breaker.consecutiveFailures == 0)
        #expect(breaker.state == .closed)

        for time in 10..<14 { breaker.recordFailure(of: .proceed, now: Int64(time), wallTime: Self.wall) }
        #expect(breaker.state == .closed)
        let transition = breaker.recordFailure(of: .proceed, now: 14, wallTime: Self.wall + 14)
        #expect(transition == .opened(consecutiveFailures: 5))
        #expect(breaker.state == .open)
        #expect(breaker.trips == 1)
        #expect(breaker.openedAt == Self.wall + 14)
        #expect(breaker.probeAllowedAt == 30_014)
    }

    @Test("open: calls skip L2 until the recovery timeout, then exactly one probe goes through")
    func halfOpenLetsOneProbe() {
        var breaker = Self.openedAt(1_000)
        #expect(breaker.admit(now: 1_001) == .skip)
        #expect(breaker.admit(now: 30_999) == .skip)
        #expect(breaker.state == .open)

        #expect(breaker.admit(now: 31_000) == .probe)
        #expect(breaker.state == .halfOpen)
        #expect(breaker.state.rawValue == "half_open")
        for time in 31_000..<31_010 {
            #expect(breaker.admit(now: Int64(time)) == .skip, "only one probe while it is in flight")
        }
    }

    @Test("a probe success closes it and clears the failure state")
    func probeSuccessCloses() {
        var breaker = Self.openedAt(0)
        #expect(breaker.admit(now: 30_000) == .probe)
        #expect(breaker.recordSuccess(of: .probe, now: 30_005) == .closed)
        #expect(breaker.state == .closed)
        #expect(breaker.consecutiveFailures == 0)
        #expect(breaker.openedAt == nil)
        #expect(breaker.trips == 1)
        #expect(breaker.admit(now: 30_006) == .proceed)
        #expect(breaker.admit(now: 30_007) == .proceed)
    }

    @Test("a probe failure re-opens it for a new recovery period, and counts a trip")
    func probeFailureReopens() {
        var breaker = Self.openedAt(0)
        #expect(breaker.admit(now: 30_000) == .probe)
        #expect(breaker.recordFailure(of: .probe, now: 30_100, wallTime: Self.wall + 30_100) == .reopened)
        #expect(breaker.state == .open)
        #expect(breaker.trips == 2)
        #expect(breaker.openedAt == Self.wall + 30_100)
        #expect(breaker.consecutiveFailures == 6)
        #expect(breaker.admit(now: 60_099) == .skip, "the new period runs from the probe's failure")
        #expect(breaker.admit(now: 60_100) == .probe)
        #expect(breaker.recordSuccess(of: .probe, now: 60_101) == .closed)
    }

    @Test("it can start open, as when the daemon starts with Redis down; that is not a trip")
    func startsOpen() {
        var breaker = CircuitBreaker(openAt: 500, wallTime: Self.wall)
        #expect(breaker.state == .open)
        #expect(breaker.trips == 0)
        #expect(breaker.openedAt == Self.wall)
        #expect(breaker.admit(now: 30_499) == .skip)
        #expect(breaker.admit(now: 30_500) == .probe)
        #expect(breaker.recordFailure(of: .probe, now: 30_600, wallTime: Self.wall) == .reopened)
        #expect(breaker.trips == 1)
    }

    @Test("late results of calls admitted before it opened neither close it nor restart recovery")
    func staleResultsIgnored() {
        var breaker = Self.openedAt(0)
        #expect(breaker.recordSuccess(of: .proceed, now: 10) == nil)
        #expect(breaker.state == .open)
        #expect(breaker.recordFailure(of: .proceed, now: 20_000, wallTime: Self.wall) == nil)
        #expect(breaker.trips == 1)
        #expect(breaker.admit(now: 30_000) == .probe, "recovery still runs from the opening")

        // While the probe is in flight, late .proceed results do not decide anything either.
        #expect(breaker.recordSuccess(of: .proceed, now: 30_001) == nil)
        #expect(breaker.recordFailure(of: .proceed, now: 30_002, wallTime: Self.wall) == nil)
        #expect(breaker.state == .halfOpen)
        #expect(breaker.recordSuccess(of: .probe, now: 30_003) == .closed)
    }

    @Test("a probe that never reports is given up after a recovery timeout, or at once if abandoned")
    func lostProbe() {
        var breaker = Self.openedAt(0)
        #expect(breaker.admit(now: 30_000) == .probe)
        #expect(breaker.admit(now: 59_999) == .skip)
        #expect(breaker.admit(now: 60_000) == .probe, "the first probe is presumed lost")
        #expect(breaker.admit(now: 60_001) == .skip)
        breaker.abandonProbe()
        #expect(breaker.admit(now: 60_002) == .probe)
        #expect(breaker.state == .halfOpen)
    }

    @Test("forceOpen opens at once from closed or half-open, and leaves an open breaker's period alone")
    func forceOpen() {
        var breaker = CircuitBreaker()
        breaker.recordFailure(of: .proceed, now: 0, wallTime: Self.wall)
        #expect(breaker.forceOpen(now: 100, wallTime: Self.wall + 100) == .opened(consecutiveFailures: 1))
        #expect(breaker.trips == 1)
        #expect(breaker.forceOpen(now: 200, wallTime: Self.wall + 200) == nil)
        #expect(breaker.openedAt == Self.wall + 100)
        #expect(breaker.admit(now: 30_100) == .probe)
        #expect(breaker.forceOpen(now: 30_200, wallTime: Self.wall) == .reopened)
        #expect(breaker.trips == 2)
        #expect(breaker.probeAllowedAt == 60_200)
    }

    @Test("the configuration takes a Duration and a threshold of at least one")
    func configuration() {
        var breaker = CircuitBreaker(configuration: .init(failureThreshold: 0, recoveryTimeout: .milliseconds(1_500)))
        #expect(breaker.configuration.failureThreshold == 1)
        #expect(breaker.configuration.recoveryTimeout == 1_500)
        #expect(breaker.recordFailure(of: .proceed, now: 0, wallTime: Self.wall) == .opened(consecutiveFailures: 1))
        #expect(breaker.admit(now: 1_499) == .skip)
        #expect(breaker.admit(now: 1_500) == .probe)
    }

    /// A breaker with the default configuration, opened by five failures at `time`.
    static func openedAt(_ time: Int64) -> CircuitBreaker {
        var breaker = CircuitBreaker()
        for _ in 0..<5 { breaker.recordFailure(of: .proceed, now: time, wallTime: wall + time) }
        return breaker
    }
}
