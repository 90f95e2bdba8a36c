import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

/// The length-prefixed framing, byte by byte, as a client that writes badly sees it.
@Suite("Framing", .timeLimit(.minutes(1)))
struct FramingTests {
    @Test("a frame written one byte at a time is answered once, when complete")
    func oneByteAtATime() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            let bytes = WireFrame.bytes(RPC.echo("split", id: "bytes"))
            for byte in bytes.dropLast() {
                try connection.write([byte])
                // Pacing, so that the daemon reads the bytes in separate reads.
                pause(seconds: 0.001)
            }
            #expect(connection.next(timeout: 0.2) == .timedOut, "answered before the last byte")
            try connection.write([bytes[bytes.count - 1]])
            expectResult(try connection.readMessage(), "split", id: "bytes")
        }
    }

    @Test("several frames in one write are all answered, in order")
    func severalFramesInOneWrite() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            var bytes: [UInt8] = []
            for id in 1...5 { bytes += WireFrame.bytes(RPC.request("sidecar.ping", id: .int(Int64(id)))) }
            // And the first half of a sixth, completed by a second write.
            let sixth = WireFrame.bytes(RPC.echo("sixth", id: 6))
            try connection.write(bytes + sixth[..<3])
            for id in 1...5 { expectResult(try connection.readMessage(), "pong", id: .int(Int64(id))) }
            try connection.write(Array(sixth[3...]))
            expectResult(try connection.readMessage(), "sixth", id: 6)
        }
    }

    @Test("a zero-length frame is -32700 with id null and the connection stays usable")
    func zeroLengthFrame() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.write(WireFrame.prefix(0))
            expectError(try connection.readMessage(), code: -32700, id: nil)
            try connection.write(WireFrame.prefix(0) + WireFrame.bytes(RPC.request("sidecar.ping", id: 2)))
            expectError(try connection.readMessage(), code: -32700, id: nil)
            expectResult(try connection.readMessage(), "pong", id: 2)
        }
    }

    @Test("an invalid UTF-8 body is -32700 with id null and the connection stays usable")
    func invalidUTF8() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            let body = Array(#"{"jsonrpc":"2.0","id":1,"method":"sidecar.echo","params":{"value":""#.utf8) + [0xFF, 0xFE]
                + Array(#""}}"#.utf8)
            try connection.write(WireFrame.bytes(body: body))
            expectError(try connection.readMessage(), code: -32700, id: nil)
            // A UTF-8 byte-order mark is not JSON either.
            try connection.write(WireFrame.bytes(body: [0xEF, 0xBB, 0xBF] + Array(#"{"jsonrpc":"2.0","id":1,"method":"sidecar.ping"}"#.utf8)))
            expectError(try connection.readMessage(), code: -32700, id: nil)
            // Trailing content after one JSON value.
            try connection.send(#"{"jsonrpc":"2.0","id":1,"method":"sidecar.ping"} {}"#)
            expectError(try connection.readMessage(), code: -32700, id: nil)
            expectResult(try connection.call("sidecar.ping", id: 2), "pong", id: 2)
        }
    }

    @Test("a 2 GiB length prefix is -32001 with id null, the connection closes at once, and no memory is spent")
    func twoGiBPrefix() throws {
        try withDaemon { daemon in
            // Warm up a connection first, so that the figure below is the steady state.
            let warmUp = try daemon.connect()
            expectResult(try warmUp.call("sidecar.ping"), "pong", id: 1)
            let residentBefore = try #require(ProcessStatus.residentBytes(of: daemon.pid))

            let connection = try daemon.connect()
            let start = ContinuousClock.now
            try connection.write(WireFrame.prefix(0x8000_0000) + Array(#"{"jsonrpc":"2.0","#.utf8))
            let reply = try connection.readMessage(timeout: 2)
            expectError(reply, code: -32001, id: nil)
            #expect(reply["error"]?["data"]?["length"] == 2_147_483_648)
            #expect(reply["error"]?["data"]?["maximum"] == 16_777_216)
            #expect(connection.next(timeout: 2) == .closed)
            #expect(ContinuousClock.now - start < .seconds(2))

            // Whatever the client goes on sending is discarded, not buffered.
            let junk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
            for _ in 0..<256 {
                guard (try? connection.write(junk)) != nil else { break }
            }
            connection.close()
            expectResult(try warmUp.call("sidecar.ping", id: 2), "pong", id: 2)
            let residentAfter = try #require(ProcessStatus.residentBytes(of: daemon.pid))
            #expect(residentAfter - residentBefore < 8 * 1024 * 1024, "VmRSS grew from \(residentBefore) to \(residentAfter) bytes")
        }
    }

    @Test("nesting deeper than 512 levels is -32700, and the connection and daemon go on")
    func deepNesting() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send(String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000))
            expectError(try connection.readMessage(), code: -32700, id: nil)
            let nested = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
            try connection.send(#"{"jsonrpc":"2.0","id":1,"method":"sidecar.echo","params":{"value":\#(nested)}}"#)
            let reply = try connection.readMessage()
            #expect(reply["result"] == (try JSONParser.parse(nested)), "500 levels (plus the envelope) are allowed")
        }
    }

    @Test("strings with escapes, control characters and non-ASCII text come back unchanged")
    func stringRoundTrip() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            let text = #""\u0000\u001f\"\\/\b\f\n\r\t é 😀 \ud83d\ude00 \u2028 \u00e9""#
            try connection.send(#"{"jsonrpc":"2.0","id":1,"method":"sidecar.echo","params":{"value":\#(text)}}"#)
            expectResult(try connection.readMessage(), try JSONParser.parse(text), id: 1)
        }
    }

    @Test("an 8 MiB frame is served and its reply, as large as --max-outbound-bytes allows (8 MiB), arrives whole")
    func largeFrame() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            // 16 bytes short of 8 MiB: the result, quotes included, is just under the cap.
            let value = JSONValue.string(String(repeating: "0123456789abcdef", count: 512 * 1024 - 1))
            try connection.send(RPC.echo(value, id: "large"))
            expectResult(try connection.readMessage(timeout: 20), value, id: "large")
        }
    }

    @Test("--max-frame-bytes 1024: a 1024-byte body is served, a 1025-byte one is -32001 and closes")
    func maximumFrameBytes() throws {
        try withDaemon(["--max-frame-bytes", "1024"]) { daemon in
            let head = #"{"jsonrpc":"2.0","id":"big","method":"sidecar.echo","params":{"value":""#
            let tail = #""}}"#
            func padding(toBodyLength length: Int) -> String {
                String(repeating: "a", count: length - head.utf8.count - tail.utf8.count)
            }
            func echoBody(length: Int) -> [UInt8] { Array((head + padding(toBodyLength: length) + tail).utf8) }

            let accepted = try daemon.connect()
            let body = echoBody(length: 1024)
            #expect(body.count == 1024)
            try accepted.write(WireFrame.bytes(body: body))
            expectResult(try accepted.readMessage(), .string(padding(toBodyLength: 1024)), id: "big")
            expectResult(try accepted.call("sidecar.ping", id: 2), "pong", id: 2)

            let refused = try daemon.connect()
            // A valid frame right behind the oversized one is never answered.
            try refused.write(WireFrame.bytes(body: echoBody(length: 1025)) + WireFrame.bytes(RPC.request("sidecar.ping", id: 9)))
            let error = try refused.readMessage()
            expectError(error, code: -32001, id: nil)
            #expect(error["error"]?["data"]?["length"] == 1025)
            #expect(error["error"]?["data"]?["maximum"] == 1024)
            #expect(refused.next(timeout: 2) == .closed)
            // The other connection is not affected.
            expectResult(try accepted.call("sidecar.ping", id: 3), "pong", id: 3)
        }
    }
}
