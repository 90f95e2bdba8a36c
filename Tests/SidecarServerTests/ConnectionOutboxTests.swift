import NIOCore
import SidecarProtocol
import Testing

@testable import SidecarServer

/// The outbox as a value, without I/O: what a slow reader is sent, and what it costs.
@Suite("Connection outbox")
struct ConnectionOutboxTests {
    private func notification(_ value: Int64) -> RPCNotification {
        RPCNotification(method: "state.changed", params: ["value": .int(value)])
    }

    /// The JSON texts of the frames in `buffer`.
    private func frames(in buffer: ByteBuffer) throws -> [JSONValue] {
        var buffer = buffer
        var frames: [JSONValue] = []
        while let length = buffer.readInteger(endianness: .big, as: UInt32.self) {
            let slice = buffer.readSlice(length: Int(length))
            let body = try #require(slice, "a frame shorter than its prefix says")
            frames.append(try JSONParser.parse(body))
        }
        #expect(buffer.readableBytes == 0, "a partial frame was left over")
        return frames
    }

    @Test("responses are framed in the order they were appended, and drained once")
    func responsesInOrder() throws {
        var outbox = ConnectionOutbox()
        outbox.append(RPCResponse(id: .int(1), result: "pong"))
        outbox.append(batch: [RPCResponse(id: .int(2), result: 2), RPCResponse(id: .string("x"), error: .methodNotFound("nope"))])
        var buffer = ByteBuffer()
        let count = outbox.drain(into: &buffer)
        #expect(count == buffer.readableBytes)
        let sent = try frames(in: buffer)
        #expect(sent.count == 2)
        #expect(sent[0] == ["jsonrpc": "2.0", "id": 1, "result": "pong"])
        #expect(sent[1].arrayValue?.count == 2)
        #expect(!outbox.hasPendingBytes)
        #expect(outbox.drain(into: &buffer) == 0)
    }

    @Test("while the peer is not reading, the newest notification per key is held; the rest are never sent")
    func coalescesPerKey() throws {
        var outbox = ConnectionOutbox()
        #expect(outbox.enqueue(notification(1), coalescingKey: "a", writable: false) == .held)
        #expect(outbox.enqueue(notification(2), coalescingKey: "b", writable: false) == .held)
        #expect(outbox.enqueue(notification(3), coalescingKey: "a", writable: false) == .replacedOlder)
        for value in 4...1000 {
            _ = outbox.enqueue(notification(Int64(value)), coalescingKey: "b", writable: false)
        }
        #expect(outbox.heldCount == 2, "memory is bounded by the keys, not by the number of changes")
        #expect(!outbox.hasPendingBytes)

        #expect(outbox.releaseHeld() == 2)
        var buffer = ByteBuffer()
        _ = outbox.drain(into: &buffer)
        let sent = try frames(in: buffer)
        // Key order is the order keys were first held; each carries its latest value.
        #expect(sent.map { $0["params"]?["value"] } == [.int(3), .int(1000)])
        #expect(outbox.heldCount == 0)
    }

    @Test("held notifications are bounded in bytes: past the bound the outbox says overflowed and holds nothing more")
    func heldBytesAreBounded() throws {
        var outbox = ConnectionOutbox(maximumHeldBytes: 1_000)
        var key = 0
        while outbox.enqueue(notification(Int64(key)), coalescingKey: "task \(key)", writable: false) == .held {
            key += 1
        }
        #expect(key > 10, "each frame is some 60 bytes")
        #expect(outbox.heldCount == key)
        #expect(outbox.heldBytes <= 1_000)
        // A newer notification for a key already held takes the older one's place: no growth.
        #expect(outbox.enqueue(notification(1), coalescingKey: "task 0", writable: false) == .replacedOlder)
        #expect(outbox.heldCount == key)
        #expect(outbox.releaseHeld() == key)
        #expect(outbox.heldBytes == 0)
    }

    @Test("an answer larger than the bound is replaced by a -32008 error naming it; one at the bound goes out")
    func oversizedAnswersAreRefused() throws {
        var outbox = ConnectionOutbox(maximumHeldBytes: 1_000)
        outbox.append(RPCResponse(id: .int(1), result: .string(String(repeating: "x", count: 2_000))))
        outbox.append(id: .int(2), encodedResult: EncodedJSON.Object(capacity: 16).finishing(padding: 2_000))
        outbox.append(RPCResponse(id: .int(3), result: .string(String(repeating: "y", count: 900))))
        var buffer = ByteBuffer()
        _ = outbox.drain(into: &buffer)
        let sent = try frames(in: buffer)
        #expect(sent.map { $0["id"] } == [1, 2, 3])
        #expect(sent[0]["error"]?["code"] == -32008 && sent[0]["error"]?["data"]?["maximum"] == 1_000, "\(sent[0])")
        #expect(sent[1]["error"]?["code"] == -32008, "\(sent[1])")
        #expect(sent[2]["result"]?.stringValue?.count == 900)
        // A notification that could never be sent whole ends the connection, like one that is not read.
        #expect(outbox.enqueue(RPCNotification(method: "state.changed", params: ["value": .string(String(repeating: "z", count: 2_000))]),
                               coalescingKey: "a", writable: true) == .overflowed)
    }

    @Test("a writable connection gets every notification, none held")
    func writableSendsAll() throws {
        var outbox = ConnectionOutbox()
        for value in 1...3 {
            #expect(outbox.enqueue(notification(Int64(value)), coalescingKey: "a", writable: true) == .queued)
        }
        var buffer = ByteBuffer()
        _ = outbox.drain(into: &buffer)
        #expect(try frames(in: buffer).map { $0["params"]?["value"] } == [.int(1), .int(2), .int(3)])
        #expect(outbox.heldCount == 0)
    }

    @Test("a response still goes out in full when notifications are being held")
    func responsesAreNeverHeld() throws {
        var outbox = ConnectionOutbox()
        _ = outbox.enqueue(notification(1), coalescingKey: "a", writable: false)
        outbox.append(RPCResponse(id: .int(7), result: "done"))
        var buffer = ByteBuffer()
        _ = outbox.drain(into: &buffer)
        #expect(try frames(in: buffer) == [["jsonrpc": "2.0", "id": 7, "result": "done"]])
        #expect(outbox.heldCount == 1)
    }

    @Test("a large response does not leave a large buffer behind")
    func largeBuffersAreNotKept() throws {
        var outbox = ConnectionOutbox()
        let big = JSONValue.string(String(repeating: "x", count: 1_000_000))
        outbox.append(RPCResponse(id: .int(1), result: big))
        var buffer = ByteBuffer()
        #expect(outbox.drain(into: &buffer) > 1_000_000)
        #expect(outbox.reservedBytes <= ConnectionOutbox.retainedCapacity, "the megabyte is let go")
        outbox.append(RPCResponse(id: .int(2), result: "small"))
        var second = ByteBuffer()
        _ = outbox.drain(into: &second)
        #expect(try frames(in: second) == [["jsonrpc": "2.0", "id": 2, "result": "small"]])
    }
}

extension EncodedJSON.Object {
    /// The object with one string member of `count` bytes, for a large encoded result.
    fileprivate consuming func finishing(padding count: Int) -> EncodedJSON {
        var object = self
        object.add("padding", string: String(repeating: "p", count: count))
        return object.finish()
    }
}
