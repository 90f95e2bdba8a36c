import NIOCore
import SidecarProtocol

/// What the framing layer hands to the RPC layer.
enum InboundFrame {
    /// One frame's body (possibly empty), a slice of the read buffer.
    case frame(ByteBuffer)
    /// A length prefix above the limit: the body was not read, and nothing more will be.
    case tooLarge(length: UInt64)
}

/// Splits the byte stream into frames with ``FrameDecoder``. After a frame that is too
/// large it discards everything, since the stream can no longer be trusted.
struct InboundFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = InboundFrame

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
            context.fireChannelRead(wrapInboundOut(.frame(frame)))
            return .continue
        case .needMoreData:
            return .needMoreData
        case .tooLarge(let length):
            failed = true
            buffer.moveReaderIndex(to: buffer.writerIndex)
            context.fireChannelRead(wrapInboundOut(.tooLarge(length: length)))
            return .needMoreData
        }
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A partial frame at EOF is dropped: its sender has gone and there is no one to answer.
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}
