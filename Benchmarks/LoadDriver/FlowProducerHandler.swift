import NIOCore
import SidecarProtocol

/// The producer of an end-to-end run: sends batches of tasks, at most `depth` open at a time
/// and only while the ``FlowCoordinator`` allows (the phase lasts and the backlog is under its
/// limit).
///
/// - sidecard: `tasks.submitMany` of `batch` tasks of one kind, each acknowledged after its
///   commit. With `waitForRun` (the built-in pool, whose runs no connection of the driver sees)
///   the producer then sends `tasks.wait` for the batch's last task and reports the batch
///   finished when it has succeeded: the pool starts tasks of one priority oldest first, and a
///   `sidecar.noop` ends as it starts, so the batch's last task ends after the others (the run
///   checks this against `tasks.metrics` at the end). A batch is open until then.
/// - Redis: one `LPUSH` of `batch` values; a batch is open until its reply.
final class FlowProducerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Mode {
        case sidecar(kind: String, waitForRun: Bool)
        case redis(key: String)
    }

    private enum Request {
        case submit
        case wait
    }

    private static let created = Array(#""created":true"#.utf8)
    private static let taskID = Array(#""id":"t"#.utf8)
    private static let succeeded = Array(#""status":"succeeded""#.utf8)

    private let mode: Mode
    private let coordinator: FlowCoordinator
    private let depth: Int
    private let batch: Int
    /// sidecard: the request after its id; Redis: the whole command.
    private let submitBytes: [UInt8]
    private var redisScanner: ReplyScanner
    private let decoder = FrameDecoder(maximumFrameLength: 16 << 20)
    private var nextID: Int64 = 1
    private var pending: [Int64: Request] = [:]
    private var openBatches = 0
    private var partial: ByteBuffer?
    private var context: ChannelHandlerContext?

    /// - Parameter payload: the payload of every task (sidecard), or the value pushed (Redis).
    init(mode: Mode, coordinator: FlowCoordinator, depth: Int, payload: String) {
        self.mode = mode
        self.coordinator = coordinator
        self.depth = depth
        self.batch = coordinator.batch
        self.redisScanner = ReplyScanner(protocol: .resp, operation: .tasksSubmitMany, batch: coordinator.batch)
        switch mode {
        case .sidecar(let kind, _):
            let task: JSONValue = ["kind": .string(kind), "payload": .string(payload)]
            submitBytes = RequestBytes.tail(
                method: "tasks.submitMany", params: ["tasks": .array(Array(repeating: task, count: coordinator.batch))])
        case .redis(let key):
            let arguments = ["LPUSH", key] + Array(repeating: payload, count: coordinator.batch)
            var command = "*\(arguments.count)\r\n"
            for argument in arguments { command += "$\(argument.utf8.count)\r\n\(argument)\r\n" }
            submitBytes = Array(command.utf8)
        }
    }

    /// Sends batches while fewer than `depth` are open and the coordinator allows.
    func pump() {
        guard let context else { return }
        var buffer: ByteBuffer?
        while openBatches < depth, coordinator.maySend {
            var out = buffer ?? context.channel.allocator.buffer(capacity: submitBytes.count + 32)
            switch mode {
            case .sidecar:
                let id = takeID()
                pending[id] = .submit
                RequestBytes.write(id: id, submitBytes, into: &out)
            case .redis:
                out.writeBytes(submitBytes)
            }
            buffer = out
            openBatches += 1
            coordinator.didSend()
        }
        if let buffer { context.writeAndFlush(wrapOutboundOut(buffer), promise: nil) }
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
        var buffer = unwrapInboundIn(data).appended(to: &partial)
        do {
            switch mode {
            case .sidecar(_, let waitForRun): try readFrames(&buffer, waitForRun: waitForRun, context: context)
            case .redis: try readReplies(&buffer)
            }
        } catch {
            fail(error, context: context)
            return
        }
        if buffer.readableBytes > 0 { partial = buffer }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        pump()
    }

    func channelInactive(context: ChannelHandlerContext) {
        coordinator.fail(LoadError.connectionClosed(repliesReceived: 0))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(error, context: context)
    }

    // MARK: - Replies

    private func readReplies(_ buffer: inout ByteBuffer) throws(LoadError) {
        while true {
            switch redisScanner.next(&buffer) {
            case .reply: openBatches -= 1
            case .unsolicited: continue
            case .needMoreData: return
            case .failure(let detail): throw LoadError.badReply(detail)
            }
        }
    }

    private func readFrames(_ buffer: inout ByteBuffer, waitForRun: Bool, context: ChannelHandlerContext) throws(LoadError) {
        var waits: ByteBuffer?
        defer { if let waits { context.writeAndFlush(wrapOutboundOut(waits), promise: nil) } }
        while true {
            switch decoder.decode(&buffer) {
            case .needMoreData: return
            case .tooLarge(let length): throw LoadError.badReply("a reply frame of \(length) bytes")
            case .frame(let frame):
                guard let head = ResponseHead(frame) else { continue }  // a notification
                guard let request = pending.removeValue(forKey: head.id) else {
                    throw LoadError.badReply("a reply to no request of the producer: \(String(buffer: frame))")
                }
                if head.isError { throw LoadError.badReply("an error reply to the producer: \(String(buffer: frame))") }
                switch request {
                case .submit:
                    let lastTask = try checkSubmitted(frame)
                    if waitForRun {
                        let id = takeID()
                        pending[id] = .wait
                        var out = waits ?? context.channel.allocator.buffer(capacity: 256)
                        RequestBytes.write(
                            id: id, Array(#","method":"tasks.wait","params":{"id":""#.utf8), lastTask,
                            Array(#"","timeout":60}}"#.utf8), into: &out)
                        waits = out
                    } else {
                        openBatches -= 1
                    }
                case .wait:
                    guard ByteSearch.contains(Self.succeeded, in: frame) else {
                        throw LoadError.badReply("a batch's last task did not succeed: \(String(buffer: frame))")
                    }
                    openBatches -= 1
                    coordinator.didFinish(batch)
                }
            }
        }
    }

    /// Checks that a `tasks.submitMany` reply created the whole batch.
    /// - Returns: the id of the batch's last task.
    private func checkSubmitted(_ frame: ByteBuffer) throws(LoadError) -> [UInt8] {
        let lastTask = frame.withUnsafeReadableBytes { bytes -> [UInt8]? in
            guard ByteSearch.count(of: Self.created, in: bytes) == batch else { return nil }
            var last: Int?
            var start = 0
            while let offset = ByteSearch.firstOffset(of: Self.taskID, in: bytes, from: start) {
                last = offset
                start = offset + Self.taskID.count
            }
            // The id's quotes are not part of it: `"id":"` is 6 bytes, the id 17.
            guard let last, last + 6 + 1 + TaskIDTemplate.digitCount <= bytes.count else { return nil }
            return Array(bytes[(last + 6)..<(last + 6 + 1 + TaskIDTemplate.digitCount)])
        }
        guard let lastTask else {
            throw LoadError.badReply("a tasks.submitMany reply that does not create \(batch) tasks: \(String(buffer: frame))")
        }
        return lastTask
    }

    private func fail(_ error: Error, context: ChannelHandlerContext) {
        coordinator.fail(error)
        context.close(promise: nil)
    }
}
