import Logging
import NIOCore
import SidecarProtocol

/// Sends requests and matches replies to them by id; delivers server notifications.
///
/// The table of pending calls lives here and is only touched on the channel's event loop, so
/// it needs no lock: callers hand their reply promises over in an ``OutboundMessage`` and
/// the handler completes each one exactly once.
final class RPCClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = OutboundMessage
    typealias OutboundOut = ByteBuffer

    private struct PendingCall {
        var reply: EventLoopPromise<JSONValue>
        var timeout: Scheduled<Void>
    }

    private var pending: [Int64: PendingCall] = [:]
    private var isActive = false
    /// A connection-level error the daemon sent (id null) before closing: frame too large,
    /// server busy, permission denied. Pending calls fail with it rather than a bare close.
    private var connectionError: RPCError?
    private let closed: EventLoopPromise<RPCError?>
    private let notifications: AsyncStream<RPCNotification>.Continuation
    /// Sees each notification first; when it returns `true` the notification was delivered
    /// elsewhere (a state subscription) and is not put on `notifications`.
    private let intercept: (@Sendable (RPCNotification) -> Bool)?
    private let logger: Logger

    /// - Parameters:
    ///   - closed: completed when the connection ends, with the daemon's connection-level error if any.
    ///   - notifications: where server notifications go.
    ///   - intercept: sees each notification first and returns `true` when it took it.
    init(
        closed: EventLoopPromise<RPCError?>,
        notifications: AsyncStream<RPCNotification>.Continuation,
        intercept: (@Sendable (RPCNotification) -> Bool)? = nil,
        logger: Logger
    ) {
        self.closed = closed
        self.notifications = notifications
        self.intercept = intercept
        self.logger = logger
    }

    /// The calls written and not yet answered, timed out or cancelled.
    var pendingCount: Int { pending.count }

    // MARK: - Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        isActive = context.channel.isActive
    }

    func channelActive(context: ChannelHandlerContext) {
        isActive = true
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connectionEnded()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Also reached when the connect failed and the channel never became active.
        connectionEnded()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let failure = error as? SidecarClientError ?? .connectionClosed
        logger.debug("sidecar connection error, closing", metadata: ["error": "\(error)"])
        failAll(with: failure)
        context.close(promise: nil)
    }

    private func connectionEnded() {
        isActive = false
        failAll(with: connectionError.map(SidecarClientError.rpc) ?? .connectionClosed)
        closed.succeed(connectionError)
    }

    // MARK: - Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let message = Self.unwrapOutboundIn(data)
        guard isActive else {
            // Never written: the client retries it on the next connection.
            for request in message.requests { request.reply?.fail(RequestNotSent()) }
            promise?.fail(RequestNotSent())
            return
        }
        var ids: [Int64] = []
        var bodies: [JSONValue] = []
        bodies.reserveCapacity(message.requests.count)
        let loop = context.eventLoop.assumeIsolated()
        for request in message.requests {
            bodies.append(request.jsonValue)
            guard let id = request.id, let reply = request.reply else { continue }
            let timeout = loop.scheduleTask(deadline: message.deadline) { [self] in
                fail(id, with: .timedOut)
            }
            if let previous = pending.updateValue(PendingCall(reply: reply, timeout: timeout), forKey: id) {
                // Ids come from one counter per client, so this means a bug, not a race.
                previous.timeout.cancel()
                previous.reply.fail(SidecarClientError.protocolViolation("request id \(id) reused"))
            }
            ids.append(id)
        }
        var buffer = context.channel.allocator.buffer(capacity: 128)
        let body: JSONValue = message.isBatch ? .array(bodies) : (bodies.first ?? .array([]))
        Frame.write(body, into: &buffer)
        context.write(Self.wrapOutboundOut(buffer)).assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success:
                promise?.succeed(())
            case .failure:
                // Maybe partly written: the calls may have run, so they fail rather than retry.
                for id in ids { fail(id, with: .connectionClosed) }
                promise?.fail(SidecarClientError.connectionClosed)
            }
        }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let cancel = event as? CancelRequests else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        for id in cancel.ids {
            guard let call = pending.removeValue(forKey: id) else { continue }
            call.timeout.cancel()
            call.reply.fail(CancellationError())
        }
        promise?.succeed(())
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        let message: RPCOutbound
        do {
            message = try RPCOutbound.decode(json: try JSONParser.parse(frame))
        } catch {
            let detail = (error as? RPCError)?.message ?? "\(error)"
            context.fireErrorCaught(SidecarClientError.protocolViolation(detail))
            return
        }
        switch message {
        case .response(let response):
            complete(response)
        case .batch(let responses):
            for response in responses { complete(response) }
        case .notification(let notification):
            if let intercept, intercept(notification) { return }
            notifications.yield(notification)
        }
    }

    private func complete(_ response: RPCResponse) {
        guard case .int(let id) = response.id, let call = pending.removeValue(forKey: id) else {
            unmatched(response)
            return
        }
        call.timeout.cancel()
        switch response.outcome {
        case .success(let result): call.reply.succeed(result)
        case .failure(let error): call.reply.fail(SidecarClientError.rpc(error))
        }
    }

    private func unmatched(_ response: RPCResponse) {
        guard response.id == .null, case .failure(let error) = response.outcome else {
            // A reply to a call that already timed out or was cancelled.
            logger.debug("sidecar reply for no pending call", metadata: ["id": "\(response.id)"])
            return
        }
        switch error.code {
        case .frameTooLarge, .serverBusy, .permissionDenied:
            // The daemon closes the connection after these; every pending call is lost.
            connectionError = error
            failAll(with: .rpc(error))
        default:
            logger.warning("sidecar error without id", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Pending calls

    private func fail(_ id: Int64, with error: SidecarClientError) {
        guard let call = pending.removeValue(forKey: id) else { return }
        call.timeout.cancel()
        call.reply.fail(error)
    }

    private func failAll(with error: SidecarClientError) {
        let calls = pending
        pending.removeAll()
        for call in calls.values {
            call.timeout.cancel()
            call.reply.fail(error)
        }
    }
}
