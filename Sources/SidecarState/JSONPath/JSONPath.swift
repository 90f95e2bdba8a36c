import SidecarProtocol

/// A compiled RFC 9535 JSONPath query.
///
/// Parsing checks the whole grammar and the function type system once; selecting then only
/// walks the compiled form, so one `JSONPath` can be evaluated against many documents (the
/// daemon re-evaluates a subscription's selector after every write).
///
/// ```swift
/// let running = try JSONPath(parsing: "$.executions[?@.status == 'running']")
/// for (path, value) in running.select(in: document) {
///     print(path, value)   // $['executions']['e1'] {"status":"running",...}
/// }
/// ```
///
/// Supported: child and descendant segments; name, wildcard, index, slice and filter
/// selectors in bracket and shorthand notation; comparisons, `&&`, `||`, `!`, parentheses,
/// existence tests, relative (`@`) and absolute (`$`) queries in filters; and the functions
/// `length()`, `count()`, `match()`, `search()` (I-Regexp, RFC 9485) and `value()`.
public struct JSONPath: Sendable, CustomStringConvertible {
    /// The query text as given.
    public let text: String
    private let segments: [JSONPathSegment]
    private let singular: SingularQuery?
    /// The deepest node at or below which every result lies; see ``scope(of:)``.
    public let scope: JSONPointer

    /// Compiles `text`.
    /// - Parameter text: a JSONPath query such as `$.settings.llm` or `$..[?@.price < 10]`.
    /// - Throws: ``JSONPathParseError`` when `text` is not a well-formed, well-typed query
    ///   (RFC 9535 section 2.1: such a query must be rejected, never evaluated).
    public init(parsing text: String) throws(JSONPathParseError) {
        var parser = JSONPathParser(text)
        self.text = text
        self.segments = try parser.parseQuery()
        var steps: [SingularQuery.Step]? = []
        for segment in segments {
            guard case .child(let selectors) = segment, selectors.count == 1 else {
                steps = nil
                break
            }
            switch selectors[0] {
            case .name(let name): steps?.append(.name(name))
            case .index(let index): steps?.append(.index(index))
            default: steps = nil
            }
            if steps == nil { break }
        }
        self.singular = steps.map { SingularQuery(isAbsolute: true, steps: $0) }
        self.scope = Self.scope(of: segments)
    }

    /// Whether the query can select at most one node (only names and indexes, e.g. `$.a[0]`).
    public var isSingular: Bool { singular != nil }

    public var description: String { text }

    /// The nodes the query selects in `document`, in the order RFC 9535 defines (document
    /// order; object members in the order they were written), each with its normalized path.
    /// - Parameter document: the value `$` stands for.
    /// - Returns: the node list; empty when nothing matches (never an error).
    public func select(in document: JSONValue) -> [(path: NormalizedPath, value: JSONValue)] {
        select(in: document, nodeLimit: .max) ?? []
    }

    /// The values of the nodes the query selects in `document`, in order, without their paths
    /// (cheaper than ``select(in:)`` when the paths are not needed).
    public func values(in document: JSONValue) -> [JSONValue] {
        values(in: document, nodeLimit: .max) ?? []
    }

    /// The most nodes the daemon lets one evaluation select on its way (every segment and
    /// filter query counted): a few segments can multiply a node list, each `[*,*]` doubling it.
    public static let maximumNodes = 1_000_000

    /// ``select(in:)``, or `nil` once the evaluation has selected more than `nodeLimit` nodes on
    /// its way (every segment and filter query counted); it stops there.
    public func select(in document: JSONValue, nodeLimit: Int) -> [(path: NormalizedPath, value: JSONValue)]? {
        let evaluator = JSONPathEvaluator(root: document, recordsPaths: true, budget: .init(limit: nodeLimit))
        let nodes = evaluator.select(segments, from: .init(value: document, path: nil))
        guard !evaluator.budget.isExhausted else { return nil }
        return nodes.map { node in (node.path?.normalizedPath ?? .root, node.value) }
    }

    /// ``values(in:)``, or `nil` as ``select(in:nodeLimit:)``.
    public func values(in document: JSONValue, nodeLimit: Int) -> [JSONValue]? {
        let evaluator = JSONPathEvaluator(root: document, recordsPaths: false, budget: .init(limit: nodeLimit))
        if let singular {
            return evaluator.value(of: singular, current: document).map { [$0] } ?? []
        }
        let values = evaluator.select(segments, from: .init(value: document, path: nil)).map(\.value)
        return evaluator.budget.isExhausted ? nil : values
    }
}
