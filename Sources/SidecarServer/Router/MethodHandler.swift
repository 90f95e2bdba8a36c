import SidecarProtocol

/// How a method runs.
///
/// An `immediate` handler runs on the connection's event loop and must not block: it suits
/// methods that answer from memory (`sidecar.ping`). A `waiting` handler runs as a task; the
/// connection goes on serving other requests while it waits, and its response may overtake
/// or be overtaken by others.
public enum MethodHandler: Sendable {
    case immediate(@Sendable (RequestContext) throws -> JSONValue)
    case waiting(@Sendable (RequestContext) async throws -> JSONValue)
}
