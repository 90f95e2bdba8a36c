import NIOCore
import SidecarProtocol

/// Splits the daemon's byte stream into frames (the JSON body of each, without its prefix).
struct ClientFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    private let decoder: FrameDecoder

    init(maximumFrameLength: Int) {
        self.decoder = FrameDecoder(maximumFrameLength: maximumFrameLength)
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        switch decoder.decode(&buffer) {
        case .frame(let frame):
            context.fireChannelRead(Self.wrapInboundOut(frame))
            return .continue
        case .needMoreData:
            return .needMoreData
        case .tooLarge(let length):
            throw SidecarClientError.protocolViolation(
                "a frame of \(length) bytes, above the client's limit of \(decoder.maximumFrameLength) bytes "
                    + "(Configuration.maximumFrameLength)"
            )
        }
    }

    mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        // A partial frame at EOF is dropped: the connection is gone, and the calls that waited
        // for it fail with connectionClosed.
        try decode(context: context, buffer: &buffer)
    }
}
