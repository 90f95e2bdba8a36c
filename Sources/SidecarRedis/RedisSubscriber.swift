import Logging

/// A subscription to one Redis channel, kept alive on its own thread and connection.
///
/// It connects and subscribes at once, and whenever the connection fails (Redis killed,
/// restarted, or silent for longer than a health-check `PING` may take) it reports
/// ``Event/disconnected(_:)``, reconnects with backoff, subscribes again and reports
/// ``Event/connected``. Messages published while it was disconnected are lost, as Redis
/// pub/sub does not keep them: an owner that caches what the messages invalidate should
/// treat every ``Event/connected`` after the first as "anything may have changed".
///
/// ```swift
/// let subscriber = RedisSubscriber(endpoint: endpoint, channel: "sidecar:invalidate", logger: logger)
/// for await event in subscriber.events {
///     switch event {
///     case .connected: break
///     case .disconnected: cache.dropEntriesFromRedis()
///     case .message(let payload): cache.invalidate(payload)
///     }
/// }
/// ```
public final class RedisSubscriber: Sendable {
    /// What happened to the subscription, in order.
    public enum Event: Sendable, Hashable {
        /// The subscription is active (Redis confirmed the `SUBSCRIBE`).
        case connected
        /// An active subscription was lost, for this reason; reconnection is under way.
        case disconnected(RedisError)
        /// A message published on the channel.
        case message([UInt8])
    }

    /// The server.
    public let endpoint: RedisEndpoint
    /// The channel subscribed to.
    public let channel: String
    /// The subscription's events, in order; finishes after ``stop()``. It buffers without limit
    /// so that no event is dropped: read it from one task, and keep reading.
    public let events: AsyncStream<Event>
    private let loop: SubscriptionLoop

    /// Starts the subscription's thread, which connects and subscribes at once.
    /// - Parameters:
    ///   - endpoint: the server.
    ///   - channel: the channel to subscribe to.
    ///   - timeout: the bound on connecting, on Redis confirming the subscription, and on
    ///     answering a health-check `PING`; 100 ms by default.
    ///   - healthCheckInterval: how long the connection may be silent before a `PING` checks
    ///     that Redis still answers; 1 s by default.
    ///   - backoff: the pauses between attempts to reconnect.
    ///   - logger: receives a warning when the subscription is lost or cannot be made.
    public init(endpoint: RedisEndpoint, channel: String, timeout: Duration = .milliseconds(100),
                healthCheckInterval: Duration = .seconds(1), backoff: ReconnectBackoff = ReconnectBackoff(),
                logger: Logger) {
        self.endpoint = endpoint
        self.channel = channel
        let (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
        self.events = events
        loop = SubscriptionLoop(endpoint: endpoint, channel: channel, timeout: timeout,
                                healthCheckInterval: healthCheckInterval, backoff: backoff, logger: logger,
                                continuation: continuation)
        loop.start(name: "redis-subscriber")
    }

    deinit { stop() }

    /// Ends the subscription: the thread closes its connection and finishes ``events`` promptly
    /// (without a last ``Event/disconnected(_:)``). Calling it again does nothing.
    public func stop() {
        loop.requestStop()
    }
}
