import SidecarProtocol

/// What a handler knows about the request it serves.
public struct RequestContext: Sendable {
    /// The method name, as called.
    public var method: String
    /// The request's params, with accessors that produce `-32602` errors naming the field.
    public var params: Params
    /// The connection the request came on.
    public var connection: ConnectionInfo
    /// Sends notifications back to this connection, now or later (subscriptions).
    public var notifier: ConnectionNotifier

    public init(method: String, params: Params, connection: ConnectionInfo, notifier: ConnectionNotifier) {
        self.method = method
        self.params = params
        self.connection = connection
        self.notifier = notifier
    }
}

/// Facts about a client connection, fixed when it is accepted.
public struct ConnectionInfo: Sendable, Hashable {
    /// A number unique among this daemon's connections.
    public var id: UInt64
    /// The peer's user id, from `SO_PEERCRED`.
    public var uid: UInt32
    /// The peer's process id, from `SO_PEERCRED`.
    public var pid: Int32

    public init(id: UInt64, uid: UInt32, pid: Int32) {
        self.id = id
        self.uid = uid
        self.pid = pid
    }
}
