import NIOCore
import NIOPosix
import SidecarProtocol

/// A plain request–reply connection for the steps around a run, not the run itself: reading
/// `tasks.metrics`, waiting for the daemon's queue to empty, emptying a Redis list. Every reply
/// is decoded in full. Safe to call from any thread; on its event loop the calls run at once.
struct ControlConnection: Sendable {
    let channel: Channel
    let target: LoadTarget

    /// Connects to `path` on one event loop of `group`.
    static func connect(
        target: LoadTarget, path: String, group: EventLoopGroup, timeout: TimeAmount,
        connect: (ClientBootstrap) throws -> Channel
    ) throws -> ControlConnection {
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ControlHandler(target: target, eventLoop: channel.eventLoop))
                }
            }
        return ControlConnection(channel: try connect(bootstrap), target: target)
    }

    var eventLoop: EventLoop { channel.eventLoop }

    /// A JSON-RPC call to sidecard.
    /// - Returns: the result; an error reply fails the future with ``LoadError/badReply(_:)``.
    func call(_ method: String, _ params: JSONValue? = nil) -> EventLoopFuture<JSONValue> {
        onLoop { handler in handler.call(method, params) }
    }

    /// A Redis command.
    /// - Returns: the reply; an error reply fails the future with ``LoadError/badReply(_:)``.
    func command(_ arguments: [String]) -> EventLoopFuture<RESPValue> {
        onLoop { handler in handler.command(arguments) }
    }

    /// `tasks.metrics`, read.
    func taskMetrics() -> EventLoopFuture<TaskMetricsSnapshot> {
        call("tasks.metrics").flatMapThrowing { try TaskMetricsSnapshot(json: $0) }
    }

    /// Polls `tasks.metrics` every `interval` until the daemon has no task queued or running.
    /// Blocks the calling thread (never call it on the event loop).
    /// - Returns: the idle metrics and the time they were read.
    /// - Throws: ``LoadError/timedOut(seconds:)`` when the daemon is still busy after `timeout`.
    func waitUntilTasksIdle(timeout: TimeAmount, interval: TimeAmount = .milliseconds(10)) throws -> (TaskMetricsSnapshot, NIODeadline) {
        let deadline = NIODeadline.now() + timeout
        while true {
            let metrics = try taskMetrics().wait()
            let now = NIODeadline.now()
            if metrics.isIdle { return (metrics, now) }
            guard now < deadline else { throw LoadError.timedOut(seconds: Double(timeout.nanoseconds) / 1e9) }
            try eventLoop.scheduleTask(in: interval) {}.futureResult.wait()
        }
    }

    func close() {
        channel.close(promise: nil)
    }

    private func onLoop<T: Sendable>(_ body: @escaping @Sendable (ControlHandler) throws -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        let channel = self.channel
        let run: @Sendable () -> EventLoopFuture<T> = {
            do {
                return try body(try channel.pipeline.syncOperations.handler(type: ControlHandler.self))
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }
        if channel.eventLoop.inEventLoop { return run() }
        return channel.eventLoop.flatSubmit { run() }
    }
}

/// The handler of a ``ControlConnection``: JSON-RPC replies are matched by id, Redis replies
/// come in the order of the commands.
final class ControlHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let target: LoadTarget
    private let eventLoop: EventLoop
    private let decoder = FrameDecoder(maximumFrameLength: 64 << 20)
    private var nextID: Int64 = 1
    private var calls: [Int64: (method: String, promise: EventLoopPromise<JSONValue>)] = [:]
    private var commands = CircularBuffer<(name: String, promise: EventLoopPromise<RESPValue>)>()
    private var received: ByteBuffer?
    private var failure: LoadError?
    private var context: ChannelHandlerContext?

    init(target: LoadTarget, eventLoop: EventLoop) {
        self.target = target
        self.eventLoop = eventLoop
    }

    func call(_ method: String, _ params: JSONValue?) -> EventLoopFuture<JSONValue> {
        guard let context else { return eventLoop.makeFailedFuture(failure ?? LoadError.notStarted) }
        if let failure { return eventLoop.makeFailedFuture(failure) }
        let id = nextID
        nextID += 1
        let promise = context.eventLoop.makePromise(of: JSONValue.self)
        calls[id] = (method, promise)
        var buffer = context.channel.allocator.buffer(capacity: 256)
        Frame.write(RPCRequest(id: .int(id), method: method, params: params).jsonValue, into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        return promise.futureResult
    }

    func command(_ arguments: [String]) -> EventLoopFuture<RESPValue> {
        guard let context else { return eventLoop.makeFailedFuture(failure ?? LoadError.notStarted) }
        if let failure { return eventLoop.makeFailedFuture(failure) }
        let promise = context.eventLoop.makePromise(of: RESPValue.self)
        commands.append((arguments.first ?? "", promise))
        var buffer = context.channel.allocator.buffer(capacity: 256)
        buffer.writeString("*\(arguments.count)\r\n")
        for argument in arguments {
            buffer.writeString("$\(argument.utf8.count)\r\n\(argument)\r\n")
        }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
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
        var buffer = unwrapInboundIn(data).appended(to: &received)
        do {
            switch target {
            case .sidecar: try readFrames(&buffer)
            case .redis: try readReplies(&buffer)
            }
        } catch {
            fail(error, context: context)
            return
        }
        if buffer.readableBytes > 0 {
            buffer.discardReadBytes()
            received = buffer
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let reason = failure ?? LoadError.connectionClosed(repliesReceived: 0)
        failure = reason
        failAll(reason)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(LoadError.badReply("a connection error: \(error)"), context: context)
    }

    // MARK: - Replies

    private func readFrames(_ buffer: inout ByteBuffer) throws(LoadError) {
        while true {
            switch decoder.decode(&buffer) {
            case .needMoreData: return
            case .tooLarge(let length): throw LoadError.badReply("a reply frame of \(length) bytes")
            case .frame(let frame): try handle(frame)
            }
        }
    }

    private func handle(_ frame: ByteBuffer) throws(LoadError) {
        let message: RPCOutbound
        do {
            message = try RPCOutbound.decode(json: try JSONParser.parse(frame))
        } catch {
            throw LoadError.badReply("an unreadable frame (\(error)): \(String(buffer: frame))")
        }
        guard case .response(let response) = message else { return }
        guard case .int(let id) = response.id, let call = calls.removeValue(forKey: id) else {
            throw LoadError.badReply("a reply to no request of this connection: \(String(buffer: frame))")
        }
        switch response.outcome {
        case .success(let result): call.promise.succeed(result)
        case .failure(let error): call.promise.fail(LoadError.badReply("an error reply to \(call.method): \(error.code) \(error.message)"))
        }
    }

    private func readReplies(_ buffer: inout ByteBuffer) throws(LoadError) {
        while let reply = try RESPValue.read(&buffer) {
            guard let command = commands.popFirst() else { throw LoadError.badReply("a Redis reply to no command") }
            if case .error(let message) = reply {
                command.promise.fail(LoadError.badReply("an error reply to \(command.name): \(message)"))
            } else {
                command.promise.succeed(reply)
            }
        }
    }

    private func fail(_ error: Error, context: ChannelHandlerContext) {
        let reason = error as? LoadError ?? LoadError.badReply("\(error)")
        if failure == nil { failure = reason }
        failAll(reason)
        context.close(promise: nil)
    }

    private func failAll(_ error: LoadError) {
        let pendingCalls = calls.values
        calls = [:]
        for call in pendingCalls { call.promise.fail(error) }
        while let command = commands.popFirst() { command.promise.fail(error) }
    }
}
