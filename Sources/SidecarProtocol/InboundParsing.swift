import NIOCore

/// The server's hot path: each frame is parsed exactly once, straight into the requests it
/// holds. Only the members JSON-RPC gives meaning to are kept, and no object is built, so a
/// request such as `{"jsonrpc":"2.0","id":1,"method":"sidecar.ping"}` allocates nothing.
extension JSONParser {
    /// Parses one frame for the server, validating the whole text as strictly as
    /// ``parse(_:)`` does.
    static func parseInbound(_ buffer: ByteBuffer) -> RPCInbound {
        buffer.withUnsafeReadableBytes { bytes in
            var parser = JSONParser(bytes: bytes)
            do throws(JSONParseError) {
                return try parser.parseInboundDocument()
            } catch {
                return .failure(.parseError(error.description))
            }
        }
    }

    private mutating func parseInboundDocument() throws(JSONParseError) -> RPCInbound {
        skipWhitespace()
        guard let first = peek() else { throw error(bytes.isEmpty ? "empty message" : "no JSON value") }
        let inbound: RPCInbound
        if first == UInt8(ascii: "[") {
            var entries: [RPCInboundEntry] = []
            try forEachArrayElement { parser throws(JSONParseError) in
                entries.append(try parser.parseInboundEntry())
            }
            inbound = entries.isEmpty ? .failure(.invalidRequest("an empty batch")) : .batch(entries)
        } else {
            inbound = .single(try parseInboundEntry())
        }
        skipWhitespace()
        guard index == bytes.count else { throw error("unexpected content after the JSON value") }
        return inbound
    }

    private mutating func parseInboundEntry() throws(JSONParseError) -> RPCInboundEntry {
        guard peek() == UInt8(ascii: "{") else {
            let value = try parseValue()
            return .invalid(id: .null, error: .invalidRequest("expected a request object, got \(value.typeName)"))
        }
        var jsonrpc: JSONValue?
        var method: JSONValue?
        var id: JSONValue?
        var params: JSONValue?
        // Duplicate names: the last one wins, as in ``parse(_:)``.
        try forEachObjectMember { parser throws(JSONParseError) in
            try parser.parseEnvelopeKey()
        } value: { member, parser throws(JSONParseError) in
            switch member {
            case .jsonrpc: jsonrpc = try parser.parseVersion()
            case .method: method = try parser.parseValue()
            case .id: id = try parser.parseValue()
            case .params: params = try parser.parseValue()
            case .other: _ = try parser.parseValue()
            }
        }
        return RPCInboundEntry.validate(jsonrpc: jsonrpc, method: method, id: id, params: params)
    }

    /// Reads the value of `jsonrpc`. The expected `"2.0"` is recognised from its bytes, without
    /// making a string; anything else is parsed in full, for the error message.
    private mutating func parseVersion() throws(JSONParseError) -> JSONValue {
        let expected: StaticString = "\"2.0\""
        let count = expected.utf8CodeUnitCount
        if index + count <= bytes.count,
            memcmp(bytes.baseAddress! + index, expected.utf8Start, count) == 0  // in bounds: checked just before
        {
            index += count
            return Self.version
        }
        return try parseValue()
    }

    private static let version: JSONValue = "2.0"

    private enum EnvelopeMember {
        case jsonrpc, method, id, params, other
    }

    /// Reads a key and says which member it names, comparing bytes when the key has no escapes.
    private mutating func parseEnvelopeKey() throws(JSONParseError) -> EnvelopeMember {
        let quote = index
        var end = quote + 1
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 {
            end += 1
        }
        guard end < bytes.count, bytes[end] == UInt8(ascii: "\"") else {
            // Escapes, control characters or the end of input: let the full string parser decide.
            return Self.member(named: try parseString())
        }
        let key = UnsafeRawBufferPointer(rebasing: bytes[(quote + 1)..<end])
        index = end + 1
        if Self.equals(key, "jsonrpc") { return .jsonrpc }
        if Self.equals(key, "method") { return .method }
        if Self.equals(key, "id") { return .id }
        if Self.equals(key, "params") { return .params }
        // Other keys are ignored, but must still be valid UTF-8.
        guard key.allSatisfy({ $0 < 0x80 }) || String(validating: key, as: UTF8.self) != nil else {
            throw error("invalid UTF-8 in string", at: quote)
        }
        return .other
    }

    private static func member(named name: String) -> EnvelopeMember {
        switch name {
        case "jsonrpc": return .jsonrpc
        case "method": return .method
        case "id": return .id
        case "params": return .params
        default: return .other
        }
    }

    private static func equals(_ bytes: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
        guard bytes.count == name.utf8CodeUnitCount else { return false }
        return memcmp(bytes.baseAddress!, name.utf8Start, bytes.count) == 0  // count > 0: names are non-empty
    }
}

#if canImport(Glibc)
import Glibc
#endif
