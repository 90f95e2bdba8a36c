import SidecarProtocol

/// Structural identity, stricter than `==`: it tells `.int(1)` from `.double(1)`, `0.0` from
/// `-0.0`, object members in a different order, and strings that are only canonically
/// equivalent. Round trips must preserve all of that, so their tests compare with this.
func isIdentical(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.null, .null):
        return true
    case (.bool(let a), .bool(let b)):
        return a == b
    case (.int(let a), .int(let b)):
        return a == b
    case (.double(let a), .double(let b)):
        return a.bitPattern == b.bitPattern
    case (.string(let a), .string(let b)):
        return a.utf8.elementsEqual(b.utf8)
    case (.array(let a), .array(let b)):
        return a.count == b.count && zip(a, b).allSatisfy { isIdentical($0, $1) }
    case (.object(let a), .object(let b)):
        return a.count == b.count
            && zip(a, b).allSatisfy { $0.key.utf8.elementsEqual($1.key.utf8) && isIdentical($0.value, $1.value) }
    default:
        return false
    }
}
