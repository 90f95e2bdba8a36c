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
/// Both protocols take the same fast path: a byte comparison with the known good reply
/// (`+PONG\r\n` for Redis; for Sidecar, the first reply's bytes once a full decode has
/// shown it to be the `"pong"` result for our id). Anything else is decoded in full.
struct ReplyScanner {
    enum WireProtocol {
        case jsonRPC(FrameDecoder)
        case resp
    }

    private static let pong = ByteBuffer(string: "+PONG\r\n")
    /// A RESP line longer than this is not a reply to PING.
    private static let longestLine = 1 << 16

    private let wireProtocol: WireProtocol
    private var knownGoodFrame: ByteBuffer?

    init(protocol wireProtocol: WireProtocol) {
        self.wireProtocol = wireProtocol
    }

    /// Takes the next message off the front of `buffer`.
    mutating func next(_ buffer: inout ByteBuffer) -> ReplyOutcome {
        switch wireProtocol {
        case .jsonRPC(let decoder): return nextFrame(&buffer, decoder: decoder)
        case .resp: return nextLine(&buffer)
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
            if let knownGoodFrame, frame == knownGoodFrame { return .reply }
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
                guard result == .string("pong") else {
                    return .failure("sidecar.ping answered \(JSONWriter.string(result)), expected \"pong\"")
                }
                // Copied, so that holding it does not pin the channel's read buffer.
                knownGoodFrame = ByteBuffer(bytes: frame.readableBytesView)
                return .reply
            }
        }
    }

    // MARK: - RESP

    private func nextLine(_ buffer: inout ByteBuffer) -> ReplyOutcome {
        let pongLength = Self.pong.readableBytes
        if buffer.readableBytes >= pongLength,
            buffer.getSlice(at: buffer.readerIndex, length: pongLength) == Self.pong
        {
            buffer.moveReaderIndex(forwardBy: pongLength)
            return .reply
        }
        // Not PONG: read the whole line to say what it was. A PING is only ever answered by a
        // simple string or an error, both one line.
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            return buffer.readableBytes < Self.longestLine ? .needMoreData : .failure("an unexpected reply: no line end in \(buffer.readableBytes) bytes")
        }
        let line = buffer.readString(length: newline - buffer.readerIndex + 1) ?? ""
        return .failure("an unexpected reply to PING: \(line.filter { $0 != "\r\n" && $0 != "\n" })")
    }
}
