import NIOCore
import SidecarProtocol

/// How a method runs.
///
/// An `immediate` handler runs on the connection's event loop and must not block: it suits
/// methods that answer from memory (`sidecar.ping`). A `waiting` handler runs as a task; the
/// connection goes on serving other requests while it waits, and its response may overtake
/// or be overtaken by others. An `onLoop` handler runs on the connection's event loop like an
/// `immediate` one, in arrival order and without a task, and answers either at once or later
/// through a future: it suits a service that owns its data on an event loop and completes a
/// request when, say, its write is committed (`state.set`).
public enum MethodHandler: Sendable {
    case immediate(@Sendable (RequestContext) throws -> JSONValue)
    case waiting(@Sendable (RequestContext) async throws -> JSONValue)
    case onLoop(@Sendable (RequestContext) throws -> LoopReply)
}

/// The answer of an `onLoop` handler.
public enum LoopReply: Sendable {
    /// The result, known now.
    case now(JSONValue)
    /// The result, known now and already written as JSON text (a cache hit from its stored
    /// bytes): copied to the wire as it is.
    case encoded(EncodedJSON)
    /// The result, once the future completes (on any event loop).
    case later(EventLoopFuture<JSONValue>)
    /// A result already written as JSON text, sent once `done` succeeds (a change that is
    /// acknowledged after its commit); if `done` fails, its error is the answer instead.
    case encodedAfter(_ done: EventLoopFuture<Void>, EncodedJSON)
}
