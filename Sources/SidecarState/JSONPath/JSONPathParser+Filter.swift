import SidecarProtocol

// Filter expressions (RFC 9535 section 2.3.5) and function calls (section 2.4), with the
// type checks of section 2.4.3: a query that is not well-typed is a parse error.

extension JSONPathParser {
    /// What an operand position holds before its context decides how it is used.
    enum Operand {
        case literal(JSONValue)
        case query(FilterQuery)
        case function(FunctionCall)
    }

    /// A parsed expression: a bare operand (whose role its context decides) or a logical one.
    enum ParsedExpression {
        case operand(Operand, at: Int)
        case logical(FilterExpression)
    }

    /// `filter-selector = "?" S logical-expr`, after `?` and any blank space.
    mutating func parseFilter() throws(JSONPathParseError) -> FilterExpression {
        try asLogical(try parseLogicalOr())
    }

    // MARK: - Logical expressions

    /// `logical-or-expr = logical-and-expr *(S "||" S logical-and-expr)`
    private mutating func parseLogicalOr() throws(JSONPathParseError) -> ParsedExpression {
        let first = try parseLogicalAnd()
        var operands: [FilterExpression] = []
        while true {
            let beforeBlank = position
            skipBlank()
            guard peek == "|", peek(at: 1) == "|" else {
                position = beforeBlank
                break
            }
            if operands.isEmpty { operands.append(try asLogical(first)) }
            position += 2
            skipBlank()
            operands.append(try asLogical(try parseLogicalAnd()))
        }
        return operands.isEmpty ? first : .logical(.or(operands))
    }

    /// `logical-and-expr = basic-expr *(S "&&" S basic-expr)`
    private mutating func parseLogicalAnd() throws(JSONPathParseError) -> ParsedExpression {
        let first = try parseBasic()
        var operands: [FilterExpression] = []
        while true {
            let beforeBlank = position
            skipBlank()
            guard peek == "&", peek(at: 1) == "&" else {
                position = beforeBlank
                break
            }
            if operands.isEmpty { operands.append(try asLogical(first)) }
            position += 2
            skipBlank()
            operands.append(try asLogical(try parseBasic()))
        }
        return operands.isEmpty ? first : .logical(.and(operands))
    }

    /// `basic-expr = paren-expr / comparison-expr / test-expr`
    private mutating func parseBasic() throws(JSONPathParseError) -> ParsedExpression {
        let start = position
        if peek == "!" {
            position += 1
            skipBlank()
            if peek == "(" { return .logical(.not(try parseParenthesized())) }
            let operandStart = position
            let test = try asLogical(.operand(try parseOperand(), at: operandStart))
            let afterOperand = position
            skipBlank()
            if comparisonOperatorAhead() != nil {
                throw error("'!' cannot apply to a comparison directly; write it as !(left op right)", at: start)
            }
            position = afterOperand
            return .logical(.not(test))
        }
        if peek == "(" { return .logical(try parseParenthesized()) }
        let left = try parseOperand()
        let afterLeft = position
        skipBlank()
        guard let comparison = comparisonOperatorAhead() else {
            if peek == "=" {
                throw error("'=' is not an operator; compare with '=='")
            }
            position = afterLeft
            return .operand(left, at: start)
        }
        position += comparison.rawValue.unicodeScalars.count
        skipBlank()
        let rightStart = position
        let right = try parseOperand()
        return .logical(
            .comparison(
                try asComparable(left, at: start, in: comparison),
                comparison,
                try asComparable(right, at: rightStart, in: comparison)
            )
        )
    }

    /// `paren-expr`'s `"(" S logical-expr S ")"`, at the `(`.
    private mutating func parseParenthesized() throws(JSONPathParseError) -> FilterExpression {
        let open = position
        try enterNesting()
        defer { nesting -= 1 }
        position += 1
        skipBlank()
        let inner = try asLogical(try parseLogicalOr())
        skipBlank()
        guard peek == ")" else {
            if peek == nil { throw error("the '(' at offset \(open) is never closed") }
            throw unexpected("inside parentheses; expected ')', '&&' or '||'")
        }
        position += 1
        return inner
    }

    private func comparisonOperatorAhead() -> ComparisonOperator? {
        switch (peek, peek(at: 1)) {
        case ("=", "="): return .equal
        case ("!", "="): return .notEqual
        case ("<", "="): return .lessOrEqual
        case (">", "="): return .greaterOrEqual
        case ("<", _): return .less
        case (">", _): return .greater
        default: return nil
        }
    }

    // MARK: - Operands

    /// A literal, a query (`@...` or `$...`) or a function call.
    private mutating func parseOperand() throws(JSONPathParseError) -> Operand {
        guard let scalar = peek else {
            throw error("the filter ends early; expected a query (@ or $), a literal or a function call")
        }
        switch scalar {
        case "@", "$":
            position += 1
            let (segments, singular) = try parseSegments()
            let isAbsolute = scalar == "$"
            return .query(
                FilterQuery(
                    isAbsolute: isAbsolute,
                    segments: segments,
                    singular: singular.map { SingularQuery(isAbsolute: isAbsolute, steps: $0) }
                )
            )
        case "'", "\"":
            return .literal(.string(try parseStringLiteral()))
        case "-", "0"..."9":
            return .literal(try parseNumberLiteral())
        case "a"..."z":
            let start = position
            var name = String.UnicodeScalarView()
            while let next = peek, ("a"..."z").contains(next) || next == "_" || Self.isDigit(next) {
                name.append(next)
                position += 1
            }
            let word = String(name)
            if peek == "(" { return .function(try parseFunctionCall(named: word, at: start)) }
            switch word {
            case "true": return .literal(.bool(true))
            case "false": return .literal(.bool(false))
            case "null": return .literal(.null)
            default:
                throw error(
                    "unknown word '\(word)'; expected a query (@ or $), a literal (a number, a quoted string, true, false, null) or a function call such as length(@)",
                    at: start
                )
            }
        default:
            throw unexpected("in a filter; expected a query (@ or $), a literal or a function call")
        }
    }

    /// `function-expr = function-name "(" S [function-argument *(S "," S function-argument)] S ")"`,
    /// at the `(`; each argument is checked against the declared parameter type.
    private mutating func parseFunctionCall(named name: String, at start: Int) throws(JSONPathParseError) -> FunctionCall {
        guard let function = JSONPathFunction(rawValue: name) else {
            throw error("unknown function '\(name)()'; the functions are \(JSONPathFunction.namesForMessages)", at: start)
        }
        try enterNesting()
        defer { nesting -= 1 }
        position += 1  // '('
        skipBlank()
        var arguments: [(ParsedExpression, at: Int)] = []
        if peek != ")" {
            while true {
                let argumentStart = position
                arguments.append((try parseLogicalOr(), argumentStart))
                skipBlank()
                if peek == "," {
                    position += 1
                    skipBlank()
                    continue
                }
                if peek == ")" { break }
                if peek == nil { throw error("the '(' of \(name)() at offset \(start) is never closed") }
                throw unexpected("in the arguments of \(name)(); expected ',' or ')'")
            }
        }
        position += 1  // ')'
        let parameters = function.parameters
        guard arguments.count == parameters.count else {
            let expected = parameters.count == 1 ? "1 argument" : "\(parameters.count) arguments"
            throw error("\(name)() takes \(expected), got \(arguments.count): \(function.signature)", at: start)
        }
        var typed: [FunctionArgument] = []
        for (index, (parameter, (argument, argumentStart))) in zip(parameters, arguments).enumerated() {
            typed.append(try asArgument(argument, at: argumentStart, of: function, number: index + 1, type: parameter))
        }
        var call = FunctionCall(function: function, arguments: typed, literalPattern: nil)
        if function == .match || function == .search,
            case .value(.literal(.string(let pattern))) = typed[1]
        {
            call.literalPattern = .some(IRegexp(pattern))
        }
        return call
    }

    // MARK: - Type checks

    /// An expression used where a logical value is needed (a filter, an operand of `&&`, `||`
    /// or `!`, a parenthesised expression): a query tests for existence, a function must
    /// return a logical value or a node list.
    private func asLogical(_ expression: ParsedExpression) throws(JSONPathParseError) -> FilterExpression {
        switch expression {
        case .logical(let logical):
            return logical
        case .operand(.query(let query), _):
            return .exists(query)
        case .operand(.function(let call), let start):
            guard call.function.result != .value else {
                throw error(
                    "\(call.function.rawValue)() returns a JSON value, which is not a test by itself; compare it, e.g. \(call.function.rawValue)(...) == 1",
                    at: start
                )
            }
            return .test(call)
        case .operand(.literal(let literal), let start):
            throw error("the literal \(literal) cannot stand alone as a test; compare it with something", at: start)
        }
    }

    /// One side of a comparison: a literal, a singular query or a function returning a value.
    private func asComparable(
        _ operand: Operand,
        at start: Int,
        in comparison: ComparisonOperator
    ) throws(JSONPathParseError) -> FilterComparable {
        switch operand {
        case .literal(let literal):
            return .literal(literal)
        case .query(let query):
            guard let singular = query.singular else {
                throw error(
                    "a query compared with '\(comparison.rawValue)' must be singular: only names and indexes such as @.a[0] or @['b'], with no blank space inside brackets; not wildcards, slices, filters or '..'",
                    at: start
                )
            }
            return .query(singular)
        case .function(let call):
            guard call.function.result == .value else {
                throw error(
                    "\(call.function.rawValue)() returns a logical value, which cannot be compared; use it alone as a test",
                    at: start
                )
            }
            return .function(call)
        }
    }

    /// A function argument converted to its parameter's declared type (RFC 9535 section 2.4.3).
    private func asArgument(
        _ argument: ParsedExpression,
        at start: Int,
        of function: JSONPathFunction,
        number: Int,
        type: JSONPathFunction.DeclaredType
    ) throws(JSONPathParseError) -> FunctionArgument {
        let which = "argument \(number) of \(function.rawValue)()"
        switch type {
        case .value:
            switch argument {
            case .operand(.literal(let literal), _):
                return .value(.literal(literal))
            case .operand(.query(let query), _):
                guard let singular = query.singular else {
                    throw error(
                        "\(which) must be a single value, so a query there must be singular (names and indexes only, such as @.a or @[0])",
                        at: start
                    )
                }
                return .value(.query(singular))
            case .operand(.function(let call), _) where call.function.result == .value:
                return .value(.function(call))
            case .operand(.function(let call), _):
                throw error("\(which) must be a value, but \(call.function.rawValue)() returns a logical value", at: start)
            case .logical:
                throw error("\(which) must be a value (a literal, a singular query or a function), not a logical expression", at: start)
            }
        case .nodes:
            switch argument {
            case .operand(.query(let query), _):
                return .nodes(query)
            case .operand(.function(let call), _) where call.function.result == .nodes:
                return .nodesFunction(call)
            default:
                throw error("\(which) must be a query such as @.items[*] or $..price", at: start)
            }
        case .logical:
            switch argument {
            case .operand(.literal, _):
                throw error("\(which) must be a logical expression, not a literal", at: start)
            default:
                return .logical(try asLogical(argument))
            }
        }
    }
}
