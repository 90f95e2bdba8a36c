import NIOCore
import SidecarProtocol

/// What the next bytes from the server are.
enum ReplyOutcome: Equatable {
    /// A complete, correct answer to the oldest outstanding request; its bytes were consumed.
    case reply
    /// A complete message that answers no request (a JSON-RPC notification); consumed.
    case unsolicited
    /// The buffered bytes end in the middle of a message.
    case needMoreData
    /// The server answered with an error or with bytes that are not a valid reply.
    case failure(String)
}

/// Splits the server's byte stream into replies and checks each one.
///
/// Both protocols take the same fast path, a byte comparison with the known good reply:
/// for Redis `+PONG`, `+OK` or `$64` and the value; for Sidecar the first reply's bytes once a
/// full decode has shown it to be the right result for our id, where only the digits of a
/// `"revision"` may differ from reply to reply (every `state.set` gets a new one). Anything
/// else is decoded in full: a `cache.get` answered from another tier than the operation's
/// differs in its `"tier"`, so it is checked, and fails the run. A task submission's reply
/// differs from the last only in its new task ids (see ``TaskIDTemplate``); a Redis `LPUSH`
/// answers with the list's length, any integer.
struct ReplyScanner {
    enum WireProtocol {
        case jsonRPC(FrameDecoder)
        case resp
    }

    /// A RESP reply longer than this without a line end is not one of ours.
    private static let longestLine = 1 << 16

    private let wireProtocol: WireProtocol
    private let operation: LoadOperation
    /// Tasks per request of a task submission.
    private let batch: Int
    /// The exact RESP reply the operation gets (unused for `LPUSH`, which gets an integer).
    private let expectedRESP: ByteBuffer
    private var knownGoodFrame: FrameTemplate?
    private var knownGoodTaskReply: TaskIDTemplate?

    init(protocol wireProtocol: WireProtocol, operation: LoadOperation, batch: Int = 1) {
        self.wireProtocol = wireProtocol
        self.operation = operation
        self.batch = batch
        if operation == .ping {
            expectedRESP = ByteBuffer(string: "+PONG\r\n")
        } else if operation.readsValue {
            expectedRESP = ByteBuffer(string: "$\(LoadOperation.value.utf8.count)\r\n\(LoadOperation.value)\r\n")
        } else {
            expectedRESP = ByteBuffer(string: "+OK\r\n")
        }
    }

    /// Takes the next message off the front of `buffer`.
    mutating func next(_ buffer: inout ByteBuffer) -> ReplyOutcome {
        switch wireProtocol {
        case .jsonRPC(let decoder): return nextFrame(&buffer, decoder: decoder)
        case .resp: return nextRESP(&buffer)
        }
    }

    // MARK: - JSON-RPC

    private mutating func nextFrame(_ buffer: inout ByteBuffer, decoder: FrameDecoder) -> ReplyOutcome {
        switch decoder.decode(&buffer) {
        case .needMoreData:
            return .needMoreData
        case .tooLarge(let length):
            return .failure("a reply frame of \(length) bytes, more than the \(decoder.maximumFrameLength) the driver accepts")
        case .frame(let frame):
            if let knownGoodFrame, knownGoodFrame.matches(frame) { return .reply }
            if let knownGoodTaskReply, knownGoodTaskReply.matches(frame) { return .reply }
            return classify(frame)
        }
    }

    private mutating func classify(_ frame: ByteBuffer) -> ReplyOutcome {
        let message: RPCOutbound
        do {
            message = try RPCOutbound.decode(json: try JSONParser.parse(frame))
        } catch {
            return .failure("an unreadable reply frame (\(error)): \(String(buffer: frame))")
        }
        switch message {
        case .notification:
            return .unsolicited
        case .batch:
            return .failure("a batch reply to a single request: \(String(buffer: frame))")
        case .response(let response):
            guard response.id == .int(LoadTarget.sidecarRequestID) else {
                return .failure("a reply with id \(response.id), expected \(LoadTarget.sidecarRequestID): \(String(buffer: frame))")
            }
            switch response.outcome {
            case .failure(let error):
                return .failure("an error reply: \(error.code) \(error.message)")
            case .success(let result):
                if let problem = Self.problem(with: result, of: operation, batch: batch) {
                    return .failure("\(operation.name(for: .sidecar)) answered \(JSONWriter.string(result)): \(problem)")
                }
                if operation.submitsTasks {
                    knownGoodTaskReply = TaskIDTemplate(frame: frame)
                } else {
                    knownGoodFrame = FrameTemplate(frame: frame, revision: result["revision"]?.intValue)
                }
                return .reply
            }
        }
    }

    /// What is wrong with a successful result, or `nil` when it is the right one.
    private static func problem(with result: JSONValue, of operation: LoadOperation, batch: Int) -> String? {
        switch operation {
        case .ping:
            return result == .string("pong") ? nil : "expected \"pong\""
        case .get:
            guard result["revision"]?.intValue != nil else { return "no integer \"revision\"" }
            guard result["exists"] == .bool(true) else { return "expected \"exists\": true" }
            return result["value"] == .string(LoadOperation.value) ? nil : "not the value the run set"
        case .set:
            return result["revision"]?.intValue != nil ? nil : "no integer \"revision\""
        case .cacheGet:
            return cacheHitProblem(result, tier: "l1")
        case .cacheGetL2:
            return cacheHitProblem(result, tier: "l2")
        case .cacheSet:
            return result == ["stored": true] ? nil : "expected {\"stored\":true}"
        case .tasksSubmit:
            return submissionProblem(result)
        case .tasksSubmitMany:
            guard let tasks = result["tasks"]?.arrayValue else { return "no \"tasks\" array" }
            guard tasks.count == batch else { return "\(tasks.count) tasks, expected \(batch)" }
            return tasks.lazy.compactMap(submissionProblem).first
        }
    }

    /// What is wrong with the `{id, created}` of one submitted task (always a new one: the
    /// driver gives no idempotency key).
    private static func submissionProblem(_ result: JSONValue) -> String? {
        guard let id = result["id"]?.stringValue, id.hasPrefix("t"), id.utf8.count == 1 + TaskIDTemplate.digitCount else {
            return "no task id \"t\" + \(TaskIDTemplate.digitCount) hex digits"
        }
        return result["created"] == .bool(true) ? nil : "expected \"created\": true"
    }

    /// What is wrong with a `cache.get` result that should be a hit from `tier`.
    private static func cacheHitProblem(_ result: JSONValue, tier: String) -> String? {
        guard result["hit"] == .bool(true) else { return "expected \"hit\": true" }
        guard result["value"] == .string(LoadOperation.value) else { return "not the value the run set" }
        return result["tier"] == .string(tier) ? nil : "expected \"tier\": \"\(tier)\""
    }

    // MARK: - RESP

    private func nextRESP(_ buffer: inout ByteBuffer) -> ReplyOutcome {
        if operation.submitsTasks { return nextRESPInteger(&buffer) }
        let expectedLength = expectedRESP.readableBytes
        let available = min(buffer.readableBytes, expectedLength)
        if buffer.getSlice(at: buffer.readerIndex, length: available)
            == expectedRESP.getSlice(at: expectedRESP.readerIndex, length: available)
        {
            guard available == expectedLength else { return .needMoreData }
            buffer.moveReaderIndex(forwardBy: expectedLength)
            return .reply
        }
        // Not the expected reply: read its first line to say what it was (an error is one line).
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            return buffer.readableBytes < Self.longestLine
                ? .needMoreData : .failure("an unexpected reply: no line end in \(buffer.readableBytes) bytes")
        }
        return unexpectedLine(&buffer, endingAt: newline)
    }

    /// `:<digits>\r\n`, the reply to `LPUSH` (the list's new length).
    private func nextRESPInteger(_ buffer: inout ByteBuffer) -> ReplyOutcome {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            return buffer.readableBytes < Self.longestLine
                ? .needMoreData : .failure("an unexpected reply: no line end in \(buffer.readableBytes) bytes")
        }
        // At least ":", one digit and "\r" before the line end.
        guard newline - view.startIndex >= 3, view.first == UInt8(ascii: ":"), view[newline - 1] == UInt8(ascii: "\r"),
            view[(view.startIndex + 1)..<(newline - 1)].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return unexpectedLine(&buffer, endingAt: newline) }
        buffer.moveReaderIndex(to: newline + 1)
        return .reply
    }

    /// Consumes the line that ends at `newline` and fails with it (a Redis error is one line).
    private func unexpectedLine(_ buffer: inout ByteBuffer, endingAt newline: Int) -> ReplyOutcome {
        let line = buffer.readString(length: newline - buffer.readerIndex + 1) ?? ""
        return .failure("an unexpected reply to \(operation.name(for: .redis)): \(line.filter { $0 != "\r\n" && $0 != "\n" })")
    }
}

/// The bytes of a reply known to be good, where the digits of its `"revision"` (if any) may
/// differ in the replies that follow.
struct FrameTemplate {
    private let prefix: ByteBuffer
    private let suffix: ByteBuffer
    private let digitsMayVary: Bool

    /// - Parameters:
    ///   - frame: a reply that a full decode has accepted.
    ///   - revision: its result's `"revision"`, whose digits then become a wildcard; when the
    ///     frame does not spell it `"revision":<digits>`, the template is the exact frame.
    init(frame: ByteBuffer, revision: Int64?) {
        // Copied, so that holding it does not pin the channel's read buffer.
        let bytes = Array(frame.readableBytesView)
        if let revision, let range = Self.range(of: Array("\"revision\":\(revision)".utf8), in: bytes) {
            let digitsStart = range.upperBound - String(revision).utf8.count
            prefix = ByteBuffer(bytes: bytes[..<digitsStart])
            suffix = ByteBuffer(bytes: bytes[range.upperBound...])
            digitsMayVary = true
        } else {
            prefix = ByteBuffer(bytes: bytes)
            suffix = ByteBuffer()
            digitsMayVary = false
        }
    }

    /// Whether `frame` is the template with, at most, other revision digits.
    func matches(_ frame: ByteBuffer) -> Bool {
        guard digitsMayVary else { return frame == prefix }
        let digitCount = frame.readableBytes - prefix.readableBytes - suffix.readableBytes
        guard digitCount >= 1, digitCount <= 19,
            frame.getSlice(at: frame.readerIndex, length: prefix.readableBytes) == prefix,
            frame.getSlice(at: frame.writerIndex - suffix.readableBytes, length: suffix.readableBytes) == suffix
        else { return false }
        let digitsStart = frame.readerIndex + prefix.readableBytes
        return frame.withUnsafeReadableBytes { bytes in
            let base = digitsStart - frame.readerIndex
            for offset in base..<(base + digitCount) where !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) {
                return false
            }
            return true
        }
    }

    private static func range(of needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard needle.count <= haystack.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            // A longer number with the same leading digits is not this revision.
            let end = start + needle.count
            if end < haystack.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(haystack[end]) { continue }
            return start..<end
        }
        return nil
    }
}
