import NIOCore
import SidecarProtocol
import Testing

/// Builders for the bytes a client sends.
enum WireFrame {
    /// A frame: the 4-byte big-endian length of `body`, then `body`.
    static func bytes(body: [UInt8]) -> [UInt8] {
        prefix(UInt32(body.count)) + body
    }

    static func bytes(_ text: String) -> [UInt8] {
        bytes(body: Array(text.utf8))
    }

    static func bytes(_ value: JSONValue) -> [UInt8] {
        bytes(JSONWriter.string(value))
    }

    /// A length prefix alone, stating `length` whatever follows.
    static func prefix(_ length: UInt32) -> [UInt8] {
        [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
    }
}

/// Builders for JSON-RPC messages and checks on the replies.
enum RPC {
    static func request(_ method: String, params: JSONValue? = nil, id: JSONValue = 1) -> JSONValue {
        var members: JSONObject = ["jsonrpc": "2.0", "id": id, "method": .string(method)]
        if let params { members["params"] = params }
        return .object(members)
    }

    static func notification(_ method: String, params: JSONValue? = nil) -> JSONValue {
        var members: JSONObject = ["jsonrpc": "2.0", "method": .string(method)]
        if let params { members["params"] = params }
        return .object(members)
    }

    /// `sidecar.echo` of `value` after `delayMs`.
    static func echo(_ value: JSONValue, delayMs: Int64 = 0, id: JSONValue = 1) -> JSONValue {
        request("sidecar.echo", params: ["value": value, "delayMs": .int(delayMs)], id: id)
    }
}

/// Expects `message` to be a JSON-RPC 2.0 error response with `code` and `id` (and no result).
func expectError(
    _ message: JSONValue,
    code: Int,
    id: JSONValue,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(message["jsonrpc"] == "2.0", "\(message)", sourceLocation: sourceLocation)
    #expect(message["id"] == id, "id not echoed: \(message)", sourceLocation: sourceLocation)
    #expect(message["error"]?["code"] == .int(Int64(code)), "\(message)", sourceLocation: sourceLocation)
    #expect(message["error"]?["message"]?.stringValue?.isEmpty == false, "\(message)", sourceLocation: sourceLocation)
    #expect(message["result"] == nil, "\(message)", sourceLocation: sourceLocation)
}

/// Expects `message` to be a JSON-RPC 2.0 success response with `result` and `id` (and no error).
func expectResult(
    _ message: JSONValue,
    _ result: JSONValue,
    id: JSONValue,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(message["jsonrpc"] == "2.0", "\(message)", sourceLocation: sourceLocation)
    #expect(message["id"] == id, "id not echoed: \(message)", sourceLocation: sourceLocation)
    #expect(message["result"] == result, "\(message)", sourceLocation: sourceLocation)
    #expect(message["error"] == nil, "\(message)", sourceLocation: sourceLocation)
}
