import NIOCore
import SidecarProtocol

/// Raised through the pipeline when a frame's length prefix is above the limit. The body is
/// not read, and nothing more is: the stream can no longer be trusted.
struct FrameTooLarge: Error {
    var length: UInt64
}

/// Cuts the byte stream at frame boundaries and passes on every complete frame that has
/// arrived, prefixes included, as one `ByteBuffer` slice of the read buffer: one pipeline
/// event per read rather than per frame, no copy, and no boxing on the way up the pipeline
/// (which `ByteBuffer` is spared). Each length prefix is checked against the limit as soon
/// as it arrives, before any of its body is buffered.
struct InboundFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    private let maximumFrameLength: Int
    private var failed = false

    init(maximumFrameLength: Int) {
        self.maximumFrameLength = maximumFrameLength
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard !failed else {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        var end = buffer.readerIndex
        while let length = buffer.getInteger(at: end, endianness: .big, as: UInt32.self) {
            guard Int(length) <= maximumFrameLength else {
                if end > buffer.readerIndex { break }  // pass on the frames before it first
                failed = true
                buffer.moveReaderIndex(to: buffer.writerIndex)
                context.fireErrorCaught(FrameTooLarge(length: UInt64(length)))
                return .needMoreData
            }
            let frameEnd = end + Frame.prefixLength + Int(length)
            guard frameEnd <= buffer.writerIndex else { break }
            end = frameEnd
        }
        guard end > buffer.readerIndex else { return .needMoreData }
        let frames = buffer.readSlice(length: end - buffer.readerIndex)!  // within the readable bytes, checked above
        context.fireChannelRead(wrapInboundOut(frames))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A partial frame at EOF is dropped: its sender has gone and there is no one to answer.
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}
