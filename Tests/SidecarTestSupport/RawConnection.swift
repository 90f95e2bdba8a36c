import Glibc
import SidecarProtocol

/// A client that speaks the wire format by hand: it writes any bytes at all (split frames,
/// several frames at once, bogus prefixes) and reads whole frames with a timeout, telling a
/// frame from the end of the connection.
///
/// ```swift
/// let connection = try RawConnection(path: daemon.socketPath)
/// try connection.write(WireFrame.prefix(0))
/// #expect(try connection.readMessage()["error"]?["code"] == -32700)
/// ```
public final class RawConnection {
    /// What the next read found.
    public enum Event: Equatable, Sendable, CustomStringConvertible {
        /// A whole frame: its body, without the length prefix.
        case frame([UInt8])
        /// The daemon closed (or reset) the connection.
        case closed
        /// Nothing (or only part of a frame) came in time.
        case timedOut

        /// The frame's body as text, or what happened instead.
        public var description: String {
            switch self {
            case .frame(let bytes): return "frame \(String(decoding: bytes, as: UTF8.self))"
            case .closed: return "connection closed"
            case .timedOut: return "timed out"
            }
        }
    }

    /// A read found something other than what the caller expected.
    public struct UnexpectedEvent: Error, CustomStringConvertible {
        /// What the caller wanted, such as "a frame".
        public var expected: String
        /// What the read found.
        public var event: Event
        /// Both, for a test failure message.
        public var description: String { "expected \(expected), got \(event)" }
    }

    /// The connected socket; closed by ``close()`` or when the connection is released.
    public let descriptor: CInt
    private var received: [UInt8] = []
    private var sawEndOfStream = false
    private var isClosed = false

    /// Connects to the socket at `path`.
    /// - Throws: ``SystemCallError`` when the connection is refused.
    public init(path: String) throws {
        descriptor = try UnixSocket.connect(to: path)
        // A blocked write gives up after 5 s rather than hang the test run.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close() }

    /// Closes the socket (once; later calls do nothing).
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(descriptor)
    }

    // MARK: - Writing

    /// Writes `bytes` exactly as given.
    /// - Throws: ``SystemCallError`` when `send` fails or blocks for more than 5 s.
    public func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { raw in
                Glibc.send(descriptor, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw SystemCallError("send")
            }
            offset += written
        }
    }

    /// Writes as much of `bytes` as the socket takes without blocking.
    /// - Returns: how many bytes were written (0 when the socket buffer is full).
    /// - Throws: ``SystemCallError`` when `send` fails.
    public func writeWithoutBlocking(_ bytes: ArraySlice<UInt8>) throws -> Int {
        while true {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.send(descriptor, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if written >= 0 { return written }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return 0 }
            throw SystemCallError("send")
        }
    }

    /// Writes one frame holding `text`.
    public func send(_ text: String) throws {
        try write(WireFrame.bytes(text))
    }

    /// Writes one frame holding `value`.
    public func send(_ value: JSONValue) throws {
        try write(WireFrame.bytes(value))
    }

    // MARK: - Reading

    /// The next frame, the end of the connection, or a timeout after `timeout` seconds.
    public func next(timeout: Double = 5) -> Event {
        let deadline = Deadline(seconds: timeout)
        while true {
            if let frame = takeFrame() { return .frame(frame) }
            if sawEndOfStream { return .closed }
            guard UnixSocket.waitReadable(descriptor, timeout: Double(deadline.remainingMilliseconds) / 1000) else {
                return .timedOut
            }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received.append(contentsOf: chunk[..<count])
            } else if count == 0 || errno == ECONNRESET || errno == EPIPE {
                sawEndOfStream = true
            } else if errno != EINTR && errno != EAGAIN {
                sawEndOfStream = true
            }
        }
    }

    /// The next frame's bytes.
    /// - Throws: ``UnexpectedEvent`` when the connection closes or nothing comes in time.
    public func readFrame(timeout: Double = 5) throws -> [UInt8] {
        let event = next(timeout: timeout)
        guard case .frame(let bytes) = event else { throw UnexpectedEvent(expected: "a frame", event: event) }
        return bytes
    }

    /// The next frame, parsed.
    /// - Throws: ``UnexpectedEvent`` when no frame comes; a parse error when it is not JSON.
    public func readMessage(timeout: Double = 5) throws -> JSONValue {
        try JSONParser.parse(bytes: readFrame(timeout: timeout))
    }

    /// Sends a request and reads the next frame, which must be its response.
    /// - Returns: the parsed response (check its `result` or `error`).
    /// - Throws: what ``send(_:)`` and ``readMessage(timeout:)`` throw.
    public func call(_ method: String, params: JSONValue? = nil, id: JSONValue = 1, timeout: Double = 5) throws -> JSONValue {
        try send(RPC.request(method, params: params, id: id))
        return try readMessage(timeout: timeout)
    }

    private func takeFrame() -> [UInt8]? {
        guard received.count >= 4 else { return nil }
        let length = received[0..<4].reduce(0) { $0 << 8 | Int($1) }
        guard received.count >= 4 + length else { return nil }
        let frame = Array(received[4..<(4 + length)])
        received.removeFirst(4 + length)
        return frame
    }
}
