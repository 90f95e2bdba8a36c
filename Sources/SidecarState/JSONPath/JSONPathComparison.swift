import SidecarProtocol

/// Comparison in filters (RFC 9535 section 2.3.5.2.2), where either side may be Nothing (`nil`).
///
/// Strings compare by their Unicode scalars exactly, with no normalization (Swift's `String ==`
/// would treat canonically equivalent strings as equal); ordering is by code point.
enum JSONPathComparison {
    static func evaluate(_ left: JSONValue?, _ comparison: ComparisonOperator, _ right: JSONValue?) -> Bool {
        switch comparison {
        case .equal: return isEqual(left, right)
        case .notEqual: return !isEqual(left, right)
        case .less: return isLess(left, right)
        case .lessOrEqual: return isLess(left, right) || isEqual(left, right)
        case .greater: return isLess(right, left)
        case .greaterOrEqual: return isLess(right, left) || isEqual(left, right)
        }
    }

    /// `==`: Nothing equals only Nothing; otherwise JSON equality.
    static func isEqual(_ left: JSONValue?, _ right: JSONValue?) -> Bool {
        switch (left, right) {
        case (.none, .none): return true
        case (let left?, let right?): return isEqual(left, right)
        default: return false
        }
    }

    /// `<`: defined only between two numbers and between two strings; false otherwise.
    static func isLess(_ left: JSONValue?, _ right: JSONValue?) -> Bool {
        switch (left, right) {
        case (.string(let a)?, .string(let b)?):
            // UTF-8 byte order is code point order.
            return a.utf8.lexicographicallyPrecedes(b.utf8)
        case (let a?, let b?):
            return compareNumbers(a, b) == .some(-1)
        default:
            return false
        }
    }

    /// JSON equality: numbers by value (`1 == 1.0`), strings scalar by scalar, arrays element
    /// by element, objects by member names and values regardless of order.
    static func isEqual(_ left: JSONValue, _ right: JSONValue) -> Bool {
        switch (left, right) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.string(let a), .string(let b)): return a.utf8.elementsEqual(b.utf8)
        case (.array(let a), .array(let b)):
            guard a.count == b.count else { return false }
            for index in a.indices where !isEqual(a[index], b[index]) { return false }
            return true
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for (name, value) in a {
                guard let other = JSONPathEvaluator.member(named: name, in: b), isEqual(value, other) else { return false }
            }
            return true
        default:
            return compareNumbers(left, right) == .some(0)
        }
    }

    /// -1, 0 or 1 when both are numbers, compared exactly (also an `Int64` against a `Double`);
    /// `nil` when either is not a number.
    static func compareNumbers(_ left: JSONValue, _ right: JSONValue) -> Int? {
        switch (left, right) {
        case (.int(let a), .int(let b)):
            return a < b ? -1 : (a == b ? 0 : 1)
        case (.double(let a), .double(let b)):
            return a < b ? -1 : (a == b ? 0 : 1)
        case (.int(let a), .double(let b)):
            return compare(a, b)
        case (.double(let a), .int(let b)):
            return -compare(b, a)
        default:
            return nil
        }
    }

    /// Compares an integer with a double without rounding either.
    private static func compare(_ int: Int64, _ double: Double) -> Int {
        // 2^63 is exactly representable; every Int64 lies in [-2^63, 2^63).
        if double >= 9_223_372_036_854_775_808.0 { return -1 }
        if double < -9_223_372_036_854_775_808.0 { return 1 }
        let whole = double.rounded(.down)
        let truncated = Int64(whole)  // in range after the checks above
        if int < truncated { return -1 }
        if int > truncated { return 1 }
        return whole == double ? 0 : -1
    }
}
