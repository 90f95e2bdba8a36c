import NIOConcurrencyHelpers
import SidecarProtocol

/// What a handler knows about the request it serves.
public struct RequestContext: Sendable {
    /// The method name, as called.
    public var method: String
    /// The request's params, with accessors that produce `-32602` errors naming the field.
    public var params: Params
    /// The connection the request came on: who is on the other end, and how to notify it.
    public var connection: ConnectionHandle

    public init(method: String, params: Params, connection: ConnectionHandle) {
        self.method = method
        self.params = params
        self.connection = connection
    }
}

/// One client connection as services see it; made once per connection and shared by all of
/// its requests (so a request costs a single reference, not a copy of these).
public final class ConnectionHandle: Sendable {
    /// Who is on the other end.
    public let info: ConnectionInfo
    /// Sends notifications back to this connection, now or later (subscriptions).
    public let notifier: ConnectionNotifier

    /// Handlers by the service that registered them; `nil` once the connection has closed.
    private let closeHandlers = NIOLockedValueBox<[String: @Sendable () -> Void]?>([:])

    public init(info: ConnectionInfo, notifier: ConnectionNotifier) {
        self.info = info
        self.notifier = notifier
    }

    /// Runs `body` once when the connection closes (at once if it already has): services
    /// use it to end the connection's subscriptions and leases. Only the first handler per
    /// `service` is kept, so a method called many times on one connection registers once.
    public func onClose(service: String, _ body: @escaping @Sendable () -> Void) {
        let registered = closeHandlers.withLockedValue { handlers -> Bool in
            guard handlers != nil else { return false }
            if handlers?[service] == nil { handlers?[service] = body }
            return true
        }
        if !registered { body() }
    }

    func closed() {
        let handlers = closeHandlers.withLockedValue { handlers in
            defer { handlers = nil }
            return handlers ?? [:]
        }
        for handler in handlers.values { handler() }
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
