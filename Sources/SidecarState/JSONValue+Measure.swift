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

    /// How many values the value holds, itself included (every scalar and container counts
    /// one), or `nil` as soon as the count passes `limit`: counting stops there, so a value
    /// whose parts share storage many times over costs no more than `limit` steps.
    func valueCount(upTo limit: Int) -> Int? {
        var count = 0
        return countValues(into: &count, limit: limit) ? count : nil
    }

    /// Adds this value's count to `count`; `false` once it passes `limit`.
    private func countValues(into count: inout Int, limit: Int) -> Bool {
        count += 1
        guard count <= limit else { return false }
        switch self {
        case .object(let members):
            for value in members.values where !value.countValues(into: &count, limit: limit) { return false }
        case .array(let elements):
            for value in elements where !value.countValues(into: &count, limit: limit) { return false }
        default:
            break
        }
        return true
    }
}
