/// Everything the server needs to know to listen and serve; the daemon builds it from flags
/// and the configuration file.
public struct ServerConfiguration: Sendable {
    /// Where to listen. Ignored when a socket was passed by socket activation.
    public var socketPath: String
    /// The largest frame body accepted, in bytes (`--max-frame-bytes`).
    public var maximumFrameLength: Int = 16 * 1024 * 1024
    /// The most connections served at once (`--max-connections`).
    public var maximumConnections: Int = 1024
    /// The most bytes a connection may have waiting to be sent before it is closed (`--max-outbound-bytes`).
    public var maximumOutboundBytes: Int = 8 * 1024 * 1024
    /// User ids allowed besides the daemon's own and root (`--allow-uid`).
    public var allowedUIDs: Set<UInt32> = []
    /// Exit after this many seconds with no connection and no pending work; `nil` never (`--idle-exit`).
    public var idleExitSeconds: Double?
    /// How long a graceful shutdown waits for in-flight requests (`--shutdown-timeout`).
    public var shutdownTimeoutSeconds: Double = 10
    /// Event loop threads (`--threads`). One, like Redis: a request costs about a microsecond of
    /// loop time, and on a desktop's few cores a second loop mostly adds cross-core wake-ups
    /// (measured: `make bench` at 50 connections is faster with one loop than with two).
    /// Handlers that wait run as tasks off the loop either way.
    public var threads: Int = 1
    /// The daemon's version, reported by `sidecar.status`.
    public var version: String = "0.1.0"

    public init(socketPath: String) {
        self.socketPath = socketPath
    }
}

