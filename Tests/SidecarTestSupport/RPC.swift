import SidecarProtocol

/// Builders for the JSON-RPC 2.0 messages a client sends.
///
/// ```swift
/// try connection.send(RPC.echo("hello", delayMs: 100, id: 7))
/// ```
public enum RPC {
    /// A request for `method` with `id`; `params` is left out when `nil`.
    public static func request(_ method: String, params: JSONValue? = nil, id: JSONValue = 1) -> JSONValue {
        var members: JSONObject = ["jsonrpc": "2.0", "id": id, "method": .string(method)]
        if let params { members["params"] = params }
        return .object(members)
    }

    /// A notification (a request without an id, which gets no reply) for `method`.
    public static func notification(_ method: String, params: JSONValue? = nil) -> JSONValue {
        var members: JSONObject = ["jsonrpc": "2.0", "method": .string(method)]
        if let params { members["params"] = params }
        return .object(members)
    }

    /// `sidecar.echo` of `value` after `delayMs`.
    public static func echo(_ value: JSONValue, delayMs: Int64 = 0, id: JSONValue = 1) -> JSONValue {
        request("sidecar.echo", params: ["value": value, "delayMs": .int(delayMs)], id: id)
    }
}
