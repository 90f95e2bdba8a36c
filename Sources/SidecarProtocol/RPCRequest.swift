import NIOCore

/// A JSON-RPC 2.0 request or notification, as received by the server.
public struct RPCRequest: Sendable, Hashable {
    /// The id to echo, or `nil` for a notification (which is never answered).
    public var id: RPCID?
    public var method: String
    /// An array or an object, or `nil` when the request had no `params` member.
    public var params: JSONValue?

    public init(id: RPCID?, method: String, params: JSONValue? = nil) {
        self.id = id
        self.method = method
        self.params = params
    }

    public var isNotification: Bool { id == nil }

    /// The request as a JSON-RPC 2.0 object.
    public var jsonValue: JSONValue {
        var members: JSONObject = ["jsonrpc": "2.0", "method": .string(method)]
        if let params { members["params"] = params }
        if let id { members["id"] = id.jsonValue }
        return .object(members)
    }
}

/// One element of what a client sent: a valid request, or the error it must be answered with.
public enum RPCInboundEntry: Sendable, Hashable {
    case request(RPCRequest)
    /// Not a valid request object; answered with `error` and `id` (null when no id could be read).
    case invalid(id: RPCID, error: RPCError)
}

/// What one frame from a client holds, decided by the rules of JSON-RPC 2.0 section 6.
public enum RPCInbound: Sendable, Hashable {
    /// A single request object (or a single invalid one).
    case single(RPCInboundEntry)
    /// A non-empty array; each element is answered on its own, in one array reply.
    case batch([RPCInboundEntry])
    /// Invalid JSON, or an empty batch: answered with exactly one error response, `id: null`.
    case failure(RPCError)

    /// Decodes a frame's bytes. Parsing errors become `.failure(-32700)`, an empty array
    /// `.failure(-32600)`.
    public static func decode(frame: ByteBuffer) -> RPCInbound {
        JSONParser.parseInbound(frame)
    }

    /// Classifies a parsed JSON value.
    public static func decode(json: JSONValue) -> RPCInbound {
        switch json {
        case .array(let elements):
            guard !elements.isEmpty else { return .failure(.invalidRequest("an empty batch")) }
            return .batch(elements.map(RPCInboundEntry.decode(element:)))
        default:
            return .single(RPCInboundEntry.decode(element: json))
        }
    }
}

extension RPCInboundEntry {
    /// Validates one request object against JSON-RPC 2.0 section 4.
    public static func decode(element: JSONValue) -> RPCInboundEntry {
        guard case .object(let members) = element else {
            return .invalid(id: .null, error: .invalidRequest("expected a request object, got \(element.typeName)"))
        }
        return validate(jsonrpc: members["jsonrpc"], method: members["method"], id: members["id"], params: members["params"])
    }

    /// Validates the members JSON-RPC gives meaning to (`nil` for an absent member).
    static func validate(jsonrpc: JSONValue?, method: JSONValue?, id rawID: JSONValue?, params: JSONValue?) -> RPCInboundEntry {
        // The id is echoed whenever it is readable, so that a client can match the error.
        var id: RPCID?
        if let rawID {
            guard let valid = RPCID(json: rawID) else {
                return .invalid(id: .null, error: .invalidRequest("'id' must be a string, a number or null, got \(rawID.typeName)"))
            }
            id = valid
        }
        guard case .string("2.0")? = jsonrpc else {
            let detail = jsonrpc.map { "'jsonrpc' must be \"2.0\", got \($0)" } ?? "'jsonrpc': \"2.0\" is missing"
            return .invalid(id: id ?? .null, error: .invalidRequest(detail))
        }
        guard let method else {
            return .invalid(id: id ?? .null, error: .invalidRequest("'method' is missing"))
        }
        guard case .string(let name) = method else {
            return .invalid(id: id ?? .null, error: .invalidRequest("'method' must be a string, got \(method.typeName)"))
        }
        switch params {
        case nil, .array?, .object?: break
        case let other?:
            return .invalid(id: id ?? .null, error: .invalidRequest("'params' must be an array or an object, got \(other.typeName)"))
        }
        return .request(RPCRequest(id: id, method: name, params: params))
    }
}
