import SidecarProtocol
import Testing

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
