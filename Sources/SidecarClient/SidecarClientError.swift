@_exported import SidecarProtocol

/// Everything a ``SidecarClient`` call can fail with.
///
/// A JSON-RPC error answered by the daemon arrives as ``rpc(_:)`` with the server's code,
/// message and data unchanged; every other case is a failure of the transport or of the
/// client itself.
///
/// ```swift
/// do {
///     _ = try await client.call("no.such.method")
/// } catch SidecarClientError.rpc(let error) where error.code == .methodNotFound {
///     print(error.message)   // Method not found: 'no.such.method'. …
/// }
/// ```
public enum SidecarClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The daemon answered with a JSON-RPC error object.
    case rpc(RPCError)
    /// No connection could be made to the socket at `path`; `reason` says why
    /// (`No such file or directory`, `Connection refused`, …).
    case cannotConnect(path: String, reason: String)
    /// No reply arrived within the call's timeout (or, while reconnecting, no connection).
    case timedOut
    /// The connection closed while the call was in flight; the call may or may not have run.
    case connectionClosed
    /// ``SidecarClient/close()`` was called before or during the call.
    case clientClosed
    /// The daemon sent bytes that are not a valid Sidecar message; the connection is dropped.
    case protocolViolation(String)
    /// The typed params of `method` could not be encoded as a JSON object or array.
    case encodingFailed(method: String, reason: String)
    /// The result of `method` could not be decoded into the requested type.
    case decodingFailed(method: String, reason: String)

    /// The server's error object when this is ``rpc(_:)``, else `nil`.
    public var rpcError: RPCError? {
        if case .rpc(let error) = self { return error }
        return nil
    }

    public var description: String {
        switch self {
        case .rpc(let error):
            return "error \(error.code.rawValue): \(error.message)"
        case .cannotConnect(let path, let reason):
            return "cannot connect to \(path): \(reason)"
        case .timedOut:
            return "timed out: no reply from the daemon within the call's timeout"
        case .connectionClosed:
            return "the connection to the daemon closed before the reply arrived"
        case .clientClosed:
            return "the client was closed"
        case .protocolViolation(let detail):
            return "the daemon sent an invalid message: \(detail)"
        case .encodingFailed(let method, let reason):
            return "cannot encode the params of \(method): \(reason)"
        case .decodingFailed(let method, let reason):
            return "cannot decode the result of \(method): \(reason)"
        }
    }
}

/// A request the handler refused because its connection had already gone; it was never
/// written, so the client may safely send it again on the next connection.
struct RequestNotSent: Error {}
