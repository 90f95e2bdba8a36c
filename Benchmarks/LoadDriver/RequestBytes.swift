import NIOCore
import SidecarProtocol

/// JSON-RPC requests written straight into a frame, for the requests a run sends many of with
/// different ids (and task ids): `{"jsonrpc":"2.0","id":<id>` followed by pre-encoded parts.
enum RequestBytes {
    private static let prefix = Array(#"{"jsonrpc":"2.0","id":"#.utf8)

    /// Appends one frame: its length, the prefix, `id`, then `parts` in order (which must make
    /// the rest of the object, from `,"method":` to the closing brace).
    static func write(id: Int64, _ parts: [UInt8]..., into buffer: inout ByteBuffer) {
        let digits = String(id).utf8
        var length = prefix.count + digits.count
        for part in parts { length += part.count }
        buffer.reserveCapacity(minimumWritableBytes: Frame.prefixLength + length)
        buffer.writeInteger(UInt32(length))
        buffer.writeBytes(prefix)
        buffer.writeBytes(digits)
        for part in parts { buffer.writeBytes(part) }
    }

    /// `,"method":"<method>","params":<params>}`, encoded once.
    static func tail(method: String, params: JSONValue) -> [UInt8] {
        var bytes = Array(#","method":"\#(method)","params":"#.utf8)
        JSONWriter.write(params, into: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}
