import SidecarProtocol

/// Walks a compiled query over a document (RFC 9535 sections 2.5 and 2.3.5).
///
/// Paths are recorded only when asked for, as links to the parent's path, so selecting values
/// alone allocates nothing per node beyond the result list.
struct JSONPathEvaluator {
    /// The document's root, the value of `$` inside filters too.
    let root: JSONValue
    let recordsPaths: Bool
    /// What this evaluation may still spend, filter queries included; shared by them.
    let budget: EvaluationBudget

    init(root: JSONValue, recordsPaths: Bool, budget: EvaluationBudget = EvaluationBudget(limit: .max)) {
        self.root = root
        self.recordsPaths = recordsPaths
        self.budget = budget
    }

    /// How many nodes an evaluation may select in all, counting every segment and every filter
    /// query on the way. A few segments can multiply a node list (each `[*,*]` doubles it), so
    /// without a bound a short query could take minutes and gigabytes.
    ///
    /// The `match()` and `search()` calls of filters are counted too, in steps of their regular
    /// expression (its program's size times the subject's length, what a run may take): a
    /// large pattern against a long string takes seconds, and a filter runs it for every node.
    final class EvaluationBudget {
        let limit: Int
        private(set) var spent = 0
        /// The regular-expression steps allowed: ``regexStepsPerNode`` per node of `limit`.
        let regexStepLimit: Int
        private(set) var regexSteps = 0

        /// Steps of a regular expression worth one node of the budget.
        static let regexStepsPerNode = 100

        init(limit: Int) {
            self.limit = limit
            let (steps, overflow) = limit.multipliedReportingOverflow(by: Self.regexStepsPerNode)
            self.regexStepLimit = overflow ? .max : steps
        }

        /// Counts one selected node.
        @inline(__always)
        func spendNode() {
            spent += 1
        }

        /// Counts a regular-expression run of at most `steps`; `false` (and the budget is
        /// exhausted) when it would pass the limit, and then it is not to be run.
        func spendRegexSteps(_ steps: Int) -> Bool {
            let (total, overflow) = regexSteps.addingReportingOverflow(steps)
            regexSteps = overflow ? .max : total
            return regexSteps <= regexStepLimit
        }

        var isExhausted: Bool { spent > limit || regexSteps > regexStepLimit }
    }

    /// A selected node: its value and, when recorded, its path.
    struct Node {
        var value: JSONValue
        var path: PathLink?
    }

    /// A path as a chain from the node back towards the root (`nil` parent: a child of the root).
    final class PathLink {
        let parent: PathLink?
        let element: NormalizedPath.Element

        init(parent: PathLink?, element: NormalizedPath.Element) {
            self.parent = parent
            self.element = element
        }

        var normalizedPath: NormalizedPath {
            var elements: [NormalizedPath.Element] = []
            var link: PathLink? = self
            while let current = link {
                elements.append(current.element)
                link = current.parent
            }
            return NormalizedPath(elements.reversed())
        }
    }

    /// The nodes the segments select from `start`, in order (cut short, once ``budget`` is
    /// exhausted: check it).
    func select(_ segments: [JSONPathSegment], from start: Node) -> [Node] {
        var nodes = [start]
        for segment in segments {
            guard !budget.isExhausted else { return [] }
            var next: [Node] = []
            switch segment {
            case .child(let selectors):
                for node in nodes {
                    apply(selectors, to: node, into: &next)
                }
            case .descendant(let selectors):
                for node in nodes {
                    applyToDescendants(selectors, of: node, into: &next)
                }
            }
            nodes = next
            if nodes.isEmpty { break }
        }
        return nodes
    }

    /// The selectors applied to `node` and then to each of its descendants, in document order.
    private func applyToDescendants(_ selectors: [JSONPathSelector], of node: Node, into result: inout [Node]) {
        guard !budget.isExhausted else { return }
        apply(selectors, to: node, into: &result)
        switch node.value {
        case .array(let elements):
            for (index, element) in elements.enumerated() where element.isContainer {
                applyToDescendants(selectors, of: child(element, of: node, .index(index)), into: &result)
            }
        case .object(let members):
            for (name, value) in members where value.isContainer {
                applyToDescendants(selectors, of: child(value, of: node, .name(name)), into: &result)
            }
        default:
            break
        }
    }

    private func apply(_ selectors: [JSONPathSelector], to node: Node, into result: inout [Node]) {
        for selector in selectors where !budget.isExhausted {
            apply(selector, to: node, into: &result)
        }
    }

    private func apply(_ selector: JSONPathSelector, to node: Node, into result: inout [Node]) {
        switch (selector, node.value) {
        case (.name(let name), .object(let members)):
            if let value = Self.member(named: name, in: members) {
                result.append(child(value, of: node, .name(name)))
            }
        case (.wildcard, .object(let members)):
            for (name, value) in members {
                result.append(child(value, of: node, .name(name)))
            }
        case (.wildcard, .array(let elements)):
            for (index, element) in elements.enumerated() {
                result.append(child(element, of: node, .index(index)))
            }
        case (.index(let index), .array(let elements)):
            if let position = Self.arrayIndex(index, count: elements.count) {
                result.append(child(elements[position], of: node, .index(position)))
            }
        case (.slice(let slice), .array(let elements)):
            slice.forEachIndex(count: elements.count) { index in
                result.append(child(elements[index], of: node, .index(index)))
            }
        case (.filter(let expression), .array(let elements)):
            for (index, element) in elements.enumerated() where test(expression, current: element) {
                result.append(child(element, of: node, .index(index)))
            }
        case (.filter(let expression), .object(let members)):
            for (name, value) in members where test(expression, current: value) {
                result.append(child(value, of: node, .name(name)))
            }
        default:
            break
        }
    }

    /// A selected child node, counted against ``budget``.
    @inline(__always)
    private func child(_ value: JSONValue, of parent: Node, _ element: NormalizedPath.Element) -> Node {
        budget.spendNode()
        return Node(value: value, path: recordsPaths ? PathLink(parent: parent.path, element: element) : nil)
    }

    // MARK: - Lookups

    /// The member named exactly `name` (scalar for scalar: a canonically equivalent but
    /// differently encoded name is another name).
    static func member(named name: String, in members: JSONObject) -> JSONValue? {
        guard let index = members.index(forKey: name) else { return .none }
        guard members.keys[index].utf8.elementsEqual(name.utf8) else { return .none }
        return members.values[index]
    }

    /// The array position of an index, counted from the end when negative; `nil` when outside.
    static func arrayIndex(_ index: Int64, count: Int) -> Int? {
        let position = index >= 0 ? index : Int64(count) + index
        guard position >= 0, position < Int64(count) else { return nil }
        return Int(position)
    }
}

extension JSONValue {
    fileprivate var isContainer: Bool {
        switch self {
        case .array, .object: return true
        default: return false
        }
    }
}
