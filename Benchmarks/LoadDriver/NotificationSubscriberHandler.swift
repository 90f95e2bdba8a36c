import Histogram
import NIOCore
import SidecarProtocol

/// What one subscriber measured.
struct SubscriberResult: Sendable {
    /// `state.changed` notifications received for writes made inside the measured span.
    var deliveries: UInt64
    /// Their change-to-notification latency (write sent → notification read), in nanoseconds.
    var latencyNanoseconds: Histogram<UInt64>
    /// The newest write stamp received, counted or not.
    var newestStamp: UInt64
}

/// One subscriber of the notification-latency run: subscribes to ``watchedPath`` and, for
/// every `state.changed` it reads, records now − the send time the writer put in the value
/// (`{"t": <monotonic nanoseconds>}`; writer and subscribers share the process's clock).
///
/// The read time is taken once per read, before any frame of it is looked at, so the
/// driver's own parsing is not counted. The stamp is taken from the frame by a byte search
/// (`"state.changed"`, then `{"t":<digits>}`); a frame that does not look like that is
/// decoded in full.
final class NotificationSubscriberHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The state path the run writes and watches.
    static let watchedPath = "/bench/watched"

    private static let method = Array("\"state.changed\"".utf8)
    private static let stampStart = Array("{\"t\":".utf8)

    private let decoder = FrameDecoder(maximumFrameLength: 1 << 20)
    private var subscribed: EventLoopPromise<Void>?
    private var isSubscribed = false
    /// Stamps from this one on are counted (the end of the warm-up).
    private var countFrom: UInt64 = 0
    private var histogram = LatencyHistogram.make()
    private var deliveries: UInt64 = 0
    private var newestStamp: UInt64 = 0
    private var awaited: (stamp: UInt64, promise: EventLoopPromise<Void>)?
    private var failure: Error?
    private var partial: ByteBuffer?
    private var context: ChannelHandlerContext?

    // MARK: - Driving the run (on the channel's event loop)

    /// Sends `state.subscribe` for ``watchedPath`` (without an initial value).
    /// - Parameter countingFrom: the monotonic time (ns) from which writes are counted.
    /// - Returns: a future that succeeds once the server has confirmed the subscription.
    /// - Throws: ``LoadError/notStarted`` when the connection has already closed.
    func subscribe(countingFrom: UInt64) throws(LoadError) -> EventLoopFuture<Void> {
        guard let context, subscribed == nil, !isSubscribed, failure == nil else { throw LoadError.notStarted }
        countFrom = countingFrom
        let promise = context.eventLoop.makePromise(of: Void.self)
        subscribed = promise
        let request = RPCRequest(
            id: .int(LoadTarget.sidecarRequestID), method: "state.subscribe",
            params: ["selector": .string(Self.watchedPath), "fireImmediately": false])
        var buffer = context.channel.allocator.buffer(capacity: 128)
        Frame.write(request.jsonValue, into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        return promise.futureResult
    }

    /// - Returns: a future that succeeds once a notification with a stamp of at least `stamp`
    ///   has arrived (the writer's last write: coalescing may skip values, never the last).
    func awaitStamp(_ stamp: UInt64, on eventLoop: EventLoop) -> EventLoopFuture<Void> {
        if let failure { return eventLoop.makeFailedFuture(failure) }
        if newestStamp >= stamp { return eventLoop.makeSucceededVoidFuture() }
        let promise = eventLoop.makePromise(of: Void.self)
        awaited = (stamp, promise)
        return promise.futureResult
    }

    /// What the subscriber has measured so far.
    var result: SubscriberResult {
        SubscriberResult(deliveries: deliveries, latencyNanoseconds: histogram, newestStamp: newestStamp)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = NIODeadline.now().uptimeNanoseconds
        guard failure == nil else { return }
        var buffer = unwrapInboundIn(data).appended(to: &partial)
        while true {
            switch decoder.decode(&buffer) {
            case .needMoreData:
                if buffer.readableBytes > 0 { partial = buffer }
                return
            case .tooLarge(let length):
                fail(LoadError.badReply("a frame of \(length) bytes to a subscriber"), context: context)
                return
            case .frame(let frame):
                do {
                    try handle(frame, readAt: now)
                } catch {
                    fail(error, context: context)
                    return
                }
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if failure == nil { failure = LoadError.connectionClosed(repliesReceived: deliveries) }
        completeWaiters()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(error, context: context)
    }

    // MARK: - Frames

    private func handle(_ frame: ByteBuffer, readAt now: UInt64) throws(LoadError) {
        if isSubscribed, let stamp = Self.quickStamp(in: frame) {
            try record(stamp, readAt: now)
            return
        }
        let message: RPCOutbound
        do {
            message = try RPCOutbound.decode(json: try JSONParser.parse(frame))
        } catch {
            throw LoadError.badReply("an unreadable frame to a subscriber (\(error)): \(String(buffer: frame))")
        }
        switch message {
        case .notification(let notification) where notification.method == "state.changed":
            guard isSubscribed else { throw LoadError.badReply("state.changed before the subscription was confirmed") }
            guard let stamp = notification.params?["value"]?["t"]?.intValue, stamp >= 0 else {
                throw LoadError.badReply("a state.changed without the writer's stamp: \(String(buffer: frame))")
            }
            try record(UInt64(stamp), readAt: now)
        case .notification:
            return
        case .response(let response):
            guard !isSubscribed, response.id == .int(LoadTarget.sidecarRequestID) else {
                throw LoadError.badReply("an unexpected response to a subscriber: \(String(buffer: frame))")
            }
            switch response.outcome {
            case .failure(let error):
                throw LoadError.badReply("an error reply to state.subscribe: \(error.code) \(error.message)")
            case .success(let result):
                guard result["subscription"]?.intValue != nil else {
                    throw LoadError.badReply("a state.subscribe result without \"subscription\": \(JSONWriter.string(result))")
                }
                isSubscribed = true
                subscribed?.succeed()
                subscribed = nil
            }
        case .batch:
            throw LoadError.badReply("a batch to a subscriber: \(String(buffer: frame))")
        }
    }

    private func record(_ stamp: UInt64, readAt now: UInt64) throws(LoadError) {
        guard stamp > newestStamp else {
            throw LoadError.badReply("a state.changed out of order (stamp \(stamp) after \(newestStamp))")
        }
        newestStamp = stamp
        if stamp >= countFrom {
            deliveries += 1
            histogram.record(now > stamp ? now - stamp : 0)
        }
        if let awaited, stamp >= awaited.stamp {
            self.awaited = nil
            awaited.promise.succeed()
        }
    }

    /// The stamp of a `state.changed` written compactly, or `nil` for anything else.
    private static func quickStamp(in frame: ByteBuffer) -> UInt64? {
        frame.withUnsafeReadableBytes { bytes -> UInt64? in
            guard let afterMethod = search(method, in: bytes, from: 0),
                var index = search(stampStart, in: bytes, from: afterMethod)
            else { return nil }
            var stamp: UInt64 = 0
            var digits = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9"), digits < 19 {
                stamp = stamp * 10 + UInt64(bytes[index] - UInt8(ascii: "0"))
                digits += 1
                index += 1
            }
            guard digits > 0, index < bytes.count, bytes[index] == UInt8(ascii: "}") else { return nil }
            return stamp
        }
    }

    /// The index just past the first occurrence of `needle` at or after `start`.
    private static func search(_ needle: [UInt8], in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard let first = needle.first, bytes.count >= needle.count else { return nil }
        var index = start
        while index <= bytes.count - needle.count {
            if bytes[index] == first {
                var matched = 1
                while matched < needle.count, bytes[index + matched] == needle[matched] { matched += 1 }
                if matched == needle.count { return index + matched }
            }
            index += 1
        }
        return nil
    }

    // MARK: - Failing

    private func fail(_ error: Error, context: ChannelHandlerContext) {
        if failure == nil { failure = error }
        completeWaiters()
        context.close(promise: nil)
    }

    private func completeWaiters() {
        guard let failure else { return }
        subscribed?.fail(failure)
        subscribed = nil
        if let awaited {
            self.awaited = nil
            awaited.promise.fail(failure)
        }
    }
}
