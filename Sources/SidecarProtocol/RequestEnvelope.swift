import NIOCore

/// The members of a request object that JSON-RPC gives meaning to, read straight from the
/// bytes without building the object: the server's hot path parses each frame exactly once
/// and allocates nothing for a request such as `{"jsonrpc":"2.0","id":1,"method":"sidecar.ping"}`.
struct RequestEnvelope {
    var jsonrpc: JSONValue?
    var method: JSONValue?
    var id: JSONValue?
    var params: JSONValue?

    init(jsonrpc: JSONValue? = nil, method: JSONValue? = nil, id: JSONValue? = nil, params: JSONValue? = nil) {
        self.jsonrpc = jsonrpc
        self.method = method
        self.id = id
        self.params = params
    }

    /// The envelope of an already parsed object.
    init(members: JSONObject) {
        self.init(jsonrpc: members["jsonrpc"], method: members["method"], id: members["id"], params: members["params"])
    }
}

/// One frame's top-level shape, with request objects read as envelopes.
enum InboundShape {
    /// One element: an object read as an envelope, or any other value (which is not a request).
    enum Element {
        case object(RequestEnvelope)
        case other(JSONValue)
    }

    case single(Element)
    case array([Element])
}

extension JSONParser {
    /// Parses one frame for the server: validates the whole text as strictly as ``parse(_:)``
    /// does, but reads request objects (at the top level and in a batch) as envelopes.
    static func parseInbound(_ buffer: ByteBuffer) throws(JSONParseError) -> InboundShape {
        let result: Result<InboundShape, JSONParseError> = buffer.withUnsafeReadableBytes { bytes in
            var parser = JSONParser(bytes: bytes)
            do throws(JSONParseError) { return .success(try parser.parseInboundDocument()) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private mutating func parseInboundDocument() throws(JSONParseError) -> InboundShape {
        skipWhitespace()
        guard let first = peek() else { throw error(bytes.isEmpty ? "empty message" : "no JSON value") }
        let shape: InboundShape
        if first == UInt8(ascii: "[") {
            shape = .array(try parseInboundArray())
        } else {
            shape = .single(try parseInboundElement())
        }
        skipWhitespace()
        guard index == bytes.count else { throw error("unexpected content after the JSON value") }
        return shape
    }

    private mutating func parseInboundArray() throws(JSONParseError) -> [InboundShape.Element] {
        var elements: [InboundShape.Element] = []
        try forEachArrayElement { parser throws(JSONParseError) in
            elements.append(try parser.parseInboundElement())
        }
        return elements
    }

    private mutating func parseInboundElement() throws(JSONParseError) -> InboundShape.Element {
        guard peek() == UInt8(ascii: "{") else { return .other(try parseValue()) }
        var envelope = RequestEnvelope()
        // Duplicate names: the last one wins, as in ``parse(_:)``.
        try forEachObjectMember { parser throws(JSONParseError) in
            try parser.parseEnvelopeKey()
        } value: { member, parser throws(JSONParseError) in
            let value = try parser.parseValue()
            switch member {
            case .jsonrpc: envelope.jsonrpc = value
            case .method: envelope.method = value
            case .id: envelope.id = value
            case .params: envelope.params = value
            case .other: break
            }
        }
        return .object(envelope)
    }

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
