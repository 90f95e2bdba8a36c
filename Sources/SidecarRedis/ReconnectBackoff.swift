/// The pauses between reconnection attempts: `initialDelay`, doubling up to `maximumDelay`,
/// back to `initialDelay` after ``reset()`` (a connection that worked).
///
/// There is no jitter: one daemon has one subscriber, so there is no herd to spread out.
///
/// ```swift
/// var backoff = ReconnectBackoff(initialDelay: .milliseconds(50), maximumDelay: .seconds(2))
/// backoff.next()  // 50 ms, then 100 ms, 200 ms, … 2 s, 2 s
/// ```
public struct ReconnectBackoff: Sendable, Hashable {
    /// The first pause.
    public var initialDelay: Duration
    /// The longest pause.
    public var maximumDelay: Duration
    private var upcoming: Duration

    /// A backoff from `initialDelay` (50 ms by default) to `maximumDelay` (2 s by default).
    public init(initialDelay: Duration = .milliseconds(50), maximumDelay: Duration = .seconds(2)) {
        self.initialDelay = initialDelay
        self.maximumDelay = max(maximumDelay, initialDelay)
        upcoming = initialDelay
    }

    /// The pause before the next attempt; each call doubles the one after, up to the maximum.
    public mutating func next() -> Duration {
        let delay = upcoming
        upcoming = min(upcoming * 2, maximumDelay)
        return delay
    }

    /// Starts again from `initialDelay`.
    public mutating func reset() {
        upcoming = initialDelay
    }
}
