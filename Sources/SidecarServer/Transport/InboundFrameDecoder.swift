import NIOCore
import SidecarProtocol

/// Raised through the pipeline when a frame's length prefix is above the limit. The body is
/// not read, and nothing more is: the stream can no longer be trusted.
struct FrameTooLarge: Error {
    var length: UInt64
}

/// Splits the byte stream into frames with ``FrameDecoder`` and passes each frame's body on
/// as a `ByteBuffer` slice of the read buffer (no copy, and no boxing on the way up the
/// pipeline, which `ByteBuffer` is spared).
struct InboundFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    private let decoder: FrameDecoder
    private var failed = false

    init(maximumFrameLength: Int) {
        self.decoder = FrameDecoder(maximumFrameLength: maximumFrameLength)
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard !failed else {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        switch decoder.decode(&buffer) {
        case .frame(let frame):
            context.fireChannelRead(wrapInboundOut(frame))
            return .continue
        case .needMoreData:
            return .needMoreData
        case .tooLarge(let length):
            failed = true
            buffer.moveReaderIndex(to: buffer.writerIndex)
            context.fireErrorCaught(FrameTooLarge(length: length))
            return .needMoreData
        }
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A partial frame at EOF is dropped: its sender has gone and there is no one to answer.
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}
