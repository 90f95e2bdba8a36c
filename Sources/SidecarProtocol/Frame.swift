import NIOCore

/// The framing of the wire: a 4-byte unsigned big-endian length N, then N bytes of UTF-8 JSON.
public enum Frame {
    /// The size of the length prefix in bytes.
    public static let prefixLength = 4

    /// The largest length a prefix can state.
    public static let largestEncodableLength = Int(UInt32.max)

    /// Writes `value` as one frame (prefix and JSON) at the end of `buffer`.
    public static func write(_ value: JSONValue, into buffer: inout ByteBuffer) {
        let prefixIndex = buffer.writerIndex
        // A placeholder, not moveWriterIndex: that traps when the buffer has no spare capacity.
        buffer.writeInteger(UInt32(0), endianness: .big)
        JSONWriter.write(value, into: &buffer)
        let bodyLength = buffer.writerIndex - prefixIndex - prefixLength
        buffer.setInteger(UInt32(truncatingIfNeeded: bodyLength), at: prefixIndex, endianness: .big)
    }

    /// Writes an already encoded JSON body as one frame.
    public static func write(body: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(truncatingIfNeeded: body.readableBytes), endianness: .big)
        var body = body
        buffer.writeBuffer(&body)
    }
}

/// The decision for the bytes buffered so far: a whole frame, a need for more bytes, or a
/// frame that is too large to read.
public enum FrameDecodingResult: Equatable, Sendable {
    case frame(ByteBuffer)
    case needMoreData
    /// The prefix states `length` bytes, more than the maximum; the body must not be read.
    case tooLarge(length: UInt64)
}

/// Splits a byte stream into frames, refusing a length above `maximumFrameLength` as soon
/// as its prefix has arrived (before any of its body is read or buffered).
public struct FrameDecoder: Sendable {
    public var maximumFrameLength: Int

    public init(maximumFrameLength: Int) {
        self.maximumFrameLength = maximumFrameLength
    }

    /// Takes one frame from the front of `buffer` when it is complete.
    public func decode(_ buffer: inout ByteBuffer) -> FrameDecodingResult {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return .needMoreData
        }
        guard Int(length) <= maximumFrameLength else { return .tooLarge(length: UInt64(length)) }
        guard buffer.readableBytes >= Frame.prefixLength + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: Frame.prefixLength)
        // A slice shares storage with the read buffer: no copy per frame.
        let frame = buffer.readSlice(length: Int(length))!  // checked just above
        return .frame(frame)
    }
}

extension Frame {
    /// Writes `response` as one frame without building an intermediate JSON object:
    /// the hot path of every answer the server sends.
    public static func write(_ response: RPCResponse, into buffer: inout ByteBuffer) {
        let prefixIndex = buffer.writerIndex
        // A placeholder, not moveWriterIndex: that traps when the buffer has no spare capacity.
        buffer.writeInteger(UInt32(0), endianness: .big)
        writeBody(of: response, into: &buffer)
        let bodyLength = buffer.writerIndex - prefixIndex - prefixLength
        buffer.setInteger(UInt32(truncatingIfNeeded: bodyLength), at: prefixIndex, endianness: .big)
    }

    /// Writes a batch reply (a JSON array of responses) as one frame.
    public static func write(batch responses: [RPCResponse], into buffer: inout ByteBuffer) {
        let prefixIndex = buffer.writerIndex
        // A placeholder, not moveWriterIndex: that traps when the buffer has no spare capacity.
        buffer.writeInteger(UInt32(0), endianness: .big)
        buffer.writeInteger(UInt8(ascii: "["))
        for (offset, response) in responses.enumerated() {
            if offset > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            writeBody(of: response, into: &buffer)
        }
        buffer.writeInteger(UInt8(ascii: "]"))
        let bodyLength = buffer.writerIndex - prefixIndex - prefixLength
        buffer.setInteger(UInt32(truncatingIfNeeded: bodyLength), at: prefixIndex, endianness: .big)
    }

    private static func writeBody(of response: RPCResponse, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"jsonrpc":"2.0","id":"#)
        JSONWriter.write(response.id.jsonValue, into: &buffer)
        switch response.outcome {
        case .success(let result):
            buffer.writeStaticString(#","result":"#)
            JSONWriter.write(result, into: &buffer)
        case .failure(let error):
            buffer.writeStaticString(#","error":"#)
            JSONWriter.write(error.jsonValue, into: &buffer)
        }
        buffer.writeInteger(UInt8(ascii: "}"))
    }
}
