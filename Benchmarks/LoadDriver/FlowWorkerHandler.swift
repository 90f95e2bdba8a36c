import NIOCore
import SidecarProtocol

/// An external worker of an end-to-end run against sidecard: `tasks.claim {kinds: [kind],
/// max, wait: 1}`, then, in one write, a `tasks.complete` for every task claimed and the next
/// claim (so the daemon commits the completions while the next claim waits for work). Each
/// completion, acknowledged after its commit, finishes one task for the ``FlowCoordinator``.
///
/// Claim replies are decoded in full (one per up to `max` tasks); completion replies are only
/// checked for `"status":"succeeded"`.
final class FlowWorkerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private static let succeeded = Array(#""status":"succeeded""#.utf8)
    private static let completeStart = Array(#","method":"tasks.complete","params":{"id":""#.utf8)
    private static let completeEnd = Array(#"","result":null}}"#.utf8)

    private let coordinator: FlowCoordinator
    private let kind: String
    private let claimTail: [UInt8]
    private let decoder = FrameDecoder(maximumFrameLength: 64 << 20)
    private var nextID: Int64 = 1
    /// The id of the claim in flight, if any.
    private var claimID: Int64?
    private var outstandingCompletions = 0
    /// Completions acknowledged in the current read, reported together.
    private var completed = 0
    private var isRunning = false
    private var partial: ByteBuffer?
    private var context: ChannelHandlerContext?

    init(coordinator: FlowCoordinator, kind: String, claimMaximum: Int) {
        self.coordinator = coordinator
        self.kind = kind
        claimTail = RequestBytes.tail(
            method: "tasks.claim", params: ["kinds": [.string(kind)], "max": .int(Int64(claimMaximum)), "wait": 1])
    }

    /// Starts claiming. Must be called on the channel's event loop.
    func start() {
        guard let context, !isRunning else { return }
        isRunning = true
        var buffer = context.channel.allocator.buffer(capacity: claimTail.count + 32)
        writeClaim(into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    private func writeClaim(into buffer: inout ByteBuffer) {
        let id = takeID()
        claimID = id
        RequestBytes.write(id: id, claimTail, into: &buffer)
    }

    private func takeID() -> Int64 {
        defer { nextID += 1 }
        return nextID
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
        do {
            try readFrames(&buffer, context: context)
        } catch {
            fail(error, context: context)
            return
        }
        if buffer.readableBytes > 0 { partial = buffer }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard completed > 0 else { return }
        let count = completed
        completed = 0
        coordinator.didFinish(count)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if isRunning { coordinator.fail(LoadError.connectionClosed(repliesReceived: 0)) }
        isRunning = false
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(error, context: context)
    }

    // MARK: - Replies

    private func readFrames(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) throws(LoadError) {
        while true {
            switch decoder.decode(&buffer) {
            case .needMoreData: return
            case .tooLarge(let length): throw LoadError.badReply("a reply frame of \(length) bytes to a worker")
            case .frame(let frame):
                guard let head = ResponseHead(frame) else { continue }  // a notification
                if head.isError { throw LoadError.badReply("an error reply to a worker: \(String(buffer: frame))") }
                if head.id == claimID {
                    claimID = nil
                    try claimed(frame, context: context)
                } else {
                    guard outstandingCompletions > 0, ByteSearch.contains(Self.succeeded, in: frame) else {
                        throw LoadError.badReply("a tasks.complete reply without \"status\":\"succeeded\": \(String(buffer: frame))")
                    }
                    outstandingCompletions -= 1
                    completed += 1
                }
            }
        }
    }

    /// Completes every task of a claim reply and claims again, in one write.
    private func claimed(_ frame: ByteBuffer, context: ChannelHandlerContext) throws(LoadError) {
        let tasks: [JSONValue]
        do {
            guard let list = try JSONParser.parse(frame)["result"]?["tasks"]?.arrayValue else {
                throw LoadError.badReply("a tasks.claim reply without \"tasks\": \(String(buffer: frame))")
            }
            tasks = list
        } catch let error as LoadError {
            throw error
        } catch {
            throw LoadError.badReply("an unreadable tasks.claim reply (\(error))")
        }
        var buffer = context.channel.allocator.buffer(capacity: tasks.count * 96 + claimTail.count + 32)
        for task in tasks {
            guard let id = task["id"]?.stringValue, task["kind"] == .string(kind), task["status"] == .string("running") else {
                throw LoadError.badReply("a claimed task that is not a running \(kind): \(JSONWriter.string(task))")
            }
            RequestBytes.write(id: takeID(), Self.completeStart, Array(id.utf8), Self.completeEnd, into: &buffer)
        }
        outstandingCompletions += tasks.count
        writeClaim(into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    private func fail(_ error: Error, context: ChannelHandlerContext) {
        isRunning = false
        coordinator.fail(error)
        context.close(promise: nil)
    }
}
