import NIOCore
import SidecarProtocol
import Testing

@Suite("Frame and FrameDecoder")
struct FrameTests {
    /// The bytes of a frame whose prefix states `length` followed by `body`.
    private func frameBytes(length: UInt32, body: [UInt8] = []) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(length, endianness: .big)
        buffer.writeBytes(body)
        return buffer
    }

    private func drain(_ decoder: FrameDecoder, _ buffer: inout ByteBuffer) -> [String] {
        var frames: [String] = []
        while case .frame(let frame) = decoder.decode(&buffer) {
            frames.append(String(buffer: frame))
        }
        return frames
    }

    // MARK: - Writing

    @Test("write puts a 4-byte big-endian length before the compact JSON")
    func writePrefix() {
        var buffer = ByteBuffer()
        Frame.write(["a": 1], into: &buffer)
        #expect(buffer.readBytes(length: buffer.readableBytes) == [0, 0, 0, 7] + Array(#"{"a":1}"#.utf8))
    }

    @Test("the prefix counts bytes, not characters")
    func writeCountsBytes() {
        var buffer = ByteBuffer()
        Frame.write("é😀", into: &buffer)  // "\"" + 2 + 4 + "\"" bytes
        #expect(buffer.getInteger(at: 0, endianness: .big, as: UInt32.self) == 8)
        #expect(buffer.readableBytes == 12)
    }

    @Test("a long body has every prefix byte right")
    func writeLongBody() {
        let text = String(repeating: "x", count: 0x01_02_03)
        var buffer = ByteBuffer()
        Frame.write(.string(text), into: &buffer)
        #expect(buffer.getBytes(at: 0, length: 4) == [0x00, 0x01, 0x02, 0x05])  // + 2 quotes
        #expect(buffer.readableBytes == 4 + 0x01_02_05)
    }

    @Test("write appends after what the buffer holds, with the prefix in the right place")
    func writeAppends() {
        var buffer = ByteBuffer(string: "AB")
        Frame.write(true, into: &buffer)
        Frame.write(nil, into: &buffer)
        #expect(buffer.readBytes(length: buffer.readableBytes) == Array("AB".utf8) + [0, 0, 0, 4] + Array("true".utf8) + [0, 0, 0, 4] + Array("null".utf8))
    }

    @Test("writing into a buffer with no spare capacity grows it instead of trapping")
    func writeIntoFullBuffer() throws {
        let response = RPCResponse(id: .int(1), result: "pong")
        let writers: [(String, (inout ByteBuffer) -> Void)] = [
            ("value", { Frame.write(["ok": true], into: &$0) }),
            ("response", { Frame.write(response, into: &$0) }),
            ("batch", { Frame.write(batch: [response], into: &$0) }),
            ("body", { Frame.write(body: ByteBuffer(string: "[]"), into: &$0) }),
        ]
        for (name, write) in writers {
            var buffer = ByteBufferAllocator().buffer(capacity: 2)
            buffer.writeRepeatingByte(UInt8(ascii: "A"), count: buffer.writableBytes)
            try #require(buffer.writableBytes == 0)
            let before = buffer.readableBytes
            write(&buffer)
            buffer.moveReaderIndex(forwardBy: before)
            guard case .frame(let frame) = FrameDecoder(maximumFrameLength: 1024).decode(&buffer) else {
                Issue.record("\(name): no frame after the existing bytes")
                continue
            }
            #expect(throws: Never.self, "\(name)") { try JSONParser.parse(frame) }
            #expect(buffer.readableBytes == 0, "\(name)")
        }
    }

    @Test(
        "a response frame holds the response's JSON",
        arguments: [
            RPCResponse(id: .int(1), result: "pong"),
            RPCResponse(id: .string("é"), result: ["nested": [1, 2.5, nil]]),
            RPCResponse(id: .double(0.5), result: nil),
            RPCResponse(id: .null, error: .parseError("unexpected character '}' at byte 3")),
            RPCResponse(id: .int(7), error: .methodNotFound("nope")),
        ]
    )
    func writeResponse(response: RPCResponse) throws {
        var buffer = ByteBuffer()
        Frame.write(response, into: &buffer)
        guard case .frame(let frame) = FrameDecoder(maximumFrameLength: 1024).decode(&buffer) else {
            Issue.record("no frame")
            return
        }
        #expect(String(buffer: frame) == JSONWriter.string(response.jsonValue))
        #expect(try RPCOutbound.decode(json: JSONParser.parse(frame)) == .response(response))
        #expect(buffer.readableBytes == 0)
    }

    @Test("a batch frame holds one array of the responses", arguments: [0, 1, 3])
    func writeBatch(count: Int) throws {
        let responses = (0..<count).map { index in
            index == 1
                ? RPCResponse(id: .null, error: .invalidRequest("an empty batch"))
                : RPCResponse(id: .int(Int64(index)), result: .int(Int64(index * 10)))
        }
        var buffer = ByteBuffer()
        Frame.write(batch: responses, into: &buffer)
        guard case .frame(let frame) = FrameDecoder(maximumFrameLength: 1024).decode(&buffer) else {
            Issue.record("no frame")
            return
        }
        #expect(String(buffer: frame) == JSONWriter.string(.array(responses.map(\.jsonValue))))
        #expect(try RPCOutbound.decode(json: JSONParser.parse(frame)) == .batch(responses))
        #expect(buffer.readableBytes == 0)
    }

    @Test("write(body:) frames an already encoded body")
    func writeBody() {
        var buffer = ByteBuffer()
        Frame.write(body: ByteBuffer(string: "[1,2]"), into: &buffer)
        Frame.write(body: ByteBuffer(), into: &buffer)
        #expect(buffer.readBytes(length: buffer.readableBytes) == [0, 0, 0, 5] + Array("[1,2]".utf8) + [0, 0, 0, 0])
    }

    @Test("what write produces, the decoder reads back as the same JSON")
    func writeThenDecode() throws {
        let values: [JSONValue] = [
            ["jsonrpc": "2.0", "method": "sidecar.ping", "id": 1],
            [1, 2.5, "three", nil],
            "é😀",
            [:],
        ]
        var buffer = ByteBuffer()
        for value in values { Frame.write(value, into: &buffer) }
        let decoder = FrameDecoder(maximumFrameLength: 1 << 20)
        for value in values {
            guard case .frame(let frame) = decoder.decode(&buffer) else {
                Issue.record("expected a frame for \(value)")
                return
            }
            #expect(isIdentical(try JSONParser.parse(frame), value))
        }
        #expect(buffer.readableBytes == 0)
        #expect(decoder.decode(&buffer) == .needMoreData)
    }

    // MARK: - Decoding

    @Test("several frames in one buffer come out in order")
    func severalFrames() {
        var buffer = ByteBuffer()
        for body in ["[1]", "{}", "\"x\""] { Frame.write(body: ByteBuffer(string: body), into: &buffer) }
        let decoder = FrameDecoder(maximumFrameLength: 100)
        #expect(drain(decoder, &buffer) == ["[1]", "{}", "\"x\""])
        #expect(buffer.readableBytes == 0)
    }

    @Test("input split one byte at a time yields the same frames, each exactly when complete")
    func byteAtATime() {
        let bodies = ["{\"a\":1}", "", "[true,false,null]", "\"é\""]
        var wire = ByteBuffer()
        for body in bodies { Frame.write(body: ByteBuffer(string: body), into: &wire) }
        let wireBytes = wire.readBytes(length: wire.readableBytes) ?? []

        // Where each frame ends on the wire: the decoder must answer with it then, not before.
        var ends: [Int] = []
        var position = 0
        for body in bodies {
            position += 4 + body.utf8.count
            ends.append(position)
        }

        let decoder = FrameDecoder(maximumFrameLength: 64)
        var buffer = ByteBuffer()
        var frames: [String] = []
        for (index, byte) in wireBytes.enumerated() {
            buffer.writeInteger(byte)
            switch decoder.decode(&buffer) {
            case .frame(let frame):
                #expect(ends.contains(index + 1), "a frame came out after \(index + 1) bytes")
                frames.append(String(buffer: frame))
            case .needMoreData:
                #expect(!ends.contains(index + 1), "no frame after \(index + 1) bytes")
            case .tooLarge(let length):
                Issue.record("tooLarge(\(length)) for a small frame")
            }
        }
        #expect(frames == bodies)
        #expect(buffer.readableBytes == 0)
    }

    @Test("a prefix that has not fully arrived needs more data", arguments: 0..<4)
    func partialPrefix(count: Int) {
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF].prefix(count))
        #expect(FrameDecoder(maximumFrameLength: 16).decode(&buffer) == .needMoreData)
        #expect(buffer.readableBytes == count)
    }

    @Test("a partial body needs more data and nothing is consumed")
    func partialBody() {
        var buffer = frameBytes(length: 5, body: Array("[1,".utf8))
        #expect(FrameDecoder(maximumFrameLength: 16).decode(&buffer) == .needMoreData)
        #expect(buffer.readableBytes == 7)
        buffer.writeString("2]")
        #expect(FrameDecoder(maximumFrameLength: 16).decode(&buffer) == .frame(ByteBuffer(string: "[1,2]")))
    }

    @Test("a zero-length frame is an empty frame, and the frame after it is still read")
    func zeroLength() {
        var buffer = frameBytes(length: 0)
        Frame.write(body: ByteBuffer(string: "1"), into: &buffer)
        let decoder = FrameDecoder(maximumFrameLength: 16)
        #expect(decoder.decode(&buffer) == .frame(ByteBuffer()))
        #expect(decoder.decode(&buffer) == .frame(ByteBuffer(string: "1")))
        #expect(decoder.decode(&buffer) == .needMoreData)
    }

    @Test("a frame of exactly the maximum length is accepted")
    func exactlyMaximum() {
        let body = Array(repeating: UInt8(ascii: "x"), count: 16)
        var buffer = frameBytes(length: 16, body: body)
        #expect(FrameDecoder(maximumFrameLength: 16).decode(&buffer) == .frame(ByteBuffer(bytes: body)))
    }

    @Test("one byte over the maximum is too large as soon as the prefix arrives")
    func overMaximum() {
        var buffer = frameBytes(length: 17)  // no body at all
        #expect(FrameDecoder(maximumFrameLength: 16).decode(&buffer) == .tooLarge(length: 17))
    }

    @Test("a maximum of zero accepts only empty frames")
    func zeroMaximum() {
        let decoder = FrameDecoder(maximumFrameLength: 0)
        var empty = frameBytes(length: 0)
        #expect(decoder.decode(&empty) == .frame(ByteBuffer()))
        var oneByte = frameBytes(length: 1, body: [0x31])
        #expect(decoder.decode(&oneByte) == .tooLarge(length: 1))
    }

    @Test("a 0xFFFFFFFF prefix is too large immediately, under the daemon's default limit")
    func largestPrefix() {
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(FrameDecoder(maximumFrameLength: 16_777_216).decode(&buffer) == .tooLarge(length: 0xFFFF_FFFF))
        #expect(UInt64(Frame.largestEncodableLength) == 0xFFFF_FFFF)
    }

    @Test("the maximum can be raised to the largest encodable length")
    func largestMaximum() {
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x31])
        #expect(FrameDecoder(maximumFrameLength: Frame.largestEncodableLength).decode(&buffer) == .needMoreData)
    }

    @Test("a too-large frame after good ones is reported once the good ones are taken")
    func tooLargeAfterGoodFrames() {
        var buffer = ByteBuffer()
        Frame.write(body: ByteBuffer(string: "[]"), into: &buffer)
        buffer.writeInteger(UInt32(1_000_000), endianness: .big)
        let decoder = FrameDecoder(maximumFrameLength: 1024)
        #expect(decoder.decode(&buffer) == .frame(ByteBuffer(string: "[]")))
        #expect(decoder.decode(&buffer) == .tooLarge(length: 1_000_000))
    }

    @Test("a decoded frame holds exactly the body, wherever the reader index was")
    func frameContents() {
        var buffer = ByteBuffer(string: "junk")
        buffer.moveReaderIndex(forwardBy: 4)
        Frame.write(body: ByteBuffer(string: "{\"k\":\"v\"}"), into: &buffer)
        guard case .frame(let frame) = FrameDecoder(maximumFrameLength: 64).decode(&buffer) else {
            Issue.record("expected a frame")
            return
        }
        #expect(frame.readableBytes == 9)
        #expect(String(buffer: frame) == "{\"k\":\"v\"}")
    }
}
