import SidecarProtocol

/// Builders for the bytes a client sends: a 4-byte big-endian length, then the body.
///
/// ```swift
/// try connection.write(WireFrame.prefix(8) + Array("{}".utf8))  // a frame cut short
/// ```
public enum WireFrame {
    /// A frame: the 4-byte big-endian length of `body`, then `body`.
    public static func bytes(body: [UInt8]) -> [UInt8] {
        prefix(UInt32(body.count)) + body
    }

    /// A frame holding the UTF-8 bytes of `text`.
    public static func bytes(_ text: String) -> [UInt8] {
        bytes(body: Array(text.utf8))
    }

    /// A frame holding `value` written as compact JSON.
    public static func bytes(_ value: JSONValue) -> [UInt8] {
        bytes(JSONWriter.string(value))
    }

    /// A length prefix alone, stating `length` whatever follows.
    public static func prefix(_ length: UInt32) -> [UInt8] {
        [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
    }
}
