import Logging
import NIOCore
import NIOExtras
import SidecarProtocol

/// Serves JSON-RPC on one connection: decodes each frame once, dispatches it through the
/// router, and writes the encoded responses in batches (one flush per read burst).
///
/// It lives on the connection's event loop and owns all of the connection's mutable state.
/// Waiting handlers run as tasks; their responses come back to the loop and are written
/// whenever they are ready, so they never hold up the requests behind them.
final class RPCConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let router: MethodRouter
    private let connection: ConnectionInfo
    private let shard: MetricsShard
    private let serverMetrics: ServerMetrics
    private let maximumOutboundBytes: Int
    private let maximumFrameLength: Int
    private let shutdown: ShutdownSignal
    private let logger: Logger

    private var context: ChannelHandlerContext?
    private var handle: ConnectionHandle?
    /// Frames encoded during the current read burst (flushed in `channelReadComplete`), and
    /// notifications held for a peer that is not reading.
    private var outbox: ConnectionOutbox
    /// The buffer handed to the channel. Once the socket has taken its bytes the channel lets
    /// go of it, so the next flush reuses its storage instead of allocating.
    private var outputBuffer = ByteBuffer()
    /// The channel's allocator, looked up once: through `context.channel` it cost a retain
    /// and a release of the channel for every read.
    private var allocator = ByteBufferAllocator()
    private var isReading = false
    private var lastRoute: (method: String, route: MethodRouter.Route)?
    /// Cuts the inbound bytes into frames.
    private var frames: InboundFrameAssembler
    /// When the request being handled began: one clock read per request, not two.
    private var clockMark = NIODeadline.now()
    /// Waiting handlers started and not yet answered.
    private var waitingRequests = 0
    /// Whether reading is paused (the channel's `autoRead` is off): the peer is not reading
    /// what we send (back-pressure), or no new request is to be started.
    private var readingPaused = false
    /// No new request is started: the daemon is shutting down, or the peer has finished
    /// sending (half-close). The connection closes once the waiting requests are answered.
    private var isWindingDown = false

    init(
        router: MethodRouter,
        connection: ConnectionInfo,
        shard: MetricsShard,
        serverMetrics: ServerMetrics,
        maximumOutboundBytes: Int,
        maximumFrameLength: Int,
        shutdown: ShutdownSignal,
        logger: Logger
    ) {
        self.router = router
        self.connection = connection
        self.shard = shard
        self.serverMetrics = serverMetrics
        self.maximumOutboundBytes = maximumOutboundBytes
        self.maximumFrameLength = maximumFrameLength
        self.shutdown = shutdown
        self.logger = logger
        self.frames = InboundFrameAssembler(maximumFrameLength: maximumFrameLength)
        self.outbox = ConnectionOutbox(maximumHeldBytes: maximumOutboundBytes)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.handle = ConnectionHandle(info: connection, notifier: ConnectionNotifier(handler: self, eventLoop: context.eventLoop))
        allocator = context.channel.allocator
        outputBuffer = allocator.buffer(capacity: 4096)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        serverMetrics.requestsInFlight.wrappingDecrement(by: waitingRequests, ordering: .relaxed)
        waitingRequests = 0
        frames.discard()
        outbox.discard()
        handle?.closed()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Frames that arrive once shutdown has begun are not started (the client sees the
        // connection close without their answers), even before this connection's quiesce event.
        guard !isWindingDown, !shutdown.isTriggered else { return }
        isReading = true
        let bytes = unwrapInboundIn(data)
        shard.bytesIn += bytes.readableBytes
        clockMark = .now()
        frames.append(bytes)
        do {
            while let frame = try frames.next(allocator: allocator) { handle(frame: frame) }
        } catch {
            refuseOversizedFrame(length: error.length, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        isReading = false
        flushPendingOutput(context: context)
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { sendHeldNotifications(context: context) }
        updateReading(context: context)
        context.fireChannelWritabilityChanged()
    }

    /// Back-pressure: a peer that does not read its responses gets no more requests read,
    /// and nothing more is read once no new request is to be started.
    ///
    /// Reading is paused through the channel's `autoRead` rather than by holding back
    /// `read` events in this handler: that keeps the handler out of the outbound path, which
    /// every read of every connection would otherwise pass through.
    private func updateReading(context: ChannelHandlerContext) {
        let pause = isWindingDown || !context.channel.isWritable
        guard pause != readingPaused, let options = context.channel.syncOptions else { return }
        readingPaused = pause
        try? options.setOption(ChannelOptions.autoRead, value: !pause)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent:
            // Shutdown: requests already started finish; frames that arrive from now on are not started.
            isWindingDown = true
            updateReading(context: context)
            closeIfWoundDown(context: context)
            return
        case ChannelEvent.inputClosed:
            // The peer has sent all it will (`nc -N`, a one-shot script): answer what it sent, then close.
            isWindingDown = true
            updateReading(context: context)
            closeIfWoundDown(context: context)
            return
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error, closing", metadata: ["connection": "\(connection.id)", "error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Requests

    private func handle(frame: ByteBuffer) {
        // Frames are handled one after another, so each starts when the one before it ended.
        let started = clockMark
        switch RPCInbound.decode(frame: frame) {
        case .failure(let error):
            shard.recordProtocolError(error.code)
            emit(RPCResponse(id: .null, error: error))
        case .single(let entry):
            if let answer = dispatch(entry, started: started, completion: { [self] answer in emit(answer) }) {
                emit(answer)
            }  // else a waiting handler answers later
        case .batch(let entries):
            handleBatch(entries, started: started)
        }
    }

    private func handleBatch(_ entries: [RPCInboundEntry], started: NIODeadline) {
        let batch = BatchReply(count: entries.count, maximumBytes: maximumOutboundBytes)
        for (index, entry) in entries.enumerated() {
            let immediate = dispatch(entry, started: started, completion: { [self] answer in
                if batch.fill(index, with: answer.decoded) { emitBatch(batch) }
            })
            if let immediate, batch.fill(index, with: immediate.decoded) { emitBatch(batch) }
        }
    }

    private func emitBatch(_ batch: BatchReply) {
        let responses = batch.responses
        // A batch of notifications only gets no reply at all (JSON-RPC 2.0 section 6).
        guard !responses.isEmpty else { return }
        outbox.append(batch: responses)
        flushUnlessReading()
    }

    /// What an entry is answered with: at once from ``dispatch(_:started:completion:)``, or
    /// later through its completion.
    private enum Answer {
        /// The response, or `nil` for a notification.
        case response(RPCResponse?)
        /// A result already written as JSON text.
        case encoded(id: RPCID, result: EncodedJSON)

        /// The response carrying `value` as the result of request `id`.
        static func result(_ id: RPCID, _ value: JSONValue) -> Answer {
            .response(RPCResponse(id: id, result: value))
        }

        /// As a response value, for a batch reply (which is assembled from values).
        var decoded: RPCResponse? {
            switch self {
            case .response(let response):
                return response
            case .encoded(let id, let result):
                do {
                    return RPCResponse(id: id, result: try result.decoded())
                } catch {
                    return RPCResponse(id: id, error: .internalError("a result could not be read back: \(error)"))
                }
            }
        }
    }

    /// Runs one entry. An answer known at once is returned; otherwise (`nil`) the handler
    /// calls `completion` on the event loop when done (with `.response(nil)` for a notification).
    private func dispatch(
        _ entry: consuming RPCInboundEntry,
        started: NIODeadline,
        completion: @escaping (Answer) -> Void
    ) -> Answer? {
        let request: RPCRequest
        switch consume entry {
        case .invalid(let id, let error):
            shard.recordProtocolError(error.code)
            return .response(RPCResponse(id: id, error: error))
        case .request(let valid):
            request = valid
        }
        guard let route = route(for: request.method) else {
            let error = RPCError.methodNotFound(request.method)
            record(request, routeIndex: nil, started: started, error: error.code)
            return .response(request.id.map { RPCResponse(id: $0, error: error) })
        }
        guard let handle else { return .response(nil) }  // not in a pipeline: nobody to answer
        let requestContext = RequestContext(method: request.method, params: Params(request.params), connection: handle)
        switch route.handler {
        case .immediate(let run):
            return .response(runImmediately(run, request: request, requestContext: requestContext, routeIndex: route.index, started: started))
        case .waiting(let run):
            guard let context else { return .response(nil) }  // closed: nobody to answer
            startWaiting(
                request,
                routeIndex: route.index,
                run: run,
                requestContext: requestContext,
                started: started,
                context: context,
                completion: completion
            )
            return nil
        case .onLoop(let run):
            let reply: LoopReply
            do {
                reply = try run(requestContext)
            } catch {
                let failure = rpcError(from: error, method: request.method)
                record(request, routeIndex: route.index, started: started, error: failure.code)
                return .response(request.id.map { RPCResponse(id: $0, error: failure) })
            }
            switch reply {
            case .now(let value):
                record(request, routeIndex: route.index, started: started, error: nil)
                return .response(request.id.map { RPCResponse(id: $0, result: value) })
            case .encoded(let result):
                record(request, routeIndex: route.index, started: started, error: nil)
                guard let id = request.id else { return .response(nil) }
                return .encoded(id: id, result: result)
            case .later(let future):
                guard let context else { return .response(nil) }  // closed: nobody to answer
                awaitReply(future, request: request, routeIndex: route.index, started: started, context: context,
                           completion: completion, success: Answer.result)
                return nil
            case .encodedAfter(let done, let result):
                guard let context else { return .response(nil) }  // closed: nobody to answer
                awaitReply(done, request: request, routeIndex: route.index, started: started, context: context, completion: completion) { id, _ in
                    .encoded(id: id, result: result)
                }
                return nil
            }
        }
    }

    /// Runs a handler that answers from memory, on the loop, and records it.
    private func runImmediately(
        _ run: (RequestContext) throws -> JSONValue,
        request: RPCRequest,
        requestContext: RequestContext,
        routeIndex: Int,
        started: NIODeadline
    ) -> RPCResponse? {
        let outcome: Result<JSONValue, RPCError>
        do {
            outcome = .success(try run(requestContext))
        } catch {
            outcome = .failure(rpcError(from: error, method: request.method))
        }
        record(request, routeIndex: routeIndex, started: started, error: outcome.errorCode)
        return request.id.map { RPCResponse(id: $0, outcome: outcome) }
    }

    /// The route for `method`, remembering the last one: a connection tends to call the same
    /// method again and again, and comparing a short name is cheaper than hashing it.
    private func route(for method: String) -> MethodRouter.Route? {
        if let lastRoute, lastRoute.method == method { return lastRoute.route }
        guard let route = router.route(for: method) else { return nil }
        lastRoute = (method, route)
        return route
    }

    private func startWaiting(
        _ request: RPCRequest,
        routeIndex: Int,
        run: @escaping @Sendable (RequestContext) async throws -> JSONValue,
        requestContext: RequestContext,
        started: NIODeadline,
        context: ChannelHandlerContext,
        completion: @escaping (Answer) -> Void
    ) {
        let promise = context.eventLoop.makePromise(of: JSONValue.self)
        promise.completeWithTask { try await run(requestContext) }
        awaitReply(promise.futureResult, request: request, routeIndex: routeIndex, started: started, context: context,
                   completion: completion, success: Answer.result)
    }

    /// Answers `request` once `future` completes, with `success` of its value or with its
    /// error; meanwhile the request counts as in flight (a graceful close waits for it).
    private func awaitReply<Value: Sendable>(
        _ future: EventLoopFuture<Value>,
        request: RPCRequest,
        routeIndex: Int,
        started: NIODeadline,
        context: ChannelHandlerContext,
        completion: @escaping (Answer) -> Void,
        success: @escaping (RPCID, Value) -> Answer
    ) {
        waitingRequests += 1
        serverMetrics.requestsInFlight.wrappingIncrement(ordering: .relaxed)
        let loopBound = NIOLoopBound((self, completion, success), eventLoop: context.eventLoop)
        future.hop(to: context.eventLoop).whenComplete { result in
            let (handler, completion, success) = loopBound.value
            guard handler.context != nil else { return }  // the connection closed meanwhile
            handler.waitingRequests -= 1
            handler.serverMetrics.requestsInFlight.wrappingDecrement(ordering: .relaxed)
            switch result {
            case .success(let value):
                handler.record(request, routeIndex: routeIndex, started: started, error: nil)
                completion(request.id.map { success($0, value) } ?? .response(nil))
            case .failure(let error):
                let failure = handler.rpcError(from: error, method: request.method)
                handler.record(request, routeIndex: routeIndex, started: started, error: failure.code)
                completion(.response(request.id.map { RPCResponse(id: $0, error: failure) }))
            }
            if let context = handler.context { handler.closeIfWoundDown(context: context) }
        }
    }

    private func record(_ request: RPCRequest, routeIndex: Int?, started: NIODeadline, error: RPCErrorCode?) {
        let now = NIODeadline.now()
        let elapsed = now - started
        clockMark = now
        shard.recordRequest(method: request.method, routeIndex: routeIndex, latencyNanos: elapsed.nanoseconds, errorCode: error)
    }

    private func rpcError(from error: any Error, method: String) -> RPCError {
        if let rpcError = error as? RPCError { return rpcError }
        if let convertible = error as? any RPCErrorConvertible { return convertible.rpcError }
        logger.error("method failed", metadata: ["method": "\(method)", "error": "\(error)"])
        return RPCError.internalError("\(method) failed: \(error)")
    }

    // MARK: - Output

    private func emit(_ response: RPCResponse) {
        outbox.append(response)
        flushUnlessReading()
    }

    private func emit(_ answer: Answer) {
        switch answer {
        case .response(let response?):
            emit(response)
        case .response(nil):
            break  // a notification
        case .encoded(let id, let result):
            outbox.append(id: id, encodedResult: result)
            flushUnlessReading()
        }
    }

    /// While reading, frames wait for the end of the burst (one flush for all); a response
    /// that completes later, or a notification, goes out at once.
    private func flushUnlessReading() {
        guard !isReading, let context else { return }
        flushPendingOutput(context: context)
    }

    /// Hands everything encoded since the last flush to the channel in one write and one flush.
    private func flushPendingOutput(context: ChannelHandlerContext) {
        guard outbox.hasPendingBytes else { return }
        shard.bytesOut += outbox.drain(into: &outputBuffer)
        context.writeAndFlush(wrapOutboundOut(outputBuffer), promise: nil)
        if outputBuffer.capacity > ConnectionOutbox.retainedCapacity {
            // A large response grew it: let the channel keep that one and start small again.
            outputBuffer = allocator.buffer(capacity: 4096)
        }
        enforceOutboundLimit(context: context)
    }

    /// Closes a connection whose unsent bytes exceed the cap: its peer has stopped reading.
    private func enforceOutboundLimit(context: ChannelHandlerContext) {
        guard !context.channel.isWritable,
            let buffered = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes),
            buffered > maximumOutboundBytes
        else { return }
        logger.warning(
            "closing connection: peer is not reading its responses",
            metadata: ["connection": "\(connection.id)", "uid": "\(connection.uid)", "unsentBytes": "\(buffered)"]
        )
        context.close(promise: nil)
    }

    // MARK: - Notifications

    /// Sends a server notification; see ``ConnectionOutbox`` for what happens while the peer
    /// is not reading.
    func send(_ notification: RPCNotification, coalescingKey: String) {
        guard let context, context.channel.isActive else { return }
        switch outbox.enqueue(notification, coalescingKey: coalescingKey, writable: context.channel.isWritable) {
        case .queued:
            shard.notificationsSent += 1
            flushUnlessReading()
        case .held:
            break
        case .replacedOlder:
            shard.notificationsCoalesced += 1
        case .overflowed:
            logger.warning(
                "closing connection: peer is not reading its notifications",
                metadata: ["connection": "\(connection.id)", "uid": "\(connection.uid)", "heldBytes": "\(outbox.heldBytes)"]
            )
            context.close(promise: nil)
        }
    }

    private func sendHeldNotifications(context: ChannelHandlerContext) {
        let released = outbox.releaseHeld()
        guard released > 0 else { return }
        shard.notificationsSent += released
        flushUnlessReading()
    }

    // MARK: - Errors that end the connection

    private func refuseOversizedFrame(length: UInt64, context: ChannelHandlerContext) {
        let error = RPCError.frameTooLarge(length: length, maximum: maximumFrameLength)
        shard.recordProtocolError(error.code)
        logger.notice("closing connection: frame too large", metadata: ["connection": "\(connection.id)", "length": "\(length)"])
        emit(RPCResponse(id: .null, error: error))
        flushPendingOutput(context: context)
        context.closeAfterFlush()
    }

    private func closeIfWoundDown(context: ChannelHandlerContext) {
        guard isWindingDown, waitingRequests == 0 else { return }
        flushPendingOutput(context: context)
        context.closeAfterFlush(linger: .milliseconds(500))
    }
}

extension Result where Failure == RPCError {
    fileprivate var errorCode: RPCErrorCode? {
        if case .failure(let error) = self { return error.code }
        return nil
    }
}

/// The slots of a batch reply, filled as its requests complete.
///
/// The reply is one frame, so its results share one bound, `maximumBytes`: a result that
/// would take the reply past it is replaced by a `-32008` error as it arrives, so that a
/// batch of many large answers never holds more than the bound.
private final class BatchReply {
    private var slots: [RPCResponse?]
    private var remaining: Int
    private var bytesLeft: Int
    private let maximumBytes: Int

    init(count: Int, maximumBytes: Int) {
        self.slots = Array(repeating: nil, count: count)
        self.remaining = count
        self.bytesLeft = maximumBytes
        self.maximumBytes = maximumBytes
    }

    /// Fills slot `index`; returns `true` when it was the last one outstanding.
    func fill(_ index: Int, with response: RPCResponse?) -> Bool {
        if let response, case .success(let result) = response.outcome {
            if let size = result.encodedSize(upTo: bytesLeft) {
                bytesLeft -= size
                slots[index] = response
            } else {
                slots[index] = RPCResponse(id: response.id, error: .replyTooLarge(maximum: maximumBytes))
            }
        } else {
            slots[index] = response
        }
        remaining -= 1
        return remaining == 0
    }

    var responses: [RPCResponse] { slots.compactMap { $0 } }
}
