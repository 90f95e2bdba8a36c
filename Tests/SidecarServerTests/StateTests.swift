import SidecarProtocol
import SidecarTestSupport
import Testing

/// The `state.*` methods against a real daemon: every success shape and every documented error.
@Suite("State methods", .timeLimit(.minutes(1)))
struct StateTests {
    @Test("get of a missing path is exists false, value null; set creates the parents")
    func getAndSet() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            #expect(try connection.result("state.get", ["path": "/settings/llm/model"])
                == ["value": nil, "revision": 0, "exists": false])
            #expect(try connection.result("state.set", ["path": "/settings/llm/model", "value": "small"]) == ["revision": 1])
            #expect(try connection.result("state.get", ["path": "/settings/llm/model"])
                == ["value": "small", "revision": 1, "exists": true])
            #expect(try connection.result("state.get", ["path": ""])["value"] == ["settings": ["llm": ["model": "small"]]])
            // A stored null exists.
            #expect(try connection.result("state.set", ["path": "/settings/llm/key", "value": nil]) == ["revision": 2])
            #expect(try connection.result("state.get", ["path": "/settings/llm/key"])
                == ["value": nil, "revision": 2, "exists": true])
        }
    }

    @Test("setting inside a scalar is -32602 naming the path, and changes nothing")
    func setInsideScalar() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            _ = try connection.result("state.set", ["path": "/a", "value": 1])
            let error = try connection.error("state.set", ["path": "/a/b", "value": 2], code: -32602)
            #expect(error["message"]?.stringValue?.contains("/a/b") == true, "\(error)")
            #expect(try connection.result("state.get", ["path": ""]) == ["value": ["a": 1], "revision": 1, "exists": true])
        }
    }

    @Test("a pointer with a bad escape (~2) is -32602 for every method that takes a path", arguments: [
        "state.get", "state.set", "state.merge", "state.delete",
    ])
    func badPointer(method: String) throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            let error = try connection.error(method, ["path": "/a~2b", "value": 1], code: -32602)
            #expect(error["message"]?.stringValue?.contains("~2") == true, "\(error)")
            #expect(try connection.result("state.get", ["path": ""]) == ["value": [:], "revision": 0, "exists": true])
        }
    }

    /// A method, params that are missing or mistyped, and the field the error must name.
    private static let badParamCases: [(String, JSONValue, String)] = [
        ("state.get", [:], "path"),
        ("state.get", ["path": 3], "path"),
        ("state.set", ["path": "/a"], "value"),
        ("state.set", ["value": 1], "path"),
        ("state.set", ["path": "/a", "value": 1, "ifRevision": "one"], "ifRevision"),
        ("state.merge", ["path": "/a"], "value"),
        ("state.patch", [:], "ops"),
        ("state.patch", ["ops": [], "path": "/a~"], "path"),
        ("state.query", [:], "selector"),
        ("state.history", ["limit": 0], "limit"),
        ("state.revert", [:], "toRevision"),
    ]

    @Test("missing or mistyped params are -32602 naming the field, and change nothing", arguments: badParamCases)
    func badParams(method: String, params: JSONValue, field: String) throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            let error = try connection.error(method, params, code: -32602)
            #expect(error["message"]?.stringValue?.contains(field) == true, "\(error)")
            #expect(try connection.result("state.get", ["path": ""]) == ["value": [:], "revision": 0, "exists": true])
        }
    }

    @Test("merge applies RFC 7396 at the path: null removes a member, objects merge")
    func merge() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            _ = try connection.result("state.set", ["path": "/settings", "value": ["theme": "dark", "font": ["size": 12, "face": "mono"]]])
            #expect(try connection.result("state.merge", ["path": "/settings", "value": ["theme": nil, "font": ["size": 14]]])
                == ["revision": 2])
            #expect(try connection.result("state.get", ["path": "/settings"])["value"] == ["font": ["size": 14, "face": "mono"]])
        }
    }

    @Test("patch is atomic: a failing test at index 1 is -32005 with data.op 1 and the document is unchanged")
    func patchAtomic() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            _ = try connection.result("state.set", ["path": "/counter", "value": 1])
            let before = try connection.result("state.get", ["path": ""])
            let error = try connection.error("state.patch", ["ops": [
                ["op": "add", "path": "/added", "value": true],
                ["op": "test", "path": "/counter", "value": 2],
                ["op": "replace", "path": "/counter", "value": 3],
            ]], code: -32005)
            #expect(error["data"]?["op"] == 1, "\(error)")
            #expect(try connection.result("state.get", ["path": ""]) == before)

            // A missing path is the same conflict.
            let missing = try connection.error("state.patch", ["ops": [
                ["op": "add", "path": "/added", "value": true],
                ["op": "remove", "path": "/nowhere"],
            ]], code: -32005)
            #expect(missing["data"]?["op"] == 1, "\(missing)")
            #expect(try connection.result("state.get", ["path": ""]) == before)

            // The same ops with a passing test apply together, as one revision, at a base path.
            #expect(try connection.result("state.patch", ["ops": [
                ["op": "add", "path": "/added", "value": true],
                ["op": "test", "path": "/counter", "value": 1],
                ["op": "replace", "path": "/counter", "value": 3],
            ]]) == ["revision": 2])
            _ = try connection.result("state.set", ["path": "/sub", "value": ["x": 1]])
            #expect(try connection.result("state.patch", ["path": "/sub", "ops": [["op": "add", "path": "/y", "value": 2]]])
                == ["revision": 4])
            #expect(try connection.result("state.get", ["path": ""])["value"]
                == ["counter": 3, "added": true, "sub": ["x": 1, "y": 2]])
        }
    }

    @Test("a malformed patch operation is -32602 and changes nothing", arguments: [
        ["op": "bogus", "path": "/a"] as JSONValue,
        ["op": "add", "path": "/a"],
        ["op": "add", "value": 1],
        ["op": "move", "path": "/a"],
        "not an op",
    ])
    func malformedPatch(op: JSONValue) throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            _ = try connection.result("state.set", ["path": "/a", "value": 1])
            _ = try connection.error("state.patch", ["ops": [["op": "add", "path": "/b", "value": 2], op]], code: -32602)
            #expect(try connection.result("state.get", ["path": ""]) == ["value": ["a": 1], "revision": 1, "exists": true])
        }
    }

    @Test("copies that would double the document past 16 MiB of JSON are -32602 naming the op, and change nothing")
    func copyAmplification() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            let seed = JSONValue.string(String(repeating: "x", count: 1_000))
            _ = try connection.result("state.set", ["path": "/seed", "value": seed])
            // Each op copies the whole document (about 1 KB to start with) into itself, doubling
            // it: shared storage, so cheap to make, but not to store or read. The copies add up
            // to about 1 KB × (2^(k+1) - 1) after op k, past 16 MiB at op 14.
            let ops: [JSONValue] = (0..<40).map { ["op": "copy", "from": "", "path": .string("/c\($0)")] }
            let error = try connection.error("state.patch", ["ops": .array(ops)], code: -32602)
            #expect(error["data"]?["op"] == 14, "\(error)")
            #expect(error["message"]?.stringValue?.contains("more than 16777216 bytes of JSON") == true, "\(error)")
            #expect(try connection.result("state.get", ["path": ""]) == ["value": ["seed": seed], "revision": 1, "exists": true])
            // A copy within the bound is an ordinary change.
            _ = try connection.result("state.patch", ["ops": [["op": "copy", "from": "/seed", "path": "/again"]]])
            #expect(try connection.result("state.get", ["path": "/again"])["value"] == seed)
        }
    }

    @Test("changes in a JSON-RPC batch are each answered after their commit, in one reply, errors in place")
    func changesInABatch() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            let batch: JSONValue = [
                RPC.request("state.set", params: ["path": "/a", "value": 1], id: 1),
                RPC.request("state.delete", params: ["path": "/a"], id: 2),
                RPC.request("state.delete", params: ["path": "/a"], id: 3),
                RPC.request("state.set", params: ["path": "/b", "value": 2, "ifRevision": 0], id: 4),
                RPC.request("state.merge", params: ["path": "/c", "value": ["d": true]], id: 5),
                RPC.request("state.get", params: ["path": "/c/d"], id: 6),
            ]
            try connection.write(WireFrame.bytes(batch))
            let replies = try #require(try connection.readMessage().arrayValue)
            func reply(_ id: JSONValue) -> JSONValue? { replies.first { $0["id"] == id } }
            #expect(replies.count == 6)
            #expect(reply(1)?["result"] == ["revision": 1])
            #expect(reply(2)?["result"] == ["revision": 2, "existed": true])
            #expect(reply(3)?["result"] == ["revision": 2, "existed": false])
            #expect(reply(4)?["error"]?["code"] == -32005, "ifRevision 0 at revision 2: \(String(describing: reply(4)))")
            #expect(reply(5)?["result"] == ["revision": 3])
            #expect(reply(6)?["result"] == ["value": true, "revision": 3, "exists": true])
            #expect(try connection.result("state.history", [:])["changes"]?.arrayValue?.count == 3, "all three are committed")
        }
    }

    @Test("delete of a missing path is existed false and makes no revision; of a present one, a revision")
    func delete() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            _ = try connection.result("state.set", ["path": "/a", "value": ["b": 1]])
            #expect(try connection.result("state.delete", ["path": "/nothing/here"]) == ["revision": 1, "existed": false])
            #expect(try connection.result("state.history", [:])["changes"]?.arrayValue?.count == 1)
            #expect(try connection.result("state.delete", ["path": "/a/b"]) == ["revision": 2, "existed": true])
            #expect(try connection.result("state.get", ["path": "/a/b"]) == ["value": nil, "revision": 2, "exists": false])
            #expect(try connection.result("state.get", ["path": "/a"])["value"] == [:])
        }
    }

    @Test("a query or a subscription that multiplies its node list past a million is -32602 at once; a plain one answers")
    func nodeBudget() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            // A chain 30 levels deep: each [*,*] doubles the node list, 2^30 nodes after 30.
            var chain: JSONValue = "end"
            for _ in 0..<30 { chain = ["a": chain] }
            _ = try connection.result("state.set", ["path": "/x", "value": chain])
            let doubling = "$.x" + String(repeating: "[*,*]", count: 30)
            let started = ContinuousClock.now
            let query = try connection.error("state.query", ["selector": .string(doubling)], code: -32602)
            #expect(query["message"]?.stringValue?.contains("more than 1000000 nodes") == true, "\(query)")
            _ = try connection.error("state.subscribe", ["selector": .string(doubling)], code: -32602)
            _ = try connection.error("state.query", ["selector": .string("$.x" + String(repeating: "..*", count: 8))], code: -32602)
            #expect(ContinuousClock.now - started < .seconds(10))
            let plain = try connection.result("state.query", ["selector": "$.x[*,*]"])
            #expect(plain["values"]?.arrayValue?.count == 2)
        }
    }

    @Test("a match()/search() too costly for its string (pattern size × length) is -32602 at once; a cheap one answers")
    func regexBudget() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            _ = try connection.result("state.set", ["path": "/s", "value": .string(String(repeating: "a", count: 200_000))])
            // Some 8,000 instructions against 200,000 characters: 1.6 × 10^9 steps, about a
            // minute, where the budget allows 10^8.
            let costly = #"$[?search(@, '(a{0,1000}){4}b')]"#
            let started = ContinuousClock.now
            let error = try connection.error("state.query", ["selector": .string(costly)], code: -32602)
            #expect(error["message"]?.stringValue?.contains("match()/search() calls would take more than 100000000 steps") == true, "\(error)")
            _ = try connection.error("state.subscribe", ["selector": .string(costly)], code: -32602)
            #expect(ContinuousClock.now - started < .seconds(5))
            let cheap = try connection.result("state.query", ["selector": #"$[?search(@, 'a{3}')]"#])
            #expect(cheap["paths"] == ["$['s']"])
        }
    }

    @Test("query returns values with normalized paths; an invalid JSONPath is -32602", arguments: [
        "$[?", "$.a[", "$..", "a.b", "$[?@.x=='unterminated]",
    ])
    func query(invalid: String) throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            _ = try connection.result("state.set", ["path": "/executions", "value": [
                "e1": ["status": "running"],
                "e2": ["status": "done"],
                "e3": ["status": "running"],
            ]])
            let result = try connection.result("state.query", ["selector": "$.executions[?@.status=='running']"])
            #expect(result["values"] == [["status": "running"], ["status": "running"]], "\(result)")
            #expect(result["paths"] == ["$['executions']['e1']", "$['executions']['e3']"], "\(result)")
            #expect(result["revision"] == 1)
            let empty = try connection.result("state.query", ["selector": "$.nothing"])
            #expect(empty["values"] == [] && empty["paths"] == [], "\(empty)")

            let error = try connection.error("state.query", ["selector": .string(invalid)], code: -32602)
            #expect(error["message"]?.stringValue?.contains("selector") == true, "\(error)")
        }
    }

    @Test("with --threads 2, connections on the other event loop read, change and fail the same way")
    func otherEventLoop() throws {
        try withDaemon(["--threads", "2"]) { daemon in
            // Connections are spread over the loops in turn: of four, two are on the loop that
            // does not own the document or the cache.
            let connections = try (0..<4).map { _ in try daemon.connect() }
            for (index, connection) in connections.enumerated() {
                let path = JSONValue.string("/loops/c\(index)")
                let set = try connection.result("state.set", ["path": path, "value": .int(Int64(index))])
                let revision = try #require(set["revision"]?.intValue)
                #expect(try connection.result("state.get", ["path": path]) == ["value": .int(Int64(index)), "revision": .int(revision), "exists": true])
                #expect(try connection.result("state.delete", ["path": "/nothing/here"])["existed"] == false)
                let conflict = try connection.error("state.set", ["path": path, "value": 0, "ifRevision": .int(revision - 1)], code: -32005)
                #expect(conflict["data"]?["revision"] == .int(revision))
                try connection.cacheSet("loop:\(index)", .int(Int64(index)), ttl: 0)
                #expect(try connection.cacheGet("loop:\(index)") == ["hit": true, "value": .int(Int64(index)), "tier": "l1", "ttl": nil])
            }
            #expect(try connections[0].result("state.get", ["path": "/loops"])["value"] == ["c0": 0, "c1": 1, "c2": 2, "c3": 3])
        }
    }

    @Test("ifRevision that does not match is -32005 with data.revision = current, for every change method")
    func ifRevisionMismatch() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            _ = try connection.result("state.set", ["path": "/a", "value": 1])
            _ = try connection.result("state.set", ["path": "/b", "value": 2])
            let attempts: [(String, JSONValue)] = [
                ("state.set", ["path": "/a", "value": 9, "ifRevision": 1]),
                ("state.merge", ["path": "", "value": ["a": 9], "ifRevision": 1]),
                ("state.patch", ["ops": [["op": "replace", "path": "/a", "value": 9]], "ifRevision": 1]),
                ("state.delete", ["path": "/a", "ifRevision": 1]),
                ("state.delete", ["path": "/missing", "ifRevision": 1]),
            ]
            for (method, params) in attempts {
                let error = try connection.error(method, params, code: -32005)
                #expect(error["data"]?["revision"] == 2, "\(method): \(error)")
            }
            #expect(try connection.result("state.get", ["path": ""]) == ["value": ["a": 1, "b": 2], "revision": 2, "exists": true])
            #expect(try connection.result("state.set", ["path": "/a", "value": 3, "ifRevision": 2]) == ["revision": 3])
        }
    }

    @Test("history lists changes newest first with their action labels, filtered by path and beforeRevision")
    func history() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            _ = try connection.result("state.set", ["path": "/settings/theme", "value": "dark", "action": "choose theme"])
            _ = try connection.result("state.merge", ["path": "/workspace", "value": ["open": ["a.txt"]], "action": "open file"])
            _ = try connection.result("state.set", ["path": "/settings/font", "value": 12])
            let changes = try #require(try connection.result("state.history", [:])["changes"]?.arrayValue)
            #expect(changes.map { $0["revision"] } == [3, 2, 1])
            #expect(changes.map { $0["action"] } == [.null, "open file", "choose theme"])
            #expect(changes.map { $0["path"] } == ["/settings/font", "/workspace", "/settings"] || changes.map { $0["path"] }
                == ["/settings/font", "/workspace", "/settings/theme"], "\(changes)")
            #expect(changes.allSatisfy { $0["time"]?.intValue.map { $0 > 1_600_000_000_000 } == true }, "\(changes)")
            #expect(changes.allSatisfy { $0["patch"]?.arrayValue?.isEmpty == false }, "\(changes)")

            let limited = try connection.result("state.history", ["limit": 1])["changes"]?.arrayValue
            #expect(limited?.map { $0["revision"] } == [3])
            let before = try connection.result("state.history", ["beforeRevision": 3])["changes"]?.arrayValue
            #expect(before?.map { $0["revision"] } == [2, 1])
            let settings = try connection.result("state.history", ["path": "/settings"])["changes"]?.arrayValue
            #expect(settings?.map { $0["revision"] } == [3, 1])
        }
    }

    @Test("revert makes a new revision equal to the old document, recorded in history; a future revision is -32602")
    func revert() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            _ = try connection.result("state.set", ["path": "/a", "value": 1])
            _ = try connection.result("state.set", ["path": "/b", "value": ["c": [1, 2]]])
            let atTwo = try #require(try connection.result("state.get", ["path": ""])["value"])
            _ = try connection.result("state.delete", ["path": "/a"])
            _ = try connection.result("state.merge", ["path": "/b", "value": ["c": nil, "d": true]])
            _ = try connection.result("state.set", ["path": "/e", "value": "later"])

            #expect(try connection.result("state.revert", ["toRevision": 2]) == ["revision": 6])
            #expect(try connection.result("state.get", ["path": ""]) == ["value": atTwo, "revision": 6, "exists": true])
            let newest = try connection.result("state.history", ["limit": 1])["changes"]?[0]
            #expect(newest?["revision"] == 6, "\(String(describing: newest))")
            #expect(newest?["action"]?.stringValue?.isEmpty == false, "a revert is labelled: \(String(describing: newest))")

            // Revert to the empty document, with a label; then a future revision.
            _ = try connection.result("state.revert", ["toRevision": 0, "action": "reset"])
            #expect(try connection.result("state.get", ["path": ""]) == ["value": [:], "revision": 7, "exists": true])
            #expect(try connection.result("state.history", ["limit": 1])["changes"]?[0]?["action"] == "reset")
            let error = try connection.error("state.revert", ["toRevision": 8], code: -32602)
            #expect(error["message"]?.stringValue?.contains("8") == true, "\(error)")
            #expect(try connection.result("state.get", ["path": ""])["revision"] == 7)
        }
    }

    @Test("compare-and-set race: two connections set with the same ifRevision at once; exactly one wins")
    func compareAndSetRace() throws {
        try withDaemon { daemon in
            let first = try daemon.connect()
            let second = try daemon.connect()
            for round in 0..<25 {
                let revision = try #require(try first.result("state.get", ["path": ""])["revision"])
                let request = { (writer: String) in
                    WireFrame.bytes(RPC.request("state.set", params: [
                        "path": "/owner", "value": .string(writer), "ifRevision": revision,
                    ], id: .int(Int64(round))))
                }
                try first.write(request("first"))
                try second.write(request("second"))
                let replies = [try first.readMessage(), try second.readMessage()]
                let winners = replies.indices.filter { replies[$0]["result"] != nil }
                #expect(winners.count == 1, "round \(round): \(replies)")
                let loser = replies.first { $0["error"] != nil }
                #expect(loser?["error"]?["code"] == -32005, "round \(round): \(replies)")
                guard let winner = winners.first else { continue }
                #expect(loser?["error"]?["data"]?["revision"] == replies[winner]["result"]?["revision"], "\(replies)")
                let owner = try first.result("state.get", ["path": "/owner"])["value"]
                #expect(owner == (winner == 0 ? "first" : "second"), "round \(round): \(replies)")
            }
            #expect(try first.result("state.get", ["path": ""])["revision"] == 25)
        }
    }

    @Test("pipelined state requests on one connection apply in the order sent, and a read sees the writes before it")
    func pipelinedChangesApplyInOrder() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            var bytes: [UInt8] = []
            for index in 0..<200 {
                bytes += WireFrame.bytes(RPC.request("state.set", params: ["path": "/x", "value": .int(Int64(index))], id: .int(Int64(index))))
            }
            bytes += WireFrame.bytes(RPC.request("state.get", params: ["path": "/x"], id: "read"))
            try connection.write(bytes)
            var revisions: [Int64: Int64] = [:]
            var read: JSONValue?
            for _ in 0...200 {
                let reply = try connection.readMessage()
                if reply["id"] == "read" { read = reply["result"] } else if let id = reply["id"]?.intValue {
                    revisions[id] = reply["result"]?["revision"]?.intValue
                }
            }
            #expect(revisions.count == 200)
            #expect((0..<200).map { revisions[Int64($0)] } == (1...200).map { Int64($0) }, "revisions follow the send order")
            #expect(read?["value"] == 199, "the read pipelined after the writes sees the last one: \(String(describing: read))")
            #expect(read?["revision"] == 200)
        }
    }
}

// MARK: - Calling state methods

extension RawConnection {
    /// Calls `method` and returns its result, failing the test when the reply is an error.
    func result(
        _ method: String,
        _ params: JSONValue,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> JSONValue {
        let reply = try call(method, params: params)
        return try #require(reply["result"], "\(method) \(params): \(reply)", sourceLocation: sourceLocation)
    }

    /// Calls `method`, expects an error with `code`, and returns the error object.
    @discardableResult
    func error(
        _ method: String,
        _ params: JSONValue,
        code: Int64,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> JSONValue {
        let reply = try call(method, params: params)
        let error = try #require(reply["error"], "\(method) \(params): \(reply)", sourceLocation: sourceLocation)
        #expect(error["code"] == .int(code), "\(method) \(params): \(reply)", sourceLocation: sourceLocation)
        #expect(reply["result"] == nil, "\(reply)", sourceLocation: sourceLocation)
        return error
    }
}
