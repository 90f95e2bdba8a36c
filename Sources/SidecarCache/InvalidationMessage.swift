import SidecarProtocol

/// What one daemon tells the others that share its Redis, on the invalidation channel, so they
/// drop the same keys from their L1: `{"from": "<instance>", "op": "set"|"delete", "key": "…"}`,
/// `{"from": …, "op": "invalidate", "pattern": "…"}` or `{"from": …, "op": "clear"}`.
public struct InvalidationMessage: Hashable, Sendable {
    public enum Operation: Hashable, Sendable {
        /// The key has a new value (a set) or none (a delete): drop it.
        case key(String)
        /// Drop the keys that match.
        case pattern(GlobPattern)
        /// Drop everything.
        case clear
    }

    /// The daemon that sent it; a daemon ignores its own messages.
    public var sender: String
    public var operation: Operation

    public init(sender: String, operation: Operation) {
        self.sender = sender
        self.operation = operation
    }

    /// The message as sent: compact JSON.
    public var bytes: [UInt8] {
        var object: JSONObject = ["from": .string(sender)]
        switch operation {
        case .key(let key):
            object["op"] = "drop"
            object["key"] = .string(key)
        case .pattern(let pattern):
            object["op"] = "invalidate"
            object["pattern"] = .string(pattern.pattern)
        case .clear:
            object["op"] = "clear"
        }
        var bytes: [UInt8] = []
        JSONWriter.write(.object(object), into: &bytes)
        return bytes
    }

    /// Reads a message; `nil` for anything else on the channel.
    public init?(bytes: [UInt8]) {
        guard case .object(let object)? = try? JSONParser.parse(bytes: bytes),
            case .string(let sender)? = object["from"], case .string(let op)? = object["op"]
        else { return nil }
        self.sender = sender
        switch op {
        case "drop":
            guard case .string(let key)? = object["key"] else { return nil }
            operation = .key(key)
        case "invalidate":
            guard case .string(let text)? = object["pattern"], let pattern = try? GlobPattern(text) else { return nil }
            operation = .pattern(pattern)
        case "clear":
            operation = .clear
        default:
            return nil
        }
    }
}
