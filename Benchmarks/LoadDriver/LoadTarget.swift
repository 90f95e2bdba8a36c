import ArgumentParser
import NIOCore
import SidecarProtocol

/// The server the driver talks to. Both targets get the same client code; only the request
/// bytes and the reply check differ.
enum LoadTarget: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// `sidecard`: a framed JSON-RPC `sidecar.ping`, answered by a framed result `"pong"`.
    case sidecar
    /// `redis-server`: a RESP `PING`, answered by `+PONG`.
    case redis

    /// The id every `sidecar.ping` carries. Replies on one connection come back in the order
    /// of the requests (they are all the same method), so one id serves them all, just as every
    /// Redis `PING` is the same bytes.
    static let sidecarRequestID: Int64 = 1

    /// One request, encoded once; the driver only ever copies these bytes.
    var request: ByteBuffer {
        var buffer = ByteBuffer()
        switch self {
        case .sidecar:
            let ping = RPCRequest(id: .int(Self.sidecarRequestID), method: "sidecar.ping")
            Frame.write(ping.jsonValue, into: &buffer)
        case .redis:
            // The array form is what Redis client libraries send.
            buffer.writeString("*1\r\n$4\r\nPING\r\n")
        }
        return buffer
    }

    /// `count` requests back to back, so that answering k replies is one write of a slice.
    func requests(count: Int) -> ByteBuffer {
        let one = request
        var buffer = ByteBuffer()
        buffer.reserveCapacity(one.readableBytes * count)
        for _ in 0..<count { buffer.writeImmutableBuffer(one) }
        return buffer
    }

    func makeReplyScanner() -> ReplyScanner {
        switch self {
        case .sidecar: return ReplyScanner(protocol: .jsonRPC(FrameDecoder(maximumFrameLength: 1 << 20)))
        case .redis: return ReplyScanner(protocol: .resp)
        }
    }
}
