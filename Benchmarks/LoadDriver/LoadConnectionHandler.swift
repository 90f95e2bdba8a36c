import Histogram
import NIOCore

/// The span of time whose replies are counted, on the monotonic clock of `NIODeadline`.
struct MeasurementWindow: Sendable {
    var start: NIODeadline
    var end: NIODeadline
}

/// What one connection measured inside the window.
struct ConnectionResult: Sendable {
    /// Replies received inside the window.
    var replies: UInt64
    /// Send-to-reply latency of those replies, in nanoseconds.
    var latencyNanoseconds: Histogram<UInt64>
}

/// Histograms with the same parameters everywhere, so that they can be merged.
enum LatencyHistogram {
    /// Up to a minute, at three significant digits, from one nanosecond.
    static func make() -> Histogram<UInt64> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    }
}

/// Keeps exactly `depth` requests in flight on one connection: sends `depth` when the run
/// starts, then one more for each reply, and records each reply's latency (its request's send
/// time is the oldest in the FIFO, since replies on a connection come back in order).
///
/// Per reply the work is the same for both targets: a byte comparison, a FIFO pop, a
/// histogram record; per read, one write of pre-encoded bytes and one flush.
final class LoadConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case connected
        case running(MeasurementWindow, EventLoopPromise<ConnectionResult>)
        case finished
    }

    private let requests: ByteBuffer
    private let requestLength: Int
    private let depth: Int
    private var scanner: ReplyScanner
    private var sendTimes: SendTimestampQueue
    private var histogram = LatencyHistogram.make()
    private var replies: UInt64 = 0
    /// Replies read since the last send; answered together when the read completes.
    private var unanswered = 0
    /// Bytes of a reply that has not fully arrived yet.
    private var partial: ByteBuffer?
    private var state = State.connected
    private var context: ChannelHandlerContext?

    init(workload: Workload, depth: Int) {
        self.requestLength = workload.request.readableBytes
        self.requests = workload.requests(count: depth)
        self.depth = depth
        self.scanner = workload.makeReplyScanner()
        self.sendTimes = SendTimestampQueue(capacity: depth)
    }

    /// Starts the run: sends `depth` requests and stops at `window.end`.
    /// Must be called on the channel's event loop.
    /// - Returns: the connection's measurements, once the window has ended.
    /// - Throws: ``LoadError/notStarted`` when the connection has already closed.
    func start(window: MeasurementWindow) throws(LoadError) -> EventLoopFuture<ConnectionResult> {
        guard let context, case .connected = state else { throw LoadError.notStarted }
        let promise = context.eventLoop.makePromise(of: ConnectionResult.self)
        state = .running(window, promise)
        context.eventLoop.assumeIsolated().scheduleTask(deadline: window.end) { self.finish() }
        send(depth, context: context)
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
        guard case .running(let window, _) = state else { return }
        var buffer = unwrapInboundIn(data).appended(to: &partial)
        let now = NIODeadline.now()
        let counted = now >= window.start && now < window.end
        let receivedAt = now.uptimeNanoseconds
        scanning: while true {
            switch scanner.next(&buffer) {
            case .reply:
                guard let sentAt = sendTimes.pop() else {
                    fail(LoadError.badReply("a reply while no request was outstanding"), context: context)
                    return
                }
                if counted {
                    replies += 1
                    histogram.record(receivedAt &- sentAt)
                }
                unanswered += 1
            case .unsolicited:
                continue
            case .needMoreData:
                break scanning
            case .failure(let detail):
                fail(LoadError.badReply(detail), context: context)
                return
            }
        }
        if buffer.readableBytes > 0 { partial = buffer }
        if now >= window.end { finish() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard case .running = state, unanswered > 0 else { return }
        let count = unanswered
        unanswered = 0
        send(count, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .running(_, let promise):
            state = .finished
            promise.fail(LoadError.connectionClosed(repliesReceived: replies))
        case .connected:
            state = .finished
        case .finished:
            break
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(error, context: context)
    }

    // MARK: - Sending and stopping

    private func send(_ count: Int, context: ChannelHandlerContext) {
        let now = NIODeadline.now().uptimeNanoseconds
        for _ in 0..<count {
            guard sendTimes.push(now) else {
                fail(LoadError.badReply("more replies than requests"), context: context)
                return
            }
        }
        guard let slice = requests.getSlice(at: requests.readerIndex, length: count * requestLength) else {
            fail(LoadError.badReply("more replies than requests"), context: context)
            return
        }
        context.writeAndFlush(wrapOutboundOut(slice), promise: nil)
    }

    private func finish() {
        guard case .running(_, let promise) = state else { return }
        state = .finished
        promise.succeed(ConnectionResult(replies: replies, latencyNanoseconds: histogram))
        context?.close(promise: nil)
    }

    private func fail(_ error: Error, context: ChannelHandlerContext) {
        if case .running(_, let promise) = state {
            promise.fail(error)
        }
        state = .finished
        context.close(promise: nil)
    }
}
