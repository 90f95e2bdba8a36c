import NIOCore

/// The framing of the wire: a 4-byte unsigned big-endian length N, then N bytes of UTF-8 JSON.
public enum Frame {
    /// The size of the length prefix in bytes.
    public static let prefixLength = 4

    /// The largest length a prefix can state.
    public static let largestEncodableLength = Int(UInt32.max)

    /// Writes `value` as one frame (prefix and JSON) at the end of `buffer`.
    public static func write(_ value: JSONValue, into buffer: inout ByteBuffer) {
        var bytes: [UInt8] = []
        write(value, into: &bytes)
        buffer.writeBytes(bytes)
    }

    /// Appends `value` as one frame (prefix and JSON) to `bytes`.
    public static func write(_ value: JSONValue, into bytes: inout [UInt8]) {
        writeFrame(into: &bytes) { JSONWriter.write(value, into: &$0) }
    }

    /// Appends a frame whose body `writeBody` appends, then fills in the length prefix.
    @inline(__always)
    static func writeFrame(into bytes: inout [UInt8], _ writeBody: (inout [UInt8]) -> Void) {
        let prefixIndex = bytes.count
        bytes.append(contentsOf: [0, 0, 0, 0] as [UInt8])
        writeBody(&bytes)
        let length = UInt32(truncatingIfNeeded: bytes.count - prefixIndex - prefixLength)
        bytes[prefixIndex] = UInt8(truncatingIfNeeded: length >> 24)
        bytes[prefixIndex + 1] = UInt8(truncatingIfNeeded: length >> 16)
        bytes[prefixIndex + 2] = UInt8(truncatingIfNeeded: length >> 8)
        bytes[prefixIndex + 3] = UInt8(truncatingIfNeeded: length)
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
    /// Writes `response` as one frame without building an intermediate JSON object.
    public static func write(_ response: RPCResponse, into buffer: inout ByteBuffer) {
        var bytes: [UInt8] = []
        write(response, into: &bytes)
        buffer.writeBytes(bytes)
    }

    /// Appends `response` as one frame without building an intermediate JSON object:
    /// the hot path of every answer the server sends.
    public static func write(_ response: RPCResponse, into bytes: inout [UInt8]) {
        writeFrame(into: &bytes) { writeBody(of: response, into: &$0) }
    }

    /// Appends a successful response whose result is JSON text already, as one frame.
    public static func write(id: RPCID, encodedResult: EncodedJSON, into bytes: inout [UInt8]) {
        writeFrame(into: &bytes) { bytes in
            JSONWriter.append(#"{"jsonrpc":"2.0","id":"#, to: &bytes)
            writeID(id, into: &bytes)
            JSONWriter.append(#","result":"#, to: &bytes)
            bytes.append(contentsOf: encodedResult.bytes)
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// Writes a batch reply (a JSON array of responses) as one frame.
    public static func write(batch responses: [RPCResponse], into buffer: inout ByteBuffer) {
        var bytes: [UInt8] = []
        write(batch: responses, into: &bytes)
        buffer.writeBytes(bytes)
    }

    /// Appends a batch reply (a JSON array of responses) as one frame.
    public static func write(batch responses: [RPCResponse], into bytes: inout [UInt8]) {
        writeFrame(into: &bytes) { bytes in
            bytes.append(UInt8(ascii: "["))
            for (offset, response) in responses.enumerated() {
                if offset > 0 { bytes.append(UInt8(ascii: ",")) }
                writeBody(of: response, into: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        }
    }

    private static func writeBody(of response: RPCResponse, into bytes: inout [UInt8]) {
        JSONWriter.append(#"{"jsonrpc":"2.0","id":"#, to: &bytes)
        writeID(response.id, into: &bytes)
        switch response.outcome {
        case .success(let result):
            JSONWriter.append(#","result":"#, to: &bytes)
            JSONWriter.write(result, into: &bytes)
        case .failure(let error):
            JSONWriter.append(#","error":"#, to: &bytes)
            JSONWriter.write(error.jsonValue, into: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    private static func writeID(_ id: RPCID, into bytes: inout [UInt8]) {
        switch id {
        case .string(let string): JSONWriter.writeString(string, into: &bytes)
        case .int(let int): JSONWriter.write(.int(int), into: &bytes)
        case .double(let double): JSONWriter.write(.double(double), into: &bytes)
        case .null: JSONWriter.append("null", to: &bytes)
        }
    }
}
