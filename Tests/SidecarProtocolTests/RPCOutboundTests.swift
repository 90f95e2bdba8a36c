import SidecarProtocol
import Testing

/// Client-side decoding of what the server sends: responses, notifications and batch replies.
@Suite("RPCOutbound")
struct RPCOutboundTests {
    private func decode(_ text: String) throws -> RPCOutbound {
        try RPCOutbound.decode(json: JSONParser.parse(text))
    }

    // MARK: - Responses from JSON-RPC 2.0 section 7

    @Test(
        "results",
        arguments: [
            (#"{"jsonrpc": "2.0", "result": 19, "id": 1}"#, RPCResponse(id: .int(1), result: 19)),
            (#"{"jsonrpc": "2.0", "result": -19, "id": 2}"#, RPCResponse(id: .int(2), result: -19)),
            (#"{"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}"#, RPCResponse(id: .string("9"), result: ["hello", 5])),
        ]
    )
    func results(text: String, expected: RPCResponse) throws {
        #expect(try decode(text) == .response(expected))
    }

    @Test(
        "errors, including those answered with id null",
        arguments: [
            (#"{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}"#, RPCID.string("1"), RPCErrorCode.methodNotFound, "Method not found"),
            (#"{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}"#, .null, .parseError, "Parse error"),
            (#"{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}"#, .null, .invalidRequest, "Invalid Request"),
        ]
    )
    func errors(text: String, id: RPCID, code: RPCErrorCode, message: String) throws {
        let response = try #require(try decode(text).response)
        #expect(response.id == id)
        #expect(response.error?.code == code)
        #expect(response.error?.message == message)
        #expect(response.error?.data == nil)
    }

    @Test("the batch reply of section 7")
    func batchReply() throws {
        let text = """
            [
                {"jsonrpc": "2.0", "result": 7, "id": "1"},
                {"jsonrpc": "2.0", "result": 19, "id": "2"},
                {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
                {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},
                {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}
            ]
            """
        let expected: [RPCResponse] = [
            RPCResponse(id: .string("1"), result: 7),
            RPCResponse(id: .string("2"), result: 19),
            RPCResponse(id: .null, error: RPCError(code: .invalidRequest, message: "Invalid Request")),
            RPCResponse(id: .string("5"), error: RPCError(code: .methodNotFound, message: "Method not found")),
            RPCResponse(id: .string("9"), result: ["hello", 5]),
        ]
        #expect(try decode(text) == .batch(expected))
    }

    // MARK: - Responses

    @Test("a null result is a result, not an error")
    func nullResult() throws {
        #expect(try decode(#"{"jsonrpc":"2.0","result":null,"id":4}"#) == .response(RPCResponse(id: .int(4), result: nil)))
    }

    @Test("ids of every kind are read back", arguments: [RPCID.int(-3), .string("α"), .double(0.25), .null])
    func responseIDs(id: RPCID) throws {
        let text = #"{"jsonrpc":"2.0","result":true,"id":\#(JSONWriter.string(id.jsonValue))}"#
        #expect(try decode(text).response?.id == id)
    }

    @Test("an error object's data is kept")
    func errorData() throws {
        let text = #"{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Frame too large","data":{"length":99,"maximum":10}}}"#
        let error = try #require(try decode(text).response?.error)
        #expect(error.code == .frameTooLarge)
        #expect(error.data == ["length": 99, "maximum": 10])
    }

    @Test("error data may be any JSON value, null included", arguments: [nil, 1, "text", [1, 2], ["k": [true]]] as [JSONValue])
    func anyErrorData(data: JSONValue) throws {
        let text = #"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"m","data":\#(JSONWriter.string(data))}}"#
        #expect(try decode(text).response?.error?.data == data)
    }

    @Test("an error code Sidecar does not know is kept as it is")
    func unknownErrorCode() throws {
        let error = try #require(try decode(#"{"jsonrpc":"2.0","id":1,"error":{"code":-31999,"message":"odd"}}"#).response?.error)
        #expect(error.code.rawValue == -31999)
        #expect(error.code.name == "error_-31999")
    }

    // MARK: - Notifications

    @Test("a server notification with params")
    func notificationWithParams() throws {
        let text = #"{"jsonrpc":"2.0","method":"state.changed","params":{"revision":3,"paths":["a.b"]}}"#
        #expect(try decode(text) == .notification(RPCNotification(method: "state.changed", params: ["revision": 3, "paths": ["a.b"]])))
    }

    @Test("a server notification without params")
    func notificationWithoutParams() throws {
        #expect(try decode(#"{"jsonrpc":"2.0","method":"sidecar.shutdown"}"#) == .notification(RPCNotification(method: "sidecar.shutdown")))
    }

    // MARK: - Round trips

    @Test("responses and notifications decode back from their jsonValue", arguments: [
        RPCOutbound.response(RPCResponse(id: .int(1), result: "pong")),
        .response(RPCResponse(id: .string("x"), result: ["nested": [1, 2.5]])),
        .response(RPCResponse(id: .null, error: .parseError("unexpected character '}' at byte 3"))),
        .response(RPCResponse(id: .int(2), error: .methodNotFound("nope"))),
        .response(RPCResponse(id: .int(3), error: RPCError(code: .conflict, message: "stale", data: nil))),
        .notification(RPCNotification(method: "n", params: [1])),
        .notification(RPCNotification(method: "n")),
    ])
    func roundTrip(message: RPCOutbound) throws {
        let json: JSONValue
        switch message {
        case .response(let response): json = response.jsonValue
        case .notification(let notification): json = notification.jsonValue
        case .batch(let responses): json = .array(responses.map(\.jsonValue))
        }
        #expect(try RPCOutbound.decode(json: JSONParser.parse(JSONWriter.string(json))) == message)
    }

    @Test("a response's JSON has the members JSON-RPC requires, in the usual order")
    func responseJSONShape() {
        #expect(JSONWriter.string(RPCResponse(id: .int(1), result: "pong").jsonValue) == #"{"jsonrpc":"2.0","id":1,"result":"pong"}"#)
        #expect(
            JSONWriter.string(RPCResponse(id: .null, error: RPCError(code: .invalidRequest, message: "m")).jsonValue)
                == #"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"m"}}"#
        )
        #expect(JSONWriter.string(RPCNotification(method: "n").jsonValue) == #"{"jsonrpc":"2.0","method":"n"}"#)
    }

    // MARK: - What a server must not send

    @Test(
        "frames that are not server messages are rejected with -32600",
        arguments: [
            "42",
            #""text""#,
            "null",
            #"{"result":1,"id":1}"#,
            #"{"jsonrpc":"1.0","result":1,"id":1}"#,
            #"{"jsonrpc":"2.0","result":1}"#,
            #"{"jsonrpc":"2.0","result":1,"id":true}"#,
            #"{"jsonrpc":"2.0","result":1,"id":[1]}"#,
            #"{"jsonrpc":"2.0","id":1}"#,
            #"{"jsonrpc":"2.0","id":1,"error":{"message":"no code"}}"#,
            #"{"jsonrpc":"2.0","id":1,"error":{"code":"-32600","message":"string code"}}"#,
            #"{"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"fractional code"}}"#,
            #"{"jsonrpc":"2.0","id":1,"error":{"code":-32600}}"#,
            #"{"jsonrpc":"2.0","id":1,"error":"text"}"#,
            #"[{"jsonrpc":"2.0","method":"n"}]"#,
            #"[{"jsonrpc":"2.0","result":1,"id":1},42]"#,
            "[[]]",
        ]
    )
    func rejects(text: String) {
        let error = #expect(throws: RPCError.self) { try decode(text) }
        #expect(error?.code == .invalidRequest)
    }
}

// MARK: - Reading the enums in tests

extension RPCOutbound {
    fileprivate var response: RPCResponse? {
        if case .response(let response) = self { return response }
        return nil
    }
}

extension RPCResponse {
    fileprivate var error: RPCError? {
        if case .failure(let error) = outcome { return error }
        return nil
    }
}
