import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `nio-floor SOCKET [REPLY]`: the least a SwiftNIO server can do per request, as a reference
/// for `make bench`. It serves sidecard's framing (a 4-byte big-endian length, then the body) on
/// one event loop, like sidecard, but reads nothing of a request: it counts the complete frames
/// that arrive and answers each with the same canned frame (by default sidecar.ping's reply to
/// id 1, which is what `sidecar-loadgen --operation ping` sends), one write and flush per read
/// burst. Whatever sidecard does per request on top of this is its own cost; what this server
/// reaches against Redis is the ceiling of any SwiftNIO server on the machine.
final class CannedReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let reply: ByteBuffer
    /// The start of a frame whose bytes have not all arrived.
    private var partial: ByteBuffer?
    /// Frames read since the last flush.
    private var unanswered = 0

    init(reply: ByteBuffer) {
        self.reply = reply
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if var earlier = partial {
            earlier.writeBuffer(&buffer)
            buffer = earlier
            partial = nil
        }
        while let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
            buffer.readableBytes >= 4 + Int(length)
        {
            buffer.moveReaderIndex(forwardBy: 4 + Int(length))
            unanswered += 1
        }
        if buffer.readableBytes > 0 { partial = buffer }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard unanswered > 0 else { return }
        var output = context.channel.allocator.buffer(capacity: reply.readableBytes * unanswered)
        for _ in 0..<unanswered { output.writeImmutableBuffer(reply) }
        unanswered = 0
        context.writeAndFlush(wrapOutboundOut(output), promise: nil)
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 2 || arguments.count == 3 else {
    let usage = "usage: nio-floor SOCKET [REPLY_JSON]\n"
    _ = usage.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    exit(2)
}
let body = arguments.count == 3 ? arguments[2] : #"{"jsonrpc":"2.0","id":1,"result":"pong"}"#
var frame = ByteBuffer()
frame.writeInteger(UInt32(body.utf8.count))
frame.writeString(body)
let reply = frame

let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let channel = try ServerBootstrap(group: group)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(CannedReplyHandler(reply: reply))
        }
    }
    .bind(unixDomainSocketPath: arguments[1], cleanupExistingSocketFile: true)
    .wait()
try channel.closeFuture.wait()
