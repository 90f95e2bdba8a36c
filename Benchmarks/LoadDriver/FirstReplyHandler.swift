import NIOCore

/// Sends one request as soon as the connection is up and reports when the first reply to it
/// has arrived: the cold-start probe, and the write that prepares a `get` run. The same
/// request bytes and reply check as a load run.
final class FirstReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: ByteBuffer
    private var scanner: ReplyScanner
    private var received: ByteBuffer?
    private let promise: EventLoopPromise<NIODeadline>

    /// - Parameter promise: succeeded with the time the reply arrived.
    init(workload: Workload, promise: EventLoopPromise<NIODeadline>) {
        self.request = workload.request
        self.scanner = workload.makeReplyScanner()
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = NIODeadline.now()
        var incoming = unwrapInboundIn(data)
        var buffer = received.take() ?? ByteBuffer()
        buffer.writeBuffer(&incoming)
        while true {
            switch scanner.next(&buffer) {
            case .reply:
                promise.succeed(now)
                context.close(promise: nil)
                return
            case .unsolicited:
                continue
            case .needMoreData:
                received = buffer
                return
            case .failure(let detail):
                promise.fail(LoadError.badReply(detail))
                context.close(promise: nil)
                return
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(LoadError.connectionClosed(repliesReceived: 0))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
