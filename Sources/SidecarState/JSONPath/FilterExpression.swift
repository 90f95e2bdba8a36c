import SidecarProtocol

// The compiled form of a filter selector's logical expression (RFC 9535 section 2.3.5).
// Every node here is already well-typed: the parser rejects what the type system forbids.

/// A logical expression: true or false for a given current node `@`.
indirect enum FilterExpression: Sendable {
    /// `a || b || ...`
    case or([FilterExpression])
    /// `a && b && ...`
    case and([FilterExpression])
    /// `!a`
    case not(FilterExpression)
    /// `left op right`, both sides single values (or Nothing).
    case comparison(FilterComparable, ComparisonOperator, FilterComparable)
    /// A query used as a test: true when it selects at least one node.
    case exists(FilterQuery)
    /// A function whose result is a logical value (or a node list, true when not empty).
    case test(FunctionCall)
}

/// One of the six comparison operators.
enum ComparisonOperator: String, Sendable {
    case equal = "=="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
}

/// A side of a comparison, or a `ValueType` function argument: it yields one value or Nothing.
enum FilterComparable: Sendable {
    case literal(JSONValue)
    case query(SingularQuery)
    /// A function whose declared result is `ValueType`.
    case function(FunctionCall)
}

/// A query inside a filter, relative to `@` or absolute from `$`.
struct FilterQuery: Sendable {
    var isAbsolute: Bool
    var segments: [JSONPathSegment]
    /// The same query as a chain of single steps, when it is singular (RFC 9535 section 2.3.5.1).
    var singular: SingularQuery?
}

/// A query that selects at most one node: names and indexes only (`@.a[0]`, `$['b']`).
struct SingularQuery: Sendable {
    enum Step: Sendable {
        case name(String)
        case index(Int64)
    }

    var isAbsolute: Bool
    var steps: [Step]
}
