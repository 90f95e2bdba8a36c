import SidecarProtocol

/// How a method runs.
///
/// An `immediate` handler runs on the connection's event loop and must not block: it suits
/// methods that answer from memory (`sidecar.ping`). A `waiting` handler runs as a task; the
/// connection goes on serving other requests while it waits, and its response may overtake
/// or be overtaken by others. An `ordered` handler waits too, but the `ordered` requests of
/// one connection run one after another in the order they arrived (a pipelined `state.set`
/// then `state.get` reads its own write), while other requests still overtake them.
public enum MethodHandler: Sendable {
    case immediate(@Sendable (RequestContext) throws -> JSONValue)
    case waiting(@Sendable (RequestContext) async throws -> JSONValue)
    case ordered(@Sendable (RequestContext) async throws -> JSONValue)
    /// An `ordered` method that answers from memory: it runs on the event loop at once, unless
    /// an `ordered` request of the same connection is still running, and then right after it.
    case orderedImmediate(@Sendable (RequestContext) throws -> JSONValue)
}
