import NIOCore
import SidecarProtocol
import Testing

/// Server-side decoding of what clients send: every example of JSON-RPC 2.0 section 7, and
/// the rules of sections 4, 5 and 6 they illustrate.
@Suite("RPCInbound")
struct RPCInboundTests {
    private func decode(_ text: String) -> RPCInbound {
        RPCInbound.decode(frame: ByteBuffer(string: text))
    }

    // MARK: - Section 7: requests and notifications

    @Test(
        "rpc call with positional parameters",
        arguments: [
            (#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#, RPCRequest(id: .int(1), method: "subtract", params: [42, 23])),
            (#"{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}"#, RPCRequest(id: .int(2), method: "subtract", params: [23, 42])),
        ]
    )
    func positionalParams(text: String, expected: RPCRequest) {
        #expect(decode(text) == .single(.request(expected)))
    }

    @Test(
        "rpc call with named parameters",
        arguments: [
            (#"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#, RPCRequest(id: .int(3), method: "subtract", params: ["subtrahend": 23, "minuend": 42])),
            (#"{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}"#, RPCRequest(id: .int(4), method: "subtract", params: ["minuend": 42, "subtrahend": 23])),
        ]
    )
    func namedParams(text: String, expected: RPCRequest) throws {
        let entry = try #require(decode(text).single)
        let request = try #require(entry.request)
        #expect(request == expected)
        #expect(request.params?["minuend"] == 42)
        #expect(request.params?["subtrahend"] == 23)
    }

    @Test("a notification has no id and is never answered")
    func notifications() throws {
        let update = try #require(decode(#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#).single?.request)
        #expect(update == RPCRequest(id: nil, method: "update", params: [1, 2, 3, 4, 5]))
        #expect(update.isNotification)

        let foobar = try #require(decode(#"{"jsonrpc": "2.0", "method": "foobar"}"#).single?.request)
        #expect(foobar.isNotification)
        #expect(foobar.method == "foobar")
        #expect(foobar.params == nil)
    }

    @Test("a call of a non-existent method is still a request; the router answers -32601")
    func nonExistentMethod() {
        #expect(decode(#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#) == .single(.request(RPCRequest(id: .string("1"), method: "foobar"))))
    }

    @Test("invalid JSON is one parse error")
    func invalidJSON() throws {
        let error = try #require(decode(#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#).failure)
        #expect(error.code == .parseError)
        #expect(error.code.rawValue == -32700)
    }

    @Test("an invalid request object is -32600 with id null")
    func invalidRequestObject() throws {
        let (id, error) = try #require(decode(#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#).single?.invalid)
        #expect(id == .null)
        #expect(error.code == .invalidRequest)
        #expect(error.code.rawValue == -32600)
    }

    // MARK: - Section 7: batches

    @Test("a batch that is not valid JSON is one parse error")
    func batchInvalidJSON() throws {
        let text = """
            [
              {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
              {"jsonrpc": "2.0", "method"
            ]
            """
        let error = try #require(decode(text).failure)
        #expect(error.code == .parseError)
    }

    @Test("an empty array is one invalid request")
    func emptyBatch() throws {
        let error = try #require(decode("[]").failure)
        #expect(error.code == .invalidRequest)
        #expect(decode(" [ ] ").failure?.code == .invalidRequest)
    }

    @Test("an invalid batch, but not empty, answers each element", arguments: [("[1]", 1), ("[1,2,3]", 3)])
    func invalidBatch(text: String, count: Int) throws {
        let entries = try #require(decode(text).batch)
        #expect(entries.count == count)
        for entry in entries {
            let (id, error) = try #require(entry.invalid)
            #expect(id == .null)
            #expect(error.code == .invalidRequest)
        }
    }

    @Test("the mixed batch of section 7")
    func mixedBatch() throws {
        let text = """
            [
                {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
                {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
                {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
                {"foo": "boo"},
                {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
                {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
            ]
            """
        let entries = try #require(decode(text).batch)
        try #require(entries.count == 6)
        #expect(entries[0] == .request(RPCRequest(id: .string("1"), method: "sum", params: [1, 2, 4])))
        #expect(entries[1] == .request(RPCRequest(id: nil, method: "notify_hello", params: [7])))
        #expect(entries[2] == .request(RPCRequest(id: .string("2"), method: "subtract", params: [42, 23])))
        let (invalidID, invalidError) = try #require(entries[3].invalid)
        #expect(invalidID == .null)
        #expect(invalidError.code == .invalidRequest)
        #expect(entries[4] == .request(RPCRequest(id: .string("5"), method: "foo.get", params: ["name": "myself"])))
        #expect(entries[5] == .request(RPCRequest(id: .string("9"), method: "get_data")))
        // Five answers: every element except the notification.
        #expect(entries.filter { $0.request?.isNotification != true }.count == 5)
    }

    @Test("a batch of notifications only: every element is a notification")
    func notificationBatch() throws {
        let text = """
            [
                {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
                {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
            ]
            """
        let entries = try #require(decode(text).batch)
        #expect(entries.count == 2)
        #expect(entries.allSatisfy { $0.request?.isNotification == true })
    }

    @Test("a batch of one valid request is still a batch, so its answer is an array")
    func batchOfOne() throws {
        let entries = try #require(decode(#"[{"jsonrpc":"2.0","method":"sidecar.ping","id":1}]"#).batch)
        #expect(entries == [.request(RPCRequest(id: .int(1), method: "sidecar.ping"))])
    }

    @Test("a nested array inside a batch is one invalid element")
    func nestedBatch() throws {
        let entries = try #require(decode("[[]]").batch)
        #expect(entries.count == 1)
        #expect(entries.first?.invalid?.error.code == .invalidRequest)
    }

    // MARK: - The jsonrpc member

    @Test(
        "jsonrpc must be exactly the string \"2.0\"; a readable id is echoed",
        arguments: [
            #"{"method":"sidecar.ping","id":1}"#,
            #"{"jsonrpc":"1.0","method":"sidecar.ping","id":1}"#,
            #"{"jsonrpc":"2","method":"sidecar.ping","id":1}"#,
            #"{"jsonrpc":2.0,"method":"sidecar.ping","id":1}"#,
            #"{"jsonrpc":null,"method":"sidecar.ping","id":1}"#,
        ]
    )
    func jsonrpcMember(text: String) throws {
        let (id, error) = try #require(decode(text).single?.invalid)
        #expect(id == .int(1))
        #expect(error.code == .invalidRequest)
        #expect(error.message.contains("'jsonrpc'"))
    }

    // MARK: - The id member

    @Test(
        "string, integer, fractional and null ids are kept",
        arguments: [
            (#""abc""#, RPCID.string("abc")),
            (#""""#, .string("")),
            ("7", .int(7)),
            ("-1", .int(-1)),
            ("9223372036854775807", .int(.max)),
            ("1.5", .double(1.5)),
            ("1e2", .double(100)),
            ("null", .null),
        ]
    )
    func validIDs(idText: String, expected: RPCID) throws {
        let request = try #require(decode(#"{"jsonrpc":"2.0","method":"m","id":\#(idText)}"#).single?.request)
        #expect(request.id == expected)
        #expect(!request.isNotification)
    }

    @Test("a request with id null is a request, not a notification")
    func nullIDIsARequest() throws {
        let request = try #require(decode(#"{"jsonrpc":"2.0","method":"m","id":null}"#).single?.request)
        #expect(request.id == .null)
        #expect(!request.isNotification)
        #expect(request.jsonValue["id"] == .null)
    }

    @Test("an id that is a boolean, object or array makes the request invalid, answered with id null", arguments: ["true", "false", "{}", #"{"a":1}"#, "[]", "[1]"])
    func invalidIDs(idText: String) throws {
        let (id, error) = try #require(decode(#"{"jsonrpc":"2.0","method":"m","id":\#(idText)}"#).single?.invalid)
        #expect(id == .null)
        #expect(error.code == .invalidRequest)
        #expect(error.message.contains("'id'"))
    }

    // MARK: - The method and params members

    @Test("a missing or non-string method is invalid, with the id echoed", arguments: [
        #"{"jsonrpc":"2.0","id":"x"}"#,
        #"{"jsonrpc":"2.0","method":null,"id":"x"}"#,
        #"{"jsonrpc":"2.0","method":1,"id":"x"}"#,
        #"{"jsonrpc":"2.0","method":["m"],"id":"x"}"#,
    ])
    func invalidMethod(text: String) throws {
        let (id, error) = try #require(decode(text).single?.invalid)
        #expect(id == .string("x"))
        #expect(error.code == .invalidRequest)
        #expect(error.message.contains("'method'"))
    }

    @Test("params that are not an array or an object are invalid", arguments: [#""bar""#, "1", "1.5", "true", "null"])
    func invalidParams(paramsText: String) throws {
        let (id, error) = try #require(decode(#"{"jsonrpc":"2.0","method":"m","params":\#(paramsText),"id":3}"#).single?.invalid)
        #expect(id == .int(3))
        #expect(error.code == .invalidRequest)
        #expect(error.code.rawValue == -32600)
        #expect(error.message.contains("'params'"))
    }

    @Test("params may be an empty array or an empty object", arguments: ["[]", "{}"])
    func emptyParams(paramsText: String) throws {
        let request = try #require(decode(#"{"jsonrpc":"2.0","method":"m","params":\#(paramsText),"id":3}"#).single?.request)
        #expect(request.params == (paramsText == "[]" ? [] : [:]))
    }

    // MARK: - Frames that are not request objects

    @Test("a scalar is a single invalid request with id null", arguments: ["1", #""text""#, "true", "null"])
    func scalarFrame(text: String) throws {
        let (id, error) = try #require(decode(text).single?.invalid)
        #expect(id == .null)
        #expect(error.code == .invalidRequest)
    }

    @Test("an empty frame, whitespace, or invalid UTF-8 is a parse error")
    func unparseableFrames() {
        #expect(RPCInbound.decode(frame: ByteBuffer()).failure?.code == .parseError)
        #expect(decode("  \n").failure?.code == .parseError)
        #expect(RPCInbound.decode(frame: ByteBuffer(bytes: [0x22, 0xFF, 0x22])).failure?.code == .parseError)
    }

    @Test("the parse error message says what was wrong and where")
    func parseErrorMessage() throws {
        let error = try #require(decode(#"{"a" 1}"#).failure)
        #expect(error.message.hasPrefix("Parse error: "))
        #expect(error.message.contains("at byte 5"))
    }

    @Test("decoding reads only the frame's readable bytes")
    func readableBytesOnly() throws {
        var buffer = ByteBuffer(string: "xx")
        buffer.writeString(#"{"jsonrpc":"2.0","method":"m"}"#)
        buffer.moveReaderIndex(forwardBy: 2)
        #expect(RPCInbound.decode(frame: buffer) == .single(.request(RPCRequest(id: nil, method: "m"))))
    }

    // MARK: - Requests as JSON

    @Test("a request's jsonValue decodes back to the same request", arguments: [
        RPCRequest(id: .int(1), method: "sidecar.ping"),
        RPCRequest(id: .string("a"), method: "sidecar.echo", params: ["value": [1, 2]]),
        RPCRequest(id: .double(2.5), method: "m", params: []),
        RPCRequest(id: .null, method: "m"),
        RPCRequest(id: nil, method: "notify", params: [true]),
    ])
    func requestRoundTrip(request: RPCRequest) throws {
        #expect(RPCInbound.decode(json: request.jsonValue) == .single(.request(request)))
        let reparsed = try JSONParser.parse(JSONWriter.string(request.jsonValue))
        #expect(RPCInbound.decode(json: reparsed) == .single(.request(request)))
    }

    @Test("a notification's jsonValue has no id member, a request without params no params member")
    func requestJSONShape() {
        let notification = RPCRequest(id: nil, method: "n")
        #expect(notification.jsonValue.objectValue.map { Set($0.keys) } == ["jsonrpc", "method"])
        #expect(JSONWriter.string(RPCRequest(id: .int(1), method: "m").jsonValue) == #"{"jsonrpc":"2.0","method":"m","id":1}"#)
    }
}

// MARK: - Reading the enums in tests

extension RPCInbound {
    fileprivate var single: RPCInboundEntry? {
        if case .single(let entry) = self { return entry }
        return nil
    }

    fileprivate var batch: [RPCInboundEntry]? {
        if case .batch(let entries) = self { return entries }
        return nil
    }

    fileprivate var failure: RPCError? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

extension RPCInboundEntry {
    fileprivate var request: RPCRequest? {
        if case .request(let request) = self { return request }
        return nil
    }

    fileprivate var invalid: (id: RPCID, error: RPCError)? {
        if case .invalid(let id, let error) = self { return (id, error) }
        return nil
    }
}
