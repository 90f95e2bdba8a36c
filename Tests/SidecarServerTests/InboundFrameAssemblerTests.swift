import NIOCore
import SidecarProtocol
import Testing

@testable import SidecarServer

/// Cutting the inbound stream into frames, as a value, whatever the reads' boundaries.
@Suite("Inbound frame assembler")
struct InboundFrameAssemblerTests {
    private let allocator = ByteBufferAllocator()

    private func stream(_ bodies: [String]) -> [UInt8] {
        bodies.flatMap { body in
            let bytes = Array(body.utf8)
            let length = UInt32(bytes.count)
            return [UInt8(length >> 24), UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)] + bytes
        }
    }

    /// Feeds `bytes` in reads of `readSize` bytes and returns the frames cut, as text.
    private func cut(_ bytes: [UInt8], readSize: Int, maximum: Int = 1024) throws -> [String] {
        var assembler = InboundFrameAssembler(maximumFrameLength: maximum)
        var frames: [String] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + readSize, bytes.count)
            assembler.append(ByteBuffer(bytes: bytes[offset..<end]))
            while let frame = try assembler.next(allocator: allocator) {
                frames.append(String(buffer: frame))
            }
            offset = end
        }
        #expect(assembler.carriedBytes == 0, "bytes left over after the last whole frame")
        return frames
    }

    @Test("frames come out whole and in order however the reads split them", arguments: [1, 2, 3, 4, 5, 7, 13, 64, 4096])
    func anyReadSize(readSize: Int) throws {
        let bodies = [#"{"a":1}"#, "", #"{"method":"x","params":[1,2,3]}"#, String(repeating: "z", count: 300)]
        #expect(try cut(stream(bodies), readSize: readSize) == bodies)
    }

    @Test("an incomplete frame is kept until the rest arrives")
    func carriesAPartialFrame() throws {
        var assembler = InboundFrameAssembler(maximumFrameLength: 1024)
        let bytes = stream([#"{"first":true}"#, #"{"second":true}"#])
        let split = 4 + 14 + 6  // the first frame, then part of the second
        assembler.append(ByteBuffer(bytes: bytes[..<split]))
        #expect(try assembler.next(allocator: allocator).map { String(buffer: $0) } == #"{"first":true}"#)
        #expect(try assembler.next(allocator: allocator) == nil)
        #expect(assembler.carriedBytes == 6)
        assembler.append(ByteBuffer(bytes: bytes[split...]))
        #expect(try assembler.next(allocator: allocator).map { String(buffer: $0) } == #"{"second":true}"#)
        #expect(try assembler.next(allocator: allocator) == nil)
        #expect(assembler.carriedBytes == 0)
    }

    @Test("a prefix above the limit stops the stream after the frames before it, before its body arrives")
    func refusesAnOversizedPrefix() throws {
        var assembler = InboundFrameAssembler(maximumFrameLength: 16)
        assembler.append(ByteBuffer(bytes: stream(["{}"]) + [0, 0, 0, 17]))
        #expect(try assembler.next(allocator: allocator).map { String(buffer: $0) } == "{}")
        #expect(throws: InboundFrameAssembler.FrameTooLarge.self) { try assembler.next(allocator: allocator) }
        assembler.append(ByteBuffer(bytes: stream(["{}"])))
        #expect(try assembler.next(allocator: allocator) == nil, "nothing is read after an oversized prefix")
    }

    @Test("a frame at exactly the limit is accepted")
    func acceptsTheLimit() throws {
        let body = String(repeating: "x", count: 16)
        #expect(try cut(stream([body]), readSize: 5, maximum: 16) == [body])
    }
}
