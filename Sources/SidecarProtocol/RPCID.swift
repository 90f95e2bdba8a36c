/// A JSON-RPC request id: a string, a number or null, echoed back unchanged in the response.
public enum RPCID: Hashable, Sendable, CustomStringConvertible {
    case string(String)
    case int(Int64)
    /// A number with a fraction or exponent; allowed by the specification, though discouraged.
    case double(Double)
    case null

    /// The id held by `json`, or `nil` when `json` cannot be an id (a boolean, array or object).
    public init?(json: JSONValue) {
        switch json {
        case .string(let string): self = .string(string)
        case .int(let int): self = .int(int)
        case .double(let double): self = .double(double)
        case .null: self = .null
        default: return nil
        }
    }

    public var jsonValue: JSONValue {
        switch self {
        case .string(let string): return .string(string)
        case .int(let int): return .int(int)
        case .double(let double): return .double(double)
        case .null: return .null
        }
    }

    public var description: String { JSONWriter.string(jsonValue) }
}
