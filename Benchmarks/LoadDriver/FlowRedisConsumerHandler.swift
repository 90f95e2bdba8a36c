import NIOCore

/// A consumer of the Redis reference of an end-to-end run: a plain list queue, not durable.
/// Keeps `depth` `BRPOP <key> 1` in flight (one more for each reply) and reports each popped
/// value as one finished task to the ``FlowCoordinator``. A pop that times out (`*-1`, the list
/// stayed empty for a second) is sent again.
///
/// Every reply is compared with the one expected, byte for byte (the key and the value the
/// producer pushed), like the driver's other Redis replies.
final class FlowRedisConsumerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private static let timedOut = ByteBuffer(string: "*-1\r\n")

    private let coordinator: FlowCoordinator
    private let depth: Int
    private let requests: ByteBuffer
    private let requestLength: Int
    private let popped: ByteBuffer
    /// Replies read since the last send; answered together when the read completes.
    private var unanswered = 0
    private var finished = 0
    private var isRunning = false
    private var partial: ByteBuffer?
    private var context: ChannelHandlerContext?

    /// - Parameter value: what the producer pushes (every pop must return it).
    init(coordinator: FlowCoordinator, key: String, value: String, depth: Int) {
        self.coordinator = coordinator
        self.depth = depth
        let request = "*3\r\n$5\r\nBRPOP\r\n$\(key.utf8.count)\r\n\(key)\r\n$1\r\n1\r\n"
        requestLength = request.utf8.count
        requests = ByteBuffer(string: String(repeating: request, count: depth))
        popped = ByteBuffer(string: "*2\r\n$\(key.utf8.count)\r\n\(key)\r\n$\(value.utf8.count)\r\n\(value)\r\n")
    }

    /// Sends the first `depth` pops. Must be called on the channel's event loop.
    func start() {
        guard let context, !isRunning else { return }
        isRunning = true
        send(depth, context: context)
    }

    private func send(_ count: Int, context: ChannelHandlerContext) {
        guard let slice = requests.getSlice(at: requests.readerIndex, length: count * requestLength) else {
            fail(LoadError.badReply("more replies than BRPOPs"), context: context)
            return
        }
        context.writeAndFlush(wrapOutboundOut(slice), promise: nil)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard isRunning else { return }
        var buffer = unwrapInboundIn(data).appended(to: &partial)
        while buffer.readableBytes > 0 {
            if let consumed = Self.match(popped, at: &buffer) {
                guard consumed else { break }
                finished += 1
            } else if let consumed = Self.match(Self.timedOut, at: &buffer) {
                guard consumed else { break }
            } else {
                let shown = buffer.readString(length: min(buffer.readableBytes, 200)) ?? ""
                fail(LoadError.badReply("an unexpected reply to BRPOP: \(shown)"), context: context)
                return
            }
            unanswered += 1
        }
        if buffer.readableBytes > 0 { partial = buffer }
    }

    /// Whether `buffer` starts with `expected`: `true` (consumed), `false` (it may, once more
    /// bytes arrive) or `nil` (it does not).
    private static func match(_ expected: ByteBuffer, at buffer: inout ByteBuffer) -> Bool? {
        let available = min(buffer.readableBytes, expected.readableBytes)
        guard buffer.getSlice(at: buffer.readerIndex, length: available)
            == expected.getSlice(at: expected.readerIndex, length: available)
        else { return nil }
        guard available == expected.readableBytes else { return false }
        buffer.moveReaderIndex(forwardBy: available)
        return true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard isRunning else { return }
        if unanswered > 0 {
            let count = unanswered
            unanswered = 0
            send(count, context: context)
        }
        if finished > 0 {
            let count = finished
            finished = 0
            coordinator.didFinish(count)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if isRunning { coordinator.fail(LoadError.connectionClosed(repliesReceived: 0)) }
        isRunning = false
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(error, context: context)
    }

    private func fail(_ error: Error, context: ChannelHandlerContext) {
        isRunning = false
        coordinator.fail(error)
        context.close(promise: nil)
    }
}
