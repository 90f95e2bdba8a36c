/// An I-Regexp (RFC 9485), compiled for the JSONPath `match()` and `search()` functions.
///
/// I-Regexp is a small subset of XML Schema regular expressions: literals, `.`, character
/// classes (with `\p{..}` categories), groups, alternation and quantifiers; no backreferences,
/// lookaround or multi-character escapes such as `\d`. Matching is over Unicode scalars, as the
/// RFC requires, never over grapheme clusters, and `.` matches any scalar but `\n` and `\r`.
/// Following the JSONPath compliance suite, `^` and `$` outside a class anchor at the start
/// and end of the string.
///
/// Patterns come from clients (`state.query`, `state.subscribe`) and subscription selectors
/// run on every write, on the event loop that owns the document. So a pattern is compiled to
/// an ``IRegexpProgram`` that ``IRegexpSimulation`` runs without backtracking, in time
/// proportional to the program's size times the string's length: `(a|a)*b` or `(a*)*b`
/// against a long run of `a`s costs no more than `a*b`. The program's size is bounded
/// (``maximumProgramSize``), so that bound is small.
///
/// ```swift
/// let identifier = IRegexp("[\\p{L}_][\\p{L}\\p{N}_]*")
/// identifier?.matchesWhole("héllo_42")   // true
/// identifier?.matchesPart(of: "42 ok")   // true: "ok"
/// ```
struct IRegexp: Sendable {
    /// The largest repetition bound accepted (`a{1000}`); a larger one makes the pattern
    /// invalid rather than letting one query build an enormous matcher.
    static let maximumRepetition = 1000

    /// The deepest nesting of groups accepted; deeper patterns are treated as invalid.
    static let maximumGroupNesting = 64

    /// The most instructions a compiled pattern may have; a pattern that needs more, which
    /// takes nested repetitions such as `(a{100}){200}`, is treated as invalid. Matching costs
    /// at most this many steps per scalar of the string.
    static let maximumProgramSize = 10_000

    private let program: IRegexpProgram

    /// Compiles `pattern`; `nil` when it is not a valid I-Regexp or exceeds the limits above.
    init?(_ pattern: String) {
        guard let node = IRegexpParser.parse(pattern),
            IRegexpProgram.size(of: node, limit: Self.maximumProgramSize) <= Self.maximumProgramSize
        else { return nil }
        program = IRegexpProgram(compiling: node)
    }

    /// Whether the pattern matches all of `string` (the `match()` function).
    func matchesWhole(_ string: String) -> Bool {
        IRegexpSimulation.matches(program, in: string, wholeString: true)
    }

    /// Whether the pattern matches some substring of `string` (the `search()` function).
    func matchesPart(of string: String) -> Bool {
        IRegexpSimulation.matches(program, in: string, wholeString: false)
    }

    /// How many instructions the pattern compiled to (for tests of the size bound).
    var programSize: Int { program.instructions.count }
}
