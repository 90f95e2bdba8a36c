import Logging
import NIOCore
import NIOPosix

extension SidecarClient {
    /// How a ``SidecarClient`` connects, waits and reconnects.
    ///
    /// ```swift
    /// var configuration = SidecarClient.Configuration()
    /// configuration.defaultTimeout = .seconds(2)
    /// configuration.onReconnect = { client in
    ///     try? await client.call("state.subscribe", params: ["path": "/jobs"])
    /// }
    /// let client = try await SidecarClient.connect(configuration: configuration)
    /// ```
    public struct Configuration: Sendable {
        /// The timeout of a call that does not name one (default 5 s). It covers waiting for a
        /// reconnect, sending, and the reply.
        public var defaultTimeout: Duration
        /// How long one connection attempt may take (default 2 s).
        public var connectTimeout: Duration
        /// The largest frame accepted from the daemon (default 64 MiB); a larger one drops the
        /// connection with ``SidecarClientError/protocolViolation(_:)``.
        public var maximumFrameLength: Int
        /// When to connect again after the connection drops.
        public var reconnect: ReconnectPolicy
        /// How many server notifications ``SidecarClient/notifications`` holds while nobody reads
        /// them; when full, the oldest are dropped (default 1024).
        public var notificationBufferSize: Int
        /// Called after each successful reconnect, so that the caller can restore what lived on
        /// the old connection (subscriptions). Calls made from the hook go out on the new
        /// connection.
        public var onReconnect: (@Sendable (SidecarClient) async -> Void)?
        /// The event loops that run the connection (default: NIO's shared singleton group).
        public var eventLoopGroup: any EventLoopGroup
        /// Where the client logs connection events (default: nowhere).
        public var logger: Logger

        /// - Parameters:
        ///   - defaultTimeout: the timeout of calls that name none.
        ///   - connectTimeout: the limit of one connection attempt.
        ///   - maximumFrameLength: the largest frame accepted from the daemon.
        ///   - reconnect: the reconnect policy.
        ///   - notificationBufferSize: the notifications held for a slow reader.
        ///   - onReconnect: a hook run after each reconnect.
        ///   - eventLoopGroup: the event loops that run the connection.
        ///   - logger: where connection events are logged.
        public init(
            defaultTimeout: Duration = .seconds(5),
            connectTimeout: Duration = .seconds(2),
            maximumFrameLength: Int = 64 << 20,
            reconnect: ReconnectPolicy = ReconnectPolicy(),
            notificationBufferSize: Int = 1024,
            onReconnect: (@Sendable (SidecarClient) async -> Void)? = nil,
            eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
            logger: Logger = Logger(label: "sidecar.client", factory: { _ in SwiftLogNoOpLogHandler() })
        ) {
            self.defaultTimeout = defaultTimeout
            self.connectTimeout = connectTimeout
            self.maximumFrameLength = maximumFrameLength
            self.reconnect = reconnect
            self.notificationBufferSize = notificationBufferSize
            self.onReconnect = onReconnect
            self.eventLoopGroup = eventLoopGroup
            self.logger = logger
        }
    }
}
