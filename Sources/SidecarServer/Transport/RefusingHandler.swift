import NIOCore
import SidecarProtocol

/// Answers a connection the daemon will not serve with one error frame (`id: null`), then
/// closes it. Used for the connection limit (-32002) and for a peer that is not allowed (-32007).
final class RefusingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let error: RPCError
    private var sent = false

    init(error: RPCError) {
        self.error = error
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        refuse(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Whatever the peer sent is not read: it is about to be disconnected.
    }

    private func refuse(context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        var buffer = context.channel.allocator.buffer(capacity: 256)
        Frame.write(RPCResponse(id: .null, error: error), into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        context.closeAfterFlush()
    }
}
