/// The stable JSON-RPC error codes Sidecar answers with.
///
/// The first five are defined by JSON-RPC 2.0; the `-320xx` codes are Sidecar's own and are
/// documented in `protocol/PROTOCOL.md`. Codes never change meaning once published.
public struct RPCErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int

    public init(rawValue: Int) { self.rawValue = rawValue }

    /// The frame is not valid JSON (or not valid UTF-8, or empty).
    public static let parseError = RPCErrorCode(rawValue: -32700)
    /// The JSON is not a valid request object.
    public static let invalidRequest = RPCErrorCode(rawValue: -32600)
    /// No method of that name exists.
    public static let methodNotFound = RPCErrorCode(rawValue: -32601)
    /// The params are not what the method takes; the message names the parameter.
    public static let invalidParams = RPCErrorCode(rawValue: -32602)
    /// The server failed while handling a valid request.
    public static let internalError = RPCErrorCode(rawValue: -32603)

    /// A frame's length prefix exceeds the server's maximum; the connection is then closed.
    public static let frameTooLarge = RPCErrorCode(rawValue: -32001)
    /// The server is at its connection limit; the connection is then closed.
    public static let serverBusy = RPCErrorCode(rawValue: -32002)
    /// A wait ran out of time.
    public static let timedOut = RPCErrorCode(rawValue: -32003)
    /// The named thing does not exist.
    public static let notFound = RPCErrorCode(rawValue: -32004)
    /// The request conflicts with the current state (a revision, a lease, a final status).
    public static let conflict = RPCErrorCode(rawValue: -32005)
    /// The operation was cancelled.
    public static let cancelled = RPCErrorCode(rawValue: -32006)
    /// The peer may not use this daemon.
    public static let permissionDenied = RPCErrorCode(rawValue: -32007)
    /// The answer would be larger than the connection may be sent at once.
    public static let replyTooLarge = RPCErrorCode(rawValue: -32008)

    /// A short name for logs and metrics (`parse_error`, `frame_too_large`, …).
    public var name: String {
        switch self {
        case .parseError: return "parse_error"
        case .invalidRequest: return "invalid_request"
        case .methodNotFound: return "method_not_found"
        case .invalidParams: return "invalid_params"
        case .internalError: return "internal_error"
        case .frameTooLarge: return "frame_too_large"
        case .serverBusy: return "server_busy"
        case .timedOut: return "timed_out"
        case .notFound: return "not_found"
        case .conflict: return "conflict"
        case .cancelled: return "cancelled"
        case .permissionDenied: return "permission_denied"
        case .replyTooLarge: return "reply_too_large"
        default: return "error_\(rawValue)"
        }
    }

    public var description: String { String(rawValue) }
}
