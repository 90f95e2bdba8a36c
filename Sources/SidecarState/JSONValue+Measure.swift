import SidecarProtocol

extension JSONValue {
    /// How many containers deep the value nests: 0 for a scalar, 1 for `{}` or `[1]`.
    var nestingDepth: Int {
        switch self {
        case .object(let members): return 1 + (members.values.lazy.map(\.nestingDepth).max() ?? 0)
        case .array(let elements): return 1 + (elements.lazy.map(\.nestingDepth).max() ?? 0)
        default: return 0
        }
    }
}
