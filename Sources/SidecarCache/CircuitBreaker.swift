/// The breaker in front of L2 (Redis): after repeated failures the cache stops calling Redis
/// for a while and serves from L1 alone, then lets a single probe find out whether Redis is back.
///
/// A value-type state machine: its methods take the time and return what to do, and the owner
/// (the cache actor) does it and logs the transitions.
///
/// ```swift
/// let admission = breaker.admit(now: clock.monotonicMilliseconds())
/// guard admission != .skip else { return l1Only() }
/// do {
///     let value = try await redis.get(key)
///     if breaker.recordSuccess(of: admission, now: clock.monotonicMilliseconds()) == .closed {
///         l1.removeEntries(from: .l2)   // filled before the outage: may be stale
///     }
/// } catch {
///     if let transition = breaker.recordFailure(of: admission, now: clock.monotonicMilliseconds(),
///                                               wallTime: clock.wallMilliseconds()) {
///         logger.warning("L2 breaker \(transition)")
///     }
/// }
/// ```
///
/// States:
/// - **closed**: every call goes to Redis; `failureThreshold` consecutive failures open it.
/// - **open**: calls skip Redis; `recoveryTimeout` after opening, the next call becomes the probe
///   and the breaker goes half-open.
/// - **half-open**: exactly one probe is in flight and every other call skips Redis. The probe's
///   success closes the breaker; its failure opens it again for a new recovery period. A probe
///   that reports nothing for `recoveryTimeout` (its task was cancelled, say) is given up and
///   the next call becomes a new probe, so the breaker cannot stay half-open forever.
///
/// Results are reported with the admission they answer. While open or half-open, results of
/// calls admitted as `.proceed` before the breaker opened are ignored: a late success from
/// before the outage says nothing about Redis now, and a late failure must not start a new
/// recovery period.
public struct CircuitBreaker: Sendable {
    public struct Configuration: Hashable, Sendable {
        /// Consecutive failures that open a closed breaker. Values below 1 are raised to 1.
        public var failureThreshold: Int
        /// How long the breaker stays open before it lets a probe through, in milliseconds.
        public var recoveryTimeout: Int64

        public init(failureThreshold: Int = 5, recoveryTimeout: Duration = .seconds(30)) {
            self.failureThreshold = max(1, failureThreshold)
            let (seconds, attoseconds) = recoveryTimeout.components
            let (milliseconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
            self.recoveryTimeout = overflow ? (seconds > 0 ? .max : 0) : max(0, milliseconds + attoseconds / 1_000_000_000_000_000)
        }
    }

    /// The breaker's state, spelled as `cache.stats` reports it.
    public enum State: String, Hashable, Sendable {
        case closed
        case open
        case halfOpen = "half_open"
    }

    /// What a call to L2 should do.
    public enum Admission: Hashable, Sendable {
        /// Call Redis (the breaker is closed).
        case proceed
        /// Call Redis as the one probe of a half-open breaker; report the result.
        case probe
        /// Do not call Redis; serve from L1 alone.
        case skip
    }

    /// A change of state worth a log line.
    public enum Transition: Hashable, Sendable, CustomStringConvertible {
        /// Closed → open after `consecutiveFailures` failures in a row (or ``forceOpen(now:wallTime:)``).
        case opened(consecutiveFailures: Int)
        /// Half-open → open: the probe failed; a new recovery period starts.
        case reopened
        /// Half-open → closed: the probe succeeded.
        case closed

        public var description: String {
            switch self {
            case .opened(let failures): return "opened after \(failures) consecutive failures"
            case .reopened: return "re-opened: the probe failed"
            case .closed: return "closed: the probe succeeded"
            }
        }
    }

    public let configuration: Configuration
    public private(set) var state: State
    /// Failures in a row since the last success (kept while open, for the stats).
    public private(set) var consecutiveFailures = 0
    /// Wall time (Unix milliseconds) when the breaker last opened; `nil` while closed.
    public private(set) var openedAt: Int64?
    /// How many times the breaker has opened (including re-openings after a failed probe, but
    /// not the initial state of a breaker built open).
    public private(set) var trips = 0

    /// Monotonic time of the last opening: the recovery period runs from here.
    private var openedAtMonotonic: Int64 = 0
    /// Monotonic time the current probe was let through; `nil` when no probe is in flight.
    private var probeStartedAt: Int64?

    /// A closed breaker.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.state = .closed
    }

    /// A breaker that starts open, as when the daemon starts with Redis unreachable: the first
    /// probe is let through `recoveryTimeout` after `now`.
    /// - Parameters:
    ///   - now: monotonic milliseconds.
    ///   - wallTime: Unix milliseconds, reported as ``openedAt``.
    public init(configuration: Configuration = Configuration(), openAt now: Int64, wallTime: Int64) {
        self.configuration = configuration
        self.state = .open
        self.openedAtMonotonic = now
        self.openedAt = wallTime
    }

    /// Decides whether a call may go to Redis, moving an open breaker whose recovery period is
    /// over to half-open (that call is the probe).
    /// - Parameter now: monotonic milliseconds.
    public mutating func admit(now: Int64) -> Admission {
        switch state {
        case .closed:
            return .proceed
        case .open:
            guard now - openedAtMonotonic >= configuration.recoveryTimeout else { return .skip }
            state = .halfOpen
            probeStartedAt = now
            return .probe
        case .halfOpen:
            if let probeStartedAt, now - probeStartedAt < configuration.recoveryTimeout {
                return .skip
            }
            probeStartedAt = now
            return .probe
        }
    }

    /// Records a successful call to Redis.
    /// - Parameters:
    ///   - admission: what ``admit(now:)`` answered for this call.
    ///   - now: monotonic milliseconds.
    /// - Returns: ``Transition/closed`` when this was the probe, which is when the owner drops
    ///   the L1 entries filled from L2 before the outage; otherwise `nil`.
    @discardableResult
    public mutating func recordSuccess(of admission: Admission, now: Int64) -> Transition? {
        switch (state, admission) {
        case (.closed, _):
            consecutiveFailures = 0
            return nil
        case (.halfOpen, .probe):
            state = .closed
            consecutiveFailures = 0
            openedAt = nil
            probeStartedAt = nil
            return .closed
        default:
            return nil
        }
    }

    /// Records a failed call to Redis (an error or a timeout, not a miss).
    /// - Parameters:
    ///   - admission: what ``admit(now:)`` answered for this call.
    ///   - now: monotonic milliseconds.
    ///   - wallTime: Unix milliseconds, reported as ``openedAt`` if the breaker opens.
    /// - Returns: ``Transition/opened(consecutiveFailures:)`` when this failure opened a closed
    ///   breaker, ``Transition/reopened`` when it was the probe; otherwise `nil`.
    @discardableResult
    public mutating func recordFailure(of admission: Admission, now: Int64, wallTime: Int64) -> Transition? {
        switch (state, admission) {
        case (.closed, _):
            consecutiveFailures += 1
            guard consecutiveFailures >= configuration.failureThreshold else { return nil }
            open(now: now, wallTime: wallTime)
            return .opened(consecutiveFailures: consecutiveFailures)
        case (.halfOpen, .probe):
            consecutiveFailures += 1
            open(now: now, wallTime: wallTime)
            return .reopened
        default:
            return nil
        }
    }

    /// Gives up the probe in flight without a result (its task was cancelled), so that the next
    /// call becomes a new probe at once.
    public mutating func abandonProbe() {
        if state == .halfOpen { probeStartedAt = nil }
    }

    /// Opens the breaker at once, whatever the count (the connection to Redis was lost).
    /// - Returns: ``Transition/opened(consecutiveFailures:)`` if it was closed, ``Transition/reopened``
    ///   if it was half-open, `nil` if it was already open (the recovery period is not restarted).
    @discardableResult
    public mutating func forceOpen(now: Int64, wallTime: Int64) -> Transition? {
        switch state {
        case .open:
            return nil
        case .closed:
            open(now: now, wallTime: wallTime)
            return .opened(consecutiveFailures: consecutiveFailures)
        case .halfOpen:
            open(now: now, wallTime: wallTime)
            return .reopened
        }
    }

    /// Monotonic time at which an open breaker will let a probe through; `nil` unless open.
    public var probeAllowedAt: Int64? {
        guard state == .open else { return nil }
        let (sum, overflow) = openedAtMonotonic.addingReportingOverflow(configuration.recoveryTimeout)
        return overflow ? .max : sum
    }

    private mutating func open(now: Int64, wallTime: Int64) {
        state = .open
        openedAtMonotonic = now
        openedAt = wallTime
        probeStartedAt = nil
        trips += 1
    }
}
