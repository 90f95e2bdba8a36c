/// Why a text is not a valid RFC 9535 JSONPath query, and where.
///
/// Every query the RFC rules out is rejected with one of these, including queries that are
/// well-formed but not well-typed (`$[?length(@)]`, `$[?@.* == 1]`). The daemon answers such a
/// selector with a JSON-RPC `-32602` error carrying ``description``.
public struct JSONPathParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where the problem was found: the number of Unicode scalars (characters) before it, from 0.
    public var offset: Int
    /// What was wrong, in words a person can act on.
    public var reason: String

    /// An error at `offset` (in Unicode scalars from the start of the query) for `reason`.
    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    /// `invalid JSONPath: <reason> (at offset <offset>)`, the text a client is shown.
    public var description: String { "invalid JSONPath: \(reason) (at offset \(offset))" }
}
