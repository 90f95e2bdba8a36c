import SidecarProtocol

/// Reads RFC 9535 query text into segments, rejecting everything the grammar and the function
/// type system rule out.
///
/// The grammar is defined over Unicode scalars, so the parser walks the query's scalars;
/// offsets in errors count scalars from the start.
struct JSONPathParser {
    let scalars: [Unicode.Scalar]
    var position = 0
    /// How many parentheses, function calls and nested filters enclose the current position.
    var nesting = 0

    /// The deepest nesting of parentheses, function calls and filters accepted, so that a
    /// hostile query cannot exhaust the stack of the parser or the evaluator.
    static let maximumNesting = 64

    /// The largest magnitude of an index or slice bound: the I-JSON integer range, ±(2^53-1).
    static let maximumInteger: Int64 = (1 << 53) - 1

    init(_ text: String) {
        self.scalars = Array(text.unicodeScalars)
    }

    /// Parses a whole query: `$` followed by segments, nothing before or after.
    mutating func parseQuery() throws(JSONPathParseError) -> [JSONPathSegment] {
        guard peek == "$" else {
            if scalars.isEmpty { throw error("the query is empty; a JSONPath query starts with '$'") }
            if let first = peek, Self.isBlank(first) {
                throw error("a JSONPath query starts with '$'; remove the leading whitespace")
            }
            throw error("a JSONPath query starts with '$'")
        }
        position += 1
        let (segments, _) = try parseSegments()
        if let scalar = peek {
            if Self.isBlank(scalar) {
                var end = position
                while end < scalars.count, Self.isBlank(scalars[end]) { end += 1 }
                if end == scalars.count { throw error("unexpected whitespace at the end of the query") }
                position = end
            }
            throw unexpected("where a segment ('.name', '[...]' or '..') was expected")
        }
        return segments
    }

    // MARK: - Segments

    /// `segments = *(S segment)`. Also says whether the segments form a singular query
    /// (`*(S (name-segment / index-segment))`, no blank space inside the brackets).
    mutating func parseSegments() throws(JSONPathParseError) -> (segments: [JSONPathSegment], singular: [SingularQuery.Step]?) {
        var segments: [JSONPathSegment] = []
        var singular: [SingularQuery.Step]? = []
        while true {
            let beforeBlank = position
            skipBlank()
            switch peek {
            case "[":
                let (selectors, isTight) = try parseBracketedSelection()
                segments.append(.child(selectors))
                if isTight, selectors.count == 1, let step = Self.singularStep(selectors[0]) {
                    singular?.append(step)
                } else {
                    singular = nil
                }
            case ".":
                if peek(at: 1) == "." {
                    position += 2
                    segments.append(.descendant(try parseAfterDescendantDots()))
                    singular = nil
                } else {
                    position += 1
                    let selector = try parseShorthand(after: ".")
                    segments.append(.child([selector]))
                    if case .name(let name) = selector { singular?.append(.name(name)) } else { singular = nil }
                }
            default:
                // Blank space belongs to a segment only when one follows.
                position = beforeBlank
                return (segments, singular)
            }
        }
    }

    private static func singularStep(_ selector: JSONPathSelector) -> SingularQuery.Step? {
        switch selector {
        case .name(let name): return .name(name)
        case .index(let index): return .index(index)
        default: return nil
        }
    }

    /// What follows `..`: a bracketed selection, `*` or a member name.
    private mutating func parseAfterDescendantDots() throws(JSONPathParseError) -> [JSONPathSelector] {
        if peek == "[" { return try parseBracketedSelection().selectors }
        return [try parseShorthand(after: "..")]
    }

    /// `*` or `member-name-shorthand` right after `.` or `..`.
    private mutating func parseShorthand(after dots: String) throws(JSONPathParseError) -> JSONPathSelector {
        guard let scalar = peek else {
            throw error("the query ends after '\(dots)'; expected a member name, '*' or '['")
        }
        if scalar == "*" {
            position += 1
            return .wildcard
        }
        guard Self.isNameFirst(scalar) else {
            if Self.isBlank(scalar) { throw error("no whitespace is allowed after '\(dots)'") }
            throw unexpected(
                "after '\(dots)'; a member name there starts with a letter, '_' or a non-ASCII character (use ['...'] for any other name)"
            )
        }
        var name = String.UnicodeScalarView()
        while let next = peek, Self.isNameFirst(next) || Self.isDigit(next) {
            name.append(next)
            position += 1
        }
        return .name(String(name))
    }

    /// `"[" S selector *(S "," S selector) S "]"`. `isTight` is false when there is blank
    /// space anywhere inside the brackets (a singular query allows none).
    private mutating func parseBracketedSelection() throws(JSONPathParseError) -> (selectors: [JSONPathSelector], isTight: Bool) {
        let open = position
        position += 1
        var isTight = !skipBlank()
        var selectors: [JSONPathSelector] = []
        while true {
            if peek == "]" {
                throw error(selectors.isEmpty ? "empty brackets '[]'; put a selector inside" : "expected a selector after ','")
            }
            selectors.append(try parseSelector(bracketAt: open))
            if skipBlank() { isTight = false }
            switch peek {
            case "]":
                position += 1
                return (selectors, isTight)
            case ",":
                position += 1
                if skipBlank() { isTight = false }
            case nil:
                throw error("the '[' at offset \(open) is never closed")
            default:
                throw unexpected("after a selector; expected ',' or ']'")
            }
        }
    }

    /// `selector = name-selector / wildcard-selector / slice-selector / index-selector / filter-selector`
    private mutating func parseSelector(bracketAt open: Int) throws(JSONPathParseError) -> JSONPathSelector {
        guard let scalar = peek else { throw error("the '[' at offset \(open) is never closed") }
        switch scalar {
        case "'", "\"":
            return .name(try parseStringLiteral())
        case "*":
            position += 1
            return .wildcard
        case "?":
            position += 1
            skipBlank()
            try enterNesting()
            defer { nesting -= 1 }
            return .filter(try parseFilter())
        case "-", "0"..."9", ":":
            return try parseIndexOrSlice()
        default:
            throw unexpected("inside '[...]'; expected a quoted name, '*', an index, a slice 'start:end:step' or a filter '?...'")
        }
    }

    /// `index-selector = int` or `slice-selector = [start S] ":" S [end S] [":" [S step]]`.
    private mutating func parseIndexOrSlice() throws(JSONPathParseError) -> JSONPathSelector {
        var slice = JSONPathSlice()
        if peek != ":" {
            let start = try parseInteger(role: "index")
            let afterInteger = position
            skipBlank()
            guard peek == ":" else {
                position = afterInteger
                return .index(start)
            }
            slice.start = start
        }
        position += 1  // ':'
        skipBlank()
        if let scalar = peek, scalar == "-" || Self.isDigit(scalar) {
            slice.end = try parseInteger(role: "slice end")
            skipBlank()
        }
        if peek == ":" {
            position += 1
            skipBlank()
            if let scalar = peek, scalar == "-" || Self.isDigit(scalar) {
                slice.step = try parseInteger(role: "slice step")
            }
        }
        return .slice(slice)
    }

    /// `int = "0" / (["-"] DIGIT1 *DIGIT)`, within ±(2^53-1).
    private mutating func parseInteger(role: String) throws(JSONPathParseError) -> Int64 {
        let start = position
        let negative = peek == "-"
        if negative { position += 1 }
        guard let first = peek, Self.isDigit(first) else {
            throw error("expected digits for the \(role)")
        }
        if first == "0" {
            position += 1
            if let next = peek, Self.isDigit(next) {
                throw error("leading zeros are not allowed in the \(role)", at: start)
            }
            if negative { throw error("'-0' is not a valid \(role); write 0", at: start) }
            return 0
        }
        var value: Int64 = 0
        while let scalar = peek, Self.isDigit(scalar) {
            value = value * 10 + Int64(scalar.value - 0x30)
            guard value <= Self.maximumInteger else {
                throw error("the \(role) is out of range; integers must be within ±(2^53-1)", at: start)
            }
            position += 1
        }
        return negative ? -value : value
    }

    // MARK: - Scanning

    /// Counts one more level of nesting; the caller undoes it with `nesting -= 1`.
    mutating func enterNesting() throws(JSONPathParseError) {
        guard nesting < Self.maximumNesting else {
            throw error("the query nests parentheses, function calls and filters more than \(Self.maximumNesting) deep")
        }
        nesting += 1
    }

    var peek: Unicode.Scalar? {
        position < scalars.count ? scalars[position] : nil
    }

    func peek(at offset: Int) -> Unicode.Scalar? {
        position + offset < scalars.count ? scalars[position + offset] : nil
    }

    /// `S = *B`: skips blank space; says whether there was any.
    @discardableResult
    mutating func skipBlank() -> Bool {
        let start = position
        while let scalar = peek, Self.isBlank(scalar) { position += 1 }
        return position != start
    }

    /// `B = %x20 / %x09 / %x0A / %x0D`
    static func isBlank(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r"
    }

    static func isDigit(_ scalar: Unicode.Scalar) -> Bool {
        ("0"..."9").contains(scalar)
    }

    /// `name-first = ALPHA / "_" / %x80-D7FF / %xE000-10FFFF`
    static func isNameFirst(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "_": return true
        default: return scalar.value >= 0x80
        }
    }

    func error(_ reason: String, at offset: Int? = nil) -> JSONPathParseError {
        JSONPathParseError(offset: offset ?? position, reason: reason)
    }

    /// An error naming the character at the current position.
    func unexpected(_ context: String) -> JSONPathParseError {
        guard let scalar = peek else { return error("unexpected end of the query \(context)") }
        return error("unexpected \(Self.describe(scalar)) \(context)")
    }

    static func describe(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case " ": return "space"
        case "\t": return "tab"
        case "\n": return "newline"
        case "\r": return "carriage return"
        case "'": return "\"'\""
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                return "control character U+" + String(repeating: "0", count: 4 - hex.count) + hex
            }
            return "'\(Character(scalar))'"
        }
    }
}
