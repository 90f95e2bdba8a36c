import NIOCore
import SidecarProtocol

/// What the writer of a notification-latency run did.
struct WriterResult: Sendable {
    /// Writes sent inside the measured span (after the warm-up) and acknowledged.
    var measuredWrites: UInt64
    /// The stamp of the last write, which every subscriber must end on.
    var lastStamp: UInt64
}

/// The writer of a notification-latency run: one `state.set` of
/// ``NotificationSubscriberHandler/watchedPath`` at a time, each value `{"t": <now in
/// monotonic ns>}`, the next sent when the previous one is acknowledged (after its commit),
/// optionally no sooner than `interval` after the previous send.
final class NotificationWriterHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What a run is to do.
    struct Plan {
        /// Writes from this time on are counted.
        var measureFrom: NIODeadline
        /// No write is sent from this time on.
        var stopAt: NIODeadline
        /// Counted writes after which the run ends.
        var writes: UInt64
        /// The least time between two sends.
        var interval: TimeAmount
    }

    private enum State {
        case connected
        case running(Plan, EventLoopPromise<WriterResult>)
        case finished
    }

    /// The request up to the stamp's digits and after them; the frame length goes in front.
    private static let bodyPrefix = Array(
        #"{"jsonrpc":"2.0","id":\#(LoadTarget.sidecarRequestID),"method":"state.set","params":{"path":"\#(NotificationSubscriberHandler.watchedPath)","value":{"t":"#
            .utf8)
    private static let bodySuffix = Array("}}}".utf8)

    private var scanner = Workload(target: .sidecar, operation: .set).makeReplyScanner()
    private var state = State.connected
    private var measuredWrites: UInt64 = 0
    private var lastStamp: UInt64 = 0
    private var lastSend = NIODeadline.uptimeNanoseconds(0)
    private var outstanding = false
    private var partial: ByteBuffer?
    private var context: ChannelHandlerContext?

    /// Starts writing. Must be called on the channel's event loop.
    /// - Returns: what was written, once the plan's writes are done or its time is up.
    /// - Throws: ``LoadError/notStarted`` when the connection has already closed.
    func start(_ plan: Plan) throws(LoadError) -> EventLoopFuture<WriterResult> {
        guard let context, case .connected = state else { throw LoadError.notStarted }
        let promise = context.eventLoop.makePromise(of: WriterResult.self)
        state = .running(plan, promise)
        sendNext(context: context)
        return promise.futureResult
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .running = state else { return }
        var buffer = unwrapInboundIn(data).appended(to: &partial)
        while true {
            switch scanner.next(&buffer) {
            case .reply:
                guard outstanding else {
                    fail(LoadError.badReply("a reply while no state.set was outstanding"), context: context)
                    return
                }
                outstanding = false
                sendNext(context: context)
            case .unsolicited:
                continue
            case .needMoreData:
                if buffer.readableBytes > 0 { partial = buffer }
                return
            case .failure(let detail):
                fail(LoadError.badReply(detail), context: context)
                return
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .running(_, let promise) = state {
            promise.fail(LoadError.connectionClosed(repliesReceived: measuredWrites))
        }
        state = .finished
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(error, context: context)
    }

    // MARK: - Writing

    private func sendNext(context: ChannelHandlerContext) {
        guard case .running(let plan, let promise) = state else { return }
        let now = NIODeadline.now()
        if measuredWrites >= plan.writes || now >= plan.stopAt {
            state = .finished
            promise.succeed(WriterResult(measuredWrites: measuredWrites, lastStamp: lastStamp))
            return
        }
        let due = lastSend + plan.interval
        if lastSend.uptimeNanoseconds > 0, now < due {
            context.eventLoop.assumeIsolated().scheduleTask(deadline: due) { self.send(context: context) }
        } else {
            send(context: context)
        }
    }

    private func send(context: ChannelHandlerContext) {
        guard case .running(let plan, _) = state else { return }
        let now = NIODeadline.now()
        let stamp = now.uptimeNanoseconds
        let digits = String(stamp).utf8
        let bodyLength = Self.bodyPrefix.count + digits.count + Self.bodySuffix.count
        var buffer = context.channel.allocator.buffer(capacity: 4 + bodyLength)
        buffer.writeInteger(UInt32(bodyLength))
        buffer.writeBytes(Self.bodyPrefix)
        buffer.writeBytes(digits)
        buffer.writeBytes(Self.bodySuffix)
        lastSend = now
        lastStamp = stamp
        if now >= plan.measureFrom { measuredWrites += 1 }
        outstanding = true
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    private func fail(_ error: Error, context: ChannelHandlerContext) {
        if case .running(_, let promise) = state {
            promise.fail(error)
        }
        state = .finished
        context.close(promise: nil)
    }
}
