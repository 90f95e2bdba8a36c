/// When and how often a ``SidecarClient`` tries to connect again after its connection drops.
///
/// The first attempt is made at once (a socket-activated daemon accepts immediately); each
/// later one waits `initialDelay`, doubling up to `maximumDelay`. A round of attempts ends
/// when it connects, after `maximumAttempts`, or once `giveUpAfter` has passed since the
/// drop; calls then fail with the last connection error, and the next call starts a new round.
///
/// ```swift
/// var configuration = SidecarClient.Configuration()
/// configuration.reconnect = ReconnectPolicy(maximumAttempts: 20, giveUpAfter: .seconds(10))
/// configuration.reconnect = .disabled   // a dropped connection stays dropped
/// ```
public struct ReconnectPolicy: Sendable, Hashable {
    /// The wait before the second attempt.
    public var initialDelay: Duration
    /// The longest wait between two attempts.
    public var maximumDelay: Duration
    /// The factor by which the wait grows after each failed attempt.
    public var multiplier: Double
    /// The most attempts in one round; `nil` for no limit. `0` disables reconnecting.
    public var maximumAttempts: Int?
    /// How long a round may last, from the drop; `nil` for no limit.
    public var giveUpAfter: Duration?

    /// - Parameters:
    ///   - initialDelay: the wait before the second attempt (default 50 ms).
    ///   - maximumDelay: the cap on the wait between attempts (default 2 s).
    ///   - multiplier: the growth factor of the wait (default 2).
    ///   - maximumAttempts: attempts per round, `nil` for unlimited (default 30).
    ///   - giveUpAfter: the time limit of a round, `nil` for unlimited (default 30 s).
    public init(
        initialDelay: Duration = .milliseconds(50),
        maximumDelay: Duration = .seconds(2),
        multiplier: Double = 2,
        maximumAttempts: Int? = 30,
        giveUpAfter: Duration? = .seconds(30)
    ) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.multiplier = multiplier
        self.maximumAttempts = maximumAttempts
        self.giveUpAfter = giveUpAfter
    }

    /// Never reconnect: after a drop every call fails with ``SidecarClientError/connectionClosed``.
    public static let disabled = ReconnectPolicy(maximumAttempts: 0)

    /// Whether a dropped connection is followed by attempts to connect again.
    public var isEnabled: Bool { maximumAttempts.map { $0 > 0 } ?? true }

    /// The wait before attempt number `attempt` (counted from 1) of a round.
    public func delay(beforeAttempt attempt: Int) -> Duration {
        guard attempt > 1 else { return .zero }
        var delay = initialDelay
        for _ in 2..<attempt {
            delay = delay * multiplier
            if delay >= maximumDelay { return maximumDelay }
        }
        return min(delay, maximumDelay)
    }

    /// Whether attempt number `attempt` may start once `elapsed` has passed since the round began
    /// (including the wait that precedes it).
    public func allowsAttempt(_ attempt: Int, elapsed: Duration) -> Bool {
        if let maximumAttempts, attempt > maximumAttempts { return false }
        if let giveUpAfter, elapsed + delay(beforeAttempt: attempt) > giveUpAfter { return false }
        return true
    }
}
