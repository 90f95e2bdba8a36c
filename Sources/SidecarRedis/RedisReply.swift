/// One answer from Redis (RESP2), copied out of hiredis's reply so it outlives it.
public enum RedisReply: Sendable, Hashable, CustomStringConvertible {
    /// A status line such as `+OK`.
    case status(String)
    /// An error line such as `-ERR unknown command`, here without the `-`.
    case error(String)
    /// An integer such as the answer of `UNLINK` or `PTTL`.
    case integer(Int64)
    /// A bulk string, byte for byte (Redis strings are binary-safe).
    case bulkString([UInt8])
    /// The null bulk string or null array (`GET` of a missing key).
    case null
    /// An array of replies (`SCAN`, pub/sub messages).
    case array([RedisReply])

    /// The bytes of a bulk string or status; `nil` for anything else.
    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let bytes): return bytes
        case .status(let text): return Array(text.utf8)
        default: return nil
        }
    }

    /// A bulk string or status as text (invalid UTF-8 repaired); `nil` for anything else.
    public var string: String? {
        switch self {
        case .bulkString(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let text): return text
        default: return nil
        }
    }

    /// The value of an integer reply; `nil` for anything else.
    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The elements of an array reply; `nil` for anything else.
    public var array: [RedisReply]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// The reply as `redis-cli` would show it, shortened, for messages.
    public var description: String {
        switch self {
        case .status(let text): return text
        case .error(let text): return "(error) \(text)"
        case .integer(let value): return "(integer) \(value)"
        case .bulkString(let bytes):
            let text = String(decoding: bytes.prefix(64), as: UTF8.self)
            return "\"\(text)\(bytes.count > 64 ? "…" : "")\""
        case .null: return "(nil)"
        case .array(let elements):
            let shown = elements.prefix(8).map(\.description).joined(separator: ", ")
            return "[\(shown)\(elements.count > 8 ? ", …" : "")]"
        }
    }
}
