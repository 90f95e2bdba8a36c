import SidecarProtocol

// The compiled form of a query (RFC 9535 section 2.5): segments applied in turn, each made of
// selectors. The parser builds it once; evaluation only walks it.

/// One segment of a query: which children (or descendants) of each input node to select.
enum JSONPathSegment: Sendable {
    /// `[selectors]`, `.name` or `.*`: the selectors applied to each input node.
    case child([JSONPathSelector])
    /// `..[selectors]`, `..name` or `..*`: the selectors applied to each input node and to
    /// every node below it, in document order (a node before its descendants).
    case descendant([JSONPathSelector])
}

/// One selector inside a segment (RFC 9535 section 2.3).
enum JSONPathSelector: Sendable {
    /// `'name'`: the member of an object with exactly this name.
    case name(String)
    /// `*`: every element of an array, every member value of an object.
    case wildcard
    /// `3`, `-1`: one array element, counted from the end when negative.
    case index(Int64)
    /// `start:end:step`.
    case slice(JSONPathSlice)
    /// `?expression`: the children for which the expression holds.
    case filter(FilterExpression)
}

/// An array slice `start:end:step` (RFC 9535 section 2.3.4); absent parts take their defaults.
struct JSONPathSlice: Sendable {
    var start: Int64?
    var end: Int64?
    var step: Int64?

    /// The selected indexes of an array of `count` elements, in selection order.
    func forEachIndex(count: Int, _ body: (Int) -> Void) {
        let step = self.step ?? 1
        guard step != 0, count > 0 else { return }
        let length = Int64(count)
        // Operands are bounded by ±(2^53-1) at parse time, so none of this can overflow.
        func normalize(_ index: Int64) -> Int64 { index >= 0 ? index : length + index }
        if step > 0 {
            let lower = min(max(normalize(start ?? 0), 0), length)
            let upper = min(max(normalize(end ?? length), 0), length)
            var index = lower
            while index < upper {
                body(Int(index))
                index += step
            }
        } else {
            let upper = min(max(normalize(start ?? length - 1), -1), length - 1)
            let lower = min(max(end.map(normalize) ?? -1, -1), length - 1)
            var index = upper
            while lower < index {
                body(Int(index))
                index += step
            }
        }
    }
}
