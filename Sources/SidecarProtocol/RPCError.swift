/// A JSON-RPC error object: a stable code, a message for people, and optional data.
///
/// Handlers throw it to answer a request with an error:
///
/// ```swift
/// throw RPCError.invalidParams("params.path: expected a string, got number")
/// ```
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: RPCErrorCode
    public var message: String
    public var data: JSONValue?

    public init(code: RPCErrorCode, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public var description: String { "error \(code.rawValue): \(message)" }

    /// The error as the JSON object that goes into a response.
    public var jsonValue: JSONValue {
        var members: JSONObject = ["code": .int(Int64(code.rawValue)), "message": .string(message)]
        if let data { members["data"] = data }
        return .object(members)
    }

    /// Reads an error object from a response; `nil` when it lacks a numeric code or a message.
    public init?(json: JSONValue) {
        guard let code = json["code"]?.intValue, let message = json["message"]?.stringValue else { return nil }
        self.init(code: RPCErrorCode(rawValue: Int(code)), message: message, data: json["data"])
    }
}

extension RPCError {
    public static func parseError(_ detail: String) -> RPCError {
        RPCError(code: .parseError, message: "Parse error: \(detail)")
    }

    public static func invalidRequest(_ detail: String) -> RPCError {
        RPCError(code: .invalidRequest, message: "Invalid request: \(detail)")
    }

    public static func methodNotFound(_ method: String) -> RPCError {
        RPCError(
            code: .methodNotFound,
            message: "Method not found: '\(method)'. Call rpc.discover for the list of methods.",
            data: ["method": .string(method)]
        )
    }

    public static func invalidParams(_ detail: String) -> RPCError {
        RPCError(code: .invalidParams, message: "Invalid params: \(detail)")
    }

    public static func internalError(_ detail: String) -> RPCError {
        RPCError(code: .internalError, message: "Internal error: \(detail)")
    }

    public static func frameTooLarge(length: UInt64, maximum: Int) -> RPCError {
        RPCError(
            code: .frameTooLarge,
            message: "Frame too large: the length prefix says \(length) bytes, the limit is \(maximum) bytes. "
                + "Send smaller messages or raise --max-frame-bytes.",
            data: ["length": .int(Int64(clamping: length)), "maximum": .int(Int64(maximum))]
        )
    }

    /// The answer to a request would be more than `maximum` bytes (`--max-outbound-bytes`), so
    /// it is not sent; a change the request made stands.
    public static func replyTooLarge(maximum: Int) -> RPCError {
        RPCError(
            code: .replyTooLarge,
            message: "Reply too large: the answer would be more than \(maximum) bytes, the most a connection is sent at once. "
                + "Ask for less at a time (a narrower path or query, a smaller batch) or raise --max-outbound-bytes.",
            data: ["maximum": .int(Int64(maximum))]
        )
    }

    public static func serverBusy(maximumConnections: Int) -> RPCError {
        RPCError(
            code: .serverBusy,
            message: "Server busy: the daemon already has \(maximumConnections) connections "
                + "(--max-connections). Close idle connections or retry later.",
            data: ["maximumConnections": .int(Int64(maximumConnections))]
        )
    }

    public static func permissionDenied(uid: UInt32) -> RPCError {
        RPCError(
            code: .permissionDenied,
            message: "Permission denied: uid \(uid) may not use this daemon. "
                + "Its owner can allow it with --allow-uid \(uid).",
            data: ["uid": .int(Int64(uid))]
        )
    }
}

/// An error of a service that knows which JSON-RPC error its caller should receive. The
/// server answers with ``rpcError`` when a method throws one (or fails its future with one),
/// so services need not depend on the transport and handlers need not translate.
public protocol RPCErrorConvertible: Error {
    /// The error the client receives.
    var rpcError: RPCError { get }
}
