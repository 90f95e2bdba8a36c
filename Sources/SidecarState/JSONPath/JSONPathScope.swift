// Where in the document a query can look: a subscription to a query is re-evaluated only
// after changes that touch that part.

extension JSONPath {
    /// The deepest node at or below which the query finds all its results, as a pointer: its
    /// leading `.name` and non-negative `[index]` steps (`$.executions[?@.status=='running']`
    /// → `/executions`). A change neither above nor below it cannot change the result. A
    /// filter that reads from `$` (`$.a[?@.x == $.limit]`) can look anywhere: its scope is
    /// the root.
    static func scope(of segments: [JSONPathSegment]) -> JSONPointer {
        guard !segments.contains(where: \.readsFromRoot) else { return .root }
        var tokens: [String] = []
        for segment in segments {
            guard case .child(let selectors) = segment, selectors.count == 1 else { break }
            switch selectors[0] {
            case .name(let name): tokens.append(name)
            case .index(let index) where index >= 0: tokens.append(String(index))
            default: return JSONPointer(tokens: tokens)
            }
        }
        return JSONPointer(tokens: tokens)
    }
}

extension JSONPathSegment {
    fileprivate var readsFromRoot: Bool {
        switch self {
        case .child(let selectors), .descendant(let selectors): return selectors.contains(where: \.readsFromRoot)
        }
    }
}

extension JSONPathSelector {
    fileprivate var readsFromRoot: Bool {
        if case .filter(let expression) = self { return expression.readsFromRoot }
        return false
    }
}

extension FilterExpression {
    fileprivate var readsFromRoot: Bool {
        switch self {
        case .or(let operands), .and(let operands): return operands.contains(where: \.readsFromRoot)
        case .not(let operand): return operand.readsFromRoot
        case .comparison(let left, _, let right): return left.readsFromRoot || right.readsFromRoot
        case .exists(let query): return query.readsFromRoot
        case .test(let call): return call.readsFromRoot
        }
    }
}

extension FilterComparable {
    fileprivate var readsFromRoot: Bool {
        switch self {
        case .literal: return false
        case .query(let query): return query.isAbsolute
        case .function(let call): return call.readsFromRoot
        }
    }
}

extension FilterQuery {
    /// Absolute itself, or relative with a filter inside that is.
    fileprivate var readsFromRoot: Bool {
        isAbsolute || segments.contains(where: \.readsFromRoot)
    }
}

extension FunctionCall {
    fileprivate var readsFromRoot: Bool {
        arguments.contains { argument in
            switch argument {
            case .value(let comparable): return comparable.readsFromRoot
            case .nodes(let query): return query.readsFromRoot
            case .nodesFunction(let call): return call.readsFromRoot
            case .logical(let expression): return expression.readsFromRoot
            }
        }
    }
}
