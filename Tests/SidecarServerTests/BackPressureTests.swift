import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

/// A client that does not read its responses: the daemon stops reading its requests, loses
/// nothing, and disconnects it only past --max-outbound-bytes.
@Suite("Back-pressure and the outbound cap", .timeLimit(.minutes(1)))
struct BackPressureTests {
    /// 2000 echo requests of a 10 KB value each: about 20 MB of responses.
    private static let requestCount = 2000
    private static let value = JSONValue.string(String(repeating: "v", count: 10_000))

    private static var requests: [UInt8] {
        var bytes: [UInt8] = []
        for id in 0..<requestCount { bytes += WireFrame.bytes(RPC.echo(value, id: .int(Int64(id)))) }
        return bytes
    }

    /// Writes `bytes` until the socket is full and stays full for `settle` seconds (the
    /// daemon stopped reading), all are written, or the daemon closes the connection.
    /// - Returns: how many bytes were written.
    private func writeUntilStalled(_ connection: RawConnection, _ bytes: [UInt8], settle: Double = 0.5) -> Int {
        var offset = 0
        do {
            while offset < bytes.count {
                let written = try connection.writeWithoutBlocking(bytes[offset...])
                offset += written
                guard written == 0 else { continue }
                let moved = try waitUntil(timeout: settle) { try connection.writeWithoutBlocking(bytes[offset..<offset + 1]) == 1 }
                guard moved else { return offset }
                offset += 1
            }
        } catch {
            // Closed by the daemon (EPIPE/ECONNRESET): what was written stays written.
        }
        return offset
    }

    @Test("a client that stops reading stalls but loses nothing: every response arrives once it reads")
    func stalledClientLosesNothing() throws {
        try withDaemon { daemon in
            let residentBefore = try #require(ProcessStatus.residentBytes(of: daemon.pid))
            let connection = try daemon.connect()
            let requests = Self.requests
            let written = writeUntilStalled(connection, requests)
            #expect(written < requests.count, "the daemon read 20 MB of requests without its client reading a byte")
            let residentStalled = try #require(ProcessStatus.residentBytes(of: daemon.pid))
            #expect(residentStalled - residentBefore < 64 * 1024 * 1024, "VmRSS \(residentBefore) → \(residentStalled)")

            // Another client is served meanwhile.
            expectResult(try daemon.connect().call("sidecar.ping"), "pong", id: 1)

            // Now read and write alternately until every response is in (echo runs as a task,
            // so the order may differ from the requests').
            var offset = written
            var answered = Set<JSONValue>()
            while answered.count < Self.requestCount {
                if offset < requests.count { offset += try connection.writeWithoutBlocking(requests[offset...]) }
                let reply = try connection.readMessage(timeout: 10)
                let id = try #require(reply["id"])
                #expect(answered.insert(id).inserted, "\(id) answered twice")
                #expect(reply["result"] == Self.value)
            }
            #expect(answered == Set((0..<Self.requestCount).map { JSONValue.int(Int64($0)) }))
        }
    }

    @Test("an answer larger than --max-outbound-bytes is -32008 and the connection stays; in a batch, the answers past it")
    func oversizedAnswers() throws {
        try withDaemon(["--max-outbound-bytes", "1048576"]) { daemon in
            let connection = try daemon.connect()
            let big = JSONValue.string(String(repeating: "x", count: 1_100_000))
            let echoed = try connection.call("sidecar.echo", params: ["value": big])
            #expect(echoed["error"]?["code"] == -32008, "\(echoed["error"] ?? nil)")
            #expect(echoed["error"]?["data"]?["maximum"] == 1_048_576)

            // A change stands even when its answer is refused; a read of it is refused the same way.
            _ = try connection.call("state.set", params: ["path": "/big", "value": big])
            #expect(try connection.call("state.get", params: ["path": "/big"])["error"]?["code"] == -32008)
            let exists = try connection.call("state.query", params: ["selector": "$.big"])
            #expect(exists["error"]?["code"] == -32008, "\(exists)")

            // 20 answers of 100 KB in one batch: the first ten fit in 1 MiB, the rest are -32008.
            _ = try connection.call("state.set", params: ["path": "/medium", "value": .string(String(repeating: "m", count: 100_000))])
            let requests: [JSONValue] = (0..<20).map { ["jsonrpc": "2.0", "id": .int(Int64($0)), "method": "state.get", "params": ["path": "/medium"]] }
            try connection.write(WireFrame.bytes(.array(requests)))
            let replies = try #require(try connection.readMessage(timeout: 10).arrayValue)
            #expect(replies.count == 20)
            let answered = replies.filter { $0["result"] != nil }.count
            #expect((9...10).contains(answered), "\(answered) answered")
            #expect(replies.dropFirst(answered).allSatisfy { $0["error"]?["code"] == -32008 })
            expectResult(try connection.call("sidecar.ping"), "pong", id: 1)
        }
    }

    @Test("past --max-outbound-bytes a client that does not read is disconnected")
    func outboundCapCloses() throws {
        try withDaemon(["--max-outbound-bytes", "65536"]) { daemon in
            let connection = try daemon.connect()
            _ = writeUntilStalled(connection, Self.requests)
            // The responses the kernel still holds come first, then the end of the connection.
            var replies = 0
            var event = connection.next(timeout: 5)
            while case .frame = event {
                replies += 1
                event = connection.next(timeout: 5)
            }
            #expect(event == .closed, "after \(replies) replies: \(event)")
            #expect(replies < Self.requestCount)
            #expect(daemon.standardError.contains("not reading"), "\(daemon.standardError)")
            expectResult(try daemon.connect().call("sidecar.ping"), "pong", id: 1)
        }
    }
}
