import SidecarProtocol
import SidecarTestSupport
import Testing

/// The examples of JSON-RPC 2.0 section 7, end to end against a real daemon, adapted to
/// its methods: `sidecar.echo` takes params by name, and the spec's `subtract`, `sum`,
/// `update`, `foobar` do not exist here.
@Suite("JSON-RPC 2.0 specification examples", .timeLimit(.minutes(1)))
struct JSONRPCSpecTests {
    @Test("positional params: an unknown method is -32601, echo by position is -32602; ids echoed")
    func positionalParams() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send(#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#)
            expectError(try connection.readMessage(), code: -32601, id: 1)
            try connection.send(#"{"jsonrpc": "2.0", "method": "sidecar.echo", "params": [42, 23], "id": 2}"#)
            expectError(try connection.readMessage(), code: -32602, id: 2)
        }
    }

    @Test("named params: echo returns the value, whatever the member order")
    func namedParams() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send(#"{"jsonrpc": "2.0", "method": "sidecar.echo", "params": {"value": 19}, "id": 3}"#)
            expectResult(try connection.readMessage(), 19, id: 3)
            try connection.send(#"{"id": 4, "params": {"delayMs": 0, "value": {"minuend": 42, "s": ["é😀", null]}}, "method": "sidecar.echo", "jsonrpc": "2.0"}"#)
            expectResult(try connection.readMessage(), ["minuend": 42, "s": ["é😀", nil]], id: 4)
        }
    }

    @Test("notifications get no reply: the next frame is the following request's answer")
    func notifications() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send(#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#)
            try connection.send(#"{"jsonrpc": "2.0", "method": "foobar"}"#)
            try connection.send(#"{"jsonrpc": "2.0", "method": "sidecar.ping"}"#)
            try connection.send(#"{"jsonrpc": "2.0", "method": "sidecar.echo", "params": [1]}"#)
            try connection.send(#"{"jsonrpc": "2.0", "method": "sidecar.ping", "id": "after"}"#)
            expectResult(try connection.readMessage(), "pong", id: "after")
        }
    }

    @Test("an echo notification with a delay is never answered, even after its delay")
    func delayedNotification() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send(RPC.notification("sidecar.echo", params: ["value": "x", "delayMs": 100]))
            try connection.send(RPC.echo("late", delayMs: 300, id: "after"))
            expectResult(try connection.readMessage(), "late", id: "after")
        }
    }

    @Test("a non-existent method is -32601 with the id and data.method")
    func methodNotFound() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send(#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#)
            let reply = try connection.readMessage()
            expectError(reply, code: -32601, id: "1")
            #expect(reply["error"]?["data"]?["method"] == "foobar")
        }
    }

    @Test("invalid JSON is -32700 with id null, and the connection stays usable")
    func invalidJSON() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send(#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#)
            expectError(try connection.readMessage(), code: -32700, id: nil)
            expectResult(try connection.call("sidecar.ping", id: 2), "pong", id: 2)
        }
    }

    @Test("an invalid request object is -32600 with id null")
    func invalidRequest() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send(#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#)
            expectError(try connection.readMessage(), code: -32600, id: nil)
        }
    }

    @Test("a batch that is invalid JSON is one -32700, not an array")
    func batchInvalidJSON() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send(#"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method"]"#)
            expectError(try connection.readMessage(), code: -32700, id: nil)
        }
    }

    @Test("an empty array is one -32600 with id null, not an array")
    func emptyBatch() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send("[]")
            expectError(try connection.readMessage(), code: -32600, id: nil)
        }
    }

    @Test("[1] is an array of one -32600, [1,2,3] an array of three")
    func batchOfNonObjects() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send("[1]")
            let one = try #require(try connection.readMessage().arrayValue)
            #expect(one.count == 1)
            for reply in one { expectError(reply, code: -32600, id: nil) }

            try connection.send("[1,2,3]")
            let three = try #require(try connection.readMessage().arrayValue)
            #expect(three.count == 3)
            for reply in three { expectError(reply, code: -32600, id: nil) }
        }
    }

    @Test("the mixed batch: one response per request and invalid element, none for the notification")
    func mixedBatch() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send(
                """
                [
                    {"jsonrpc": "2.0", "method": "sidecar.echo", "params": {"value": 7}, "id": "1"},
                    {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
                    {"jsonrpc": "2.0", "method": "sidecar.echo", "params": {"value": 19, "delayMs": 50}, "id": "2"},
                    {"foo": "boo"},
                    {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
                    {"jsonrpc": "2.0", "method": "sidecar.echo", "params": {"value": ["hello", 5]}, "id": "9"}
                ]
                """
            )
            let replies = try #require(try connection.readMessage().arrayValue)
            #expect(replies.count == 5)
            func reply(_ id: JSONValue) -> JSONValue? { replies.first { $0["id"] == id } }
            expectResult(try #require(reply("1")), 7, id: "1")
            expectResult(try #require(reply("2")), 19, id: "2")
            expectError(try #require(reply(nil)), code: -32600, id: nil)
            expectError(try #require(reply("5")), code: -32601, id: "5")
            expectResult(try #require(reply("9")), ["hello", 5], id: "9")
        }
    }

    @Test("a batch of only notifications gets no frame at all")
    func batchOfNotifications() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send(
                #"[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}, {"jsonrpc": "2.0", "method": "sidecar.ping"}]"#
            )
            try connection.send(#"{"jsonrpc": "2.0", "method": "sidecar.ping", "id": "after"}"#)
            expectResult(try connection.readMessage(), "pong", id: "after")
        }
    }

    @Test(
        "ids of every type are echoed unchanged",
        arguments: [
            #""abc""#, #""""#, "1", "0", "-7", "9007199254740993", "-9223372036854775808", "1.5", "-0.25", "null",
        ]
    )
    func idsEchoed(idText: String) throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send(#"{"jsonrpc":"2.0","method":"sidecar.ping","id":\#(idText)}"#)
            let frame = String(decoding: try connection.readFrame(), as: UTF8.self)
            #expect(frame.contains(#""id":\#(idText),"#) || frame.contains(#""id":\#(idText)}"#), "\(frame)")
            let reply = try JSONParser.parse(frame)
            expectResult(reply, "pong", id: try JSONParser.parse(idText))
            // Also on an error response, for which the id matters most.
            try connection.send(#"{"jsonrpc":"2.0","method":"no.such","id":\#(idText)}"#)
            expectError(try connection.readMessage(), code: -32601, id: try JSONParser.parse(idText))
        }
    }

    @Test("an id that is not a string, number or null is -32600 with id null", arguments: ["true", "[1]", #"{"a":1}"#])
    func invalidID(idText: String) throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send(#"{"jsonrpc":"2.0","method":"sidecar.ping","id":\#(idText)}"#)
            expectError(try connection.readMessage(), code: -32600, id: nil)
        }
    }

    @Test("envelope errors: params as a string, rpc.foo, jsonrpc 1.0, missing jsonrpc")
    func envelopeErrors() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send(#"{"jsonrpc":"2.0","method":"sidecar.echo","params":"bar","id":5}"#)
            expectError(try connection.readMessage(), code: -32600, id: 5)
            try connection.send(#"{"jsonrpc":"2.0","method":"sidecar.ping","params":3,"id":6}"#)
            expectError(try connection.readMessage(), code: -32600, id: 6)
            try connection.send(#"{"jsonrpc":"2.0","method":"rpc.foo","id":7}"#)
            expectError(try connection.readMessage(), code: -32601, id: 7)
            try connection.send(#"{"jsonrpc":"1.0","method":"sidecar.ping","id":8}"#)
            expectError(try connection.readMessage(), code: -32600, id: 8)
            try connection.send(#"{"method":"sidecar.ping","id":9}"#)
            expectError(try connection.readMessage(), code: -32600, id: 9)
            try connection.send(#"{"jsonrpc":2.0,"method":"sidecar.ping","id":10}"#)
            expectError(try connection.readMessage(), code: -32600, id: 10)
            try connection.send(#""just a string""#)
            expectError(try connection.readMessage(), code: -32600, id: nil)
            expectResult(try connection.call("sidecar.ping", id: 11), "pong", id: 11)
        }
    }

    @Test("method params rules: ping takes none, [] or {}; echo validates value and delayMs, naming the field")
    func paramsRules() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            expectResult(try connection.call("sidecar.ping", params: [], id: 1), "pong", id: 1)
            expectResult(try connection.call("sidecar.ping", params: [:], id: 2), "pong", id: 2)
            expectError(try connection.call("sidecar.ping", params: [1], id: 3), code: -32602, id: 3)
            expectResult(try connection.call("sidecar.echo", params: ["value": nil], id: 4), nil, id: 4)
            let missing = try connection.call("sidecar.echo", params: [:], id: 5)
            expectError(missing, code: -32602, id: 5)
            #expect(missing["error"]?["data"]?["field"] == "value")
            for bad: JSONValue in [90_000, -1, "10", 1.5] {
                let reply = try connection.call("sidecar.echo", params: ["value": 1, "delayMs": bad], id: 6)
                expectError(reply, code: -32602, id: 6)
                #expect(reply["error"]?["data"]?["field"] == "delayMs", "\(bad)")
                #expect(reply["error"]?["message"]?.stringValue?.contains("delayMs") == true, "\(reply)")
            }
        }
    }
}
