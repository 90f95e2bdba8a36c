import SidecarProtocol

/// The function extensions of RFC 9535 section 2.4, with their declared types.
enum JSONPathFunction: String, Sendable, CaseIterable {
    case length
    case count
    case match
    case search
    case value

    /// The three types of the RFC's function type system (section 2.4.1).
    enum DeclaredType: Sendable {
        /// A JSON value, or Nothing.
        case value
        /// LogicalTrue or LogicalFalse.
        case logical
        /// A node list.
        case nodes
    }

    var parameters: [DeclaredType] {
        switch self {
        case .length: return [.value]
        case .count: return [.nodes]
        case .match, .search: return [.value, .value]
        case .value: return [.nodes]
        }
    }

    var result: DeclaredType {
        switch self {
        case .length, .count, .value: return .value
        case .match, .search: return .logical
        }
    }

    /// `length(@.a)` style, for messages.
    var signature: String {
        switch self {
        case .length: return "length(value)"
        case .count: return "count(query)"
        case .match: return "match(string, iregexp)"
        case .search: return "search(string, iregexp)"
        case .value: return "value(query)"
        }
    }

    static let namesForMessages = allCases.map { "\($0.rawValue)()" }.joined(separator: ", ")
}

/// A call of a function extension whose arguments have been checked against its declared types.
struct FunctionCall: Sendable {
    var function: JSONPathFunction
    var arguments: [FunctionArgument]
    /// For `match`/`search` with a string literal pattern: the pattern compiled once at parse
    /// time (`nil` inside when it is not a valid I-Regexp, which makes the function false).
    var literalPattern: IRegexp??
}

/// An argument, already in the form its parameter's declared type needs.
enum FunctionArgument: Sendable {
    /// For a `ValueType` parameter: a literal, a singular query or a value-typed function.
    case value(FilterComparable)
    /// For a `NodesType` parameter: any query.
    case nodes(FilterQuery)
    /// For a `NodesType` parameter: a function whose result is a node list.
    case nodesFunction(FunctionCall)
    /// For a `LogicalType` parameter.
    case logical(FilterExpression)
}

/// What a function returns at evaluation time.
enum FunctionResult {
    case value(JSONValue?)
    case logical(Bool)
    case nodes([JSONValue])

    /// The result as a test (RFC 9535 section 2.4.2): a node list counts as true when not empty.
    var isTrue: Bool {
        switch self {
        case .logical(let bool): return bool
        case .nodes(let nodes): return !nodes.isEmpty
        case .value: return false
        }
    }

    var singleValue: JSONValue? {
        if case .value(let value) = self { return value }
        return nil
    }
}

// MARK: - Implementations

extension JSONPathFunction {
    /// `length()`: characters (Unicode scalars) of a string, elements of an array, members of
    /// an object; Nothing for anything else.
    static func length(of value: JSONValue?) -> JSONValue? {
        switch value {
        case .string(let string)?: return .int(Int64(string.unicodeScalars.count))
        case .array(let elements)?: return .int(Int64(elements.count))
        case .object(let members)?: return .int(Int64(members.count))
        default: return .none
        }
    }

    /// `value()`: the value of the only node of a node list; Nothing when there are none or several.
    static func value(of nodes: [JSONValue]) -> JSONValue? {
        nodes.count == 1 ? nodes[0] : .none
    }

    /// `match()` and `search()`: false unless both arguments are strings and the pattern is a
    /// valid I-Regexp; then whether it matches the whole string (`match`) or some substring.
    static func regexTest(
        _ function: JSONPathFunction,
        subject: JSONValue?,
        pattern: JSONValue?,
        literalPattern: IRegexp??,
        budget: JSONPathEvaluator.EvaluationBudget
    ) -> Bool {
        guard case .string(let string)? = subject else { return false }
        let regex: IRegexp?
        if let literalPattern {
            regex = literalPattern
        } else if case .string(let text)? = pattern {
            regex = IRegexp(text)
        } else {
            return false
        }
        guard let regex else { return false }
        let (steps, overflow) = regex.programSize.multipliedReportingOverflow(by: string.utf8.count + 1)
        guard budget.spendRegexSteps(overflow ? .max : steps) else { return false }
        return function == .match ? regex.matchesWhole(string) : regex.matchesPart(of: string)
    }
}
