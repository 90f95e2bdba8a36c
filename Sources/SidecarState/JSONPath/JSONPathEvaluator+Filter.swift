import SidecarProtocol

// Filter expressions and function calls, evaluated for one current node `@`.

extension JSONPathEvaluator {
    /// Whether `expression` holds for the current node.
    func test(_ expression: FilterExpression, current: JSONValue) -> Bool {
        switch expression {
        case .or(let operands):
            for operand in operands where test(operand, current: current) { return true }
            return false
        case .and(let operands):
            for operand in operands where !test(operand, current: current) { return false }
            return true
        case .not(let operand):
            return !test(operand, current: current)
        case .comparison(let left, let comparison, let right):
            return JSONPathComparison.evaluate(
                value(of: left, current: current),
                comparison,
                value(of: right, current: current)
            )
        case .exists(let query):
            if let singular = query.singular { return value(of: singular, current: current) != nil }
            return !nodes(of: query, current: current).isEmpty
        case .test(let call):
            return evaluate(call, current: current).isTrue
        }
    }

    /// The value of a comparable, or `nil` for Nothing.
    func value(of comparable: FilterComparable, current: JSONValue) -> JSONValue? {
        switch comparable {
        case .literal(let literal): return literal
        case .query(let query): return value(of: query, current: current)
        case .function(let call): return evaluate(call, current: current).singleValue
        }
    }

    /// The node a singular query selects, or `nil` when it selects none.
    func value(of query: SingularQuery, current: JSONValue) -> JSONValue? {
        var value = query.isAbsolute ? root : current
        for step in query.steps {
            switch (step, value) {
            case (.name(let name), .object(let members)):
                guard let member = Self.member(named: name, in: members) else { return .none }
                value = member
            case (.index(let index), .array(let elements)):
                guard let position = Self.arrayIndex(index, count: elements.count) else { return .none }
                value = elements[position]
            default:
                return .none
            }
        }
        return value
    }

    /// The values a filter query selects, in order.
    func nodes(of query: FilterQuery, current: JSONValue) -> [JSONValue] {
        if let singular = query.singular {
            return value(of: singular, current: current).map { [$0] } ?? []
        }
        let walker = JSONPathEvaluator(root: root, recordsPaths: false, budget: budget)
        let start = Node(value: query.isAbsolute ? root : current, path: nil)
        return walker.select(query.segments, from: start).map(\.value)
    }

    // MARK: - Functions

    func evaluate(_ call: FunctionCall, current: JSONValue) -> FunctionResult {
        let arguments = call.arguments
        switch call.function {
        case .length:
            return .value(JSONPathFunction.length(of: valueArgument(arguments[0], current: current)))
        case .count:
            return .value(.int(Int64(nodesArgument(arguments[0], current: current).count)))
        case .value:
            return .value(JSONPathFunction.value(of: nodesArgument(arguments[0], current: current)))
        case .match, .search:
            return .logical(
                JSONPathFunction.regexTest(
                    call.function,
                    subject: valueArgument(arguments[0], current: current),
                    pattern: call.literalPattern == nil ? valueArgument(arguments[1], current: current) : .none,
                    literalPattern: call.literalPattern,
                    budget: budget
                )
            )
        }
    }

    private func valueArgument(_ argument: FunctionArgument, current: JSONValue) -> JSONValue? {
        switch argument {
        case .value(let comparable): return value(of: comparable, current: current)
        case .nodes, .nodesFunction, .logical: return .none  // excluded by the parser's type checks
        }
    }

    private func nodesArgument(_ argument: FunctionArgument, current: JSONValue) -> [JSONValue] {
        switch argument {
        case .nodes(let query):
            return nodes(of: query, current: current)
        case .nodesFunction(let call):
            if case .nodes(let nodes) = evaluate(call, current: current) { return nodes }
            return []
        case .value, .logical:
            return []  // excluded by the parser's type checks
        }
    }
}
