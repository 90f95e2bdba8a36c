/// A JSON-RPC 2.0 response: the request's id and either a result or an error.
public struct RPCResponse: Sendable, Hashable {
    public var id: RPCID
    public var outcome: Result<JSONValue, RPCError>

    public init(id: RPCID, outcome: Result<JSONValue, RPCError>) {
        self.id = id
        self.outcome = outcome
    }

    public init(id: RPCID, result: JSONValue) {
        self.init(id: id, outcome: .success(result))
    }

    public init(id: RPCID, error: RPCError) {
        self.init(id: id, outcome: .failure(error))
    }

    /// The response as a JSON-RPC 2.0 object.
    public var jsonValue: JSONValue {
        switch outcome {
        case .success(let result):
            return ["jsonrpc": "2.0", "id": id.jsonValue, "result": result]
        case .failure(let error):
            return ["jsonrpc": "2.0", "id": id.jsonValue, "error": error.jsonValue]
        }
    }
}

/// A notification the server sends on its own (a subscription's change, for example).
public struct RPCNotification: Sendable, Hashable {
    public var method: String
    public var params: JSONValue?

    public init(method: String, params: JSONValue? = nil) {
        self.method = method
        self.params = params
    }

    public var jsonValue: JSONValue {
        var members: JSONObject = ["jsonrpc": "2.0", "method": .string(method)]
        if let params { members["params"] = params }
        return .object(members)
    }
}

/// What one frame from the server holds, as a client reads it.
public enum RPCOutbound: Sendable, Hashable {
    case response(RPCResponse)
    case notification(RPCNotification)
    /// The reply to a batch: one response per request that was not a notification.
    case batch([RPCResponse])

    /// Classifies a parsed frame from the server.
    /// - Throws: ``RPCError`` (`-32700`/`-32600`) when the frame is not a valid server message.
    public static func decode(json: JSONValue) throws(RPCError) -> RPCOutbound {
        if case .array(let elements) = json {
            var responses: [RPCResponse] = []
            responses.reserveCapacity(elements.count)
            for element in elements {
                guard case .response(let response) = try decode(json: element) else {
                    throw RPCError.invalidRequest("a batch reply holds something other than responses")
                }
                responses.append(response)
            }
            return .batch(responses)
        }
        guard case .object(let members) = json, members["jsonrpc"] == .string("2.0") else {
            throw RPCError.invalidRequest("the server sent something that is not a JSON-RPC 2.0 message")
        }
        if case .string(let method)? = members["method"] {
            return .notification(RPCNotification(method: method, params: members["params"]))
        }
        guard let rawID = members["id"], let id = RPCID(json: rawID) else {
            throw RPCError.invalidRequest("a response without a valid id")
        }
        if let result = members["result"] {
            return .response(RPCResponse(id: id, result: result))
        }
        guard let errorValue = members["error"], let error = RPCError(json: errorValue) else {
            throw RPCError.invalidRequest("a response with neither result nor a valid error")
        }
        return .response(RPCResponse(id: id, error: error))
    }
}
