import SidecarProtocol
import Testing

@testable import SidecarState

/// The I-Regexp engine behind `match()` and `search()`: each RFC 9485 construct, anchoring,
/// Unicode categories and non-BMP scalars, the size limits, patterns that make a backtracking
/// engine take exponential time, and agreement with Swift's `Regex` (the engine used before)
/// on which patterns are valid and what they match.
@Suite("I-Regexp")
struct IRegexpTests {
    static func compiled(_ pattern: String) throws -> IRegexp {
        try #require(IRegexp(pattern), "pattern \(pattern.debugDescription) should be valid")
    }

    /// Checks `pattern` against strings it must match whole and strings it must not.
    static func expectWhole(
        _ pattern: String,
        matches: [String],
        rejects: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let regex = try #require(IRegexp(pattern), "pattern \(pattern.debugDescription)", sourceLocation: sourceLocation)
        for string in matches {
            #expect(regex.matchesWhole(string), "\(pattern.debugDescription) should match \(string.debugDescription)", sourceLocation: sourceLocation)
        }
        for string in rejects {
            #expect(!regex.matchesWhole(string), "\(pattern.debugDescription) should not match \(string.debugDescription)", sourceLocation: sourceLocation)
        }
    }

    // MARK: - Constructs

    @Test("literals and single-character escapes stand for themselves")
    func literalsAndEscapes() throws {
        try Self.expectWhole("abc", matches: ["abc"], rejects: ["ab", "abcd", "abd", "ABC", ""])
        try Self.expectWhole("a&&b", matches: ["a&&b"], rejects: ["ab"])
        try Self.expectWhole("\\.\\n", matches: [".\n"], rejects: ["a\n", ".n"])
        try Self.expectWhole("\\t\\r", matches: ["\t\r"], rejects: ["tr"])
        try Self.expectWhole(
            "\\(\\)\\*\\+\\-\\.\\?\\[\\\\\\]\\^\\{\\|\\}",
            matches: ["()*+-.?[\\]^{|}"],
            rejects: ["()*+-.?[\\]^{|"]
        )
        try Self.expectWhole(",-/:<=>@_`~ é\u{0}", matches: [",-/:<=>@_`~ é\u{0}"], rejects: [",-/:<=>@_`~ e\u{0}"])
        try Self.expectWhole("", matches: [""], rejects: ["a"])
    }

    @Test("`.` matches any one scalar but \\n and \\r")
    func dot() throws {
        try Self.expectWhole(".", matches: ["a", " ", "\t", "\u{0}", "é", "😀", "\u{2028}"], rejects: ["", "\n", "\r", "ab"])
        // A grapheme cluster of two scalars is two characters to I-Regexp.
        try Self.expectWhole("..", matches: ["e\u{301}", "ab"], rejects: ["é", "\r\n", "a\n"])
        try Self.expectWhole("a.c", matches: ["abc", "a.c"], rejects: ["a\nc", "a\rc", "ac"])
    }

    @Test("character classes: members, ranges, negation, '-' first or last, escapes inside")
    func characterClasses() throws {
        try Self.expectWhole("[abc]", matches: ["a", "b", "c"], rejects: ["d", "", "ab"])
        try Self.expectWhole("[a-cx-z0-9]", matches: ["a", "b", "c", "x", "z", "5"], rejects: ["d", "w", "A", "-"])
        try Self.expectWhole("[^a-c]", matches: ["d", "\n", "😀"], rejects: ["a", "b", "c", ""])
        try Self.expectWhole("[-a]", matches: ["-", "a"], rejects: ["b"])
        try Self.expectWhole("[a-]", matches: ["-", "a"], rejects: ["b"])
        try Self.expectWhole("[^-]", matches: ["a"], rejects: ["-"])
        try Self.expectWhole("[\\-\\]\\[\\\\\\n]", matches: ["-", "]", "[", "\\", "\n"], rejects: ["n", "a"])
        try Self.expectWhole("[.^$*+?{}()|]", matches: [".", "^", "$", "*", "+", "?", "{", "}", "(", ")", "|"], rejects: ["a"])
        try Self.expectWhole("[^^]", matches: ["a"], rejects: ["^"])
        try Self.expectWhole("[a-a]", matches: ["a"], rejects: ["b"])
        try Self.expectWhole("[\\p{Lu}0-9-]", matches: ["A", "É", "7", "-"], rejects: ["a", "é", "_"])
        try Self.expectWhole("[^a-z\\p{Lu}-]", matches: ["1", "é", "_"], rejects: ["q", "Q", "-"])
        try Self.expectWhole("[\\P{L}a]", matches: ["a", "1", " "], rejects: ["b", "Ω"])
        try Self.expectWhole("[^\\P{L}]", matches: ["a", "Ω"], rejects: ["1", " "])
        try Self.expectWhole("[\\p{L}\\P{L}]", matches: ["a", "1", "\n", "\u{378}"], rejects: [""])
    }

    @Test("alternation and groups, including empty branches")
    func alternationAndGroups() throws {
        try Self.expectWhole("ab|cd|e", matches: ["ab", "cd", "e"], rejects: ["abcd", "a", "ce", ""])
        try Self.expectWhole("a(b|c)d", matches: ["abd", "acd"], rejects: ["ad", "abcd"])
        try Self.expectWhole("(|a)b", matches: ["b", "ab"], rejects: ["aab"])
        try Self.expectWhole("a||b", matches: ["a", "b", ""], rejects: ["ab"])
        try Self.expectWhole("()", matches: [""], rejects: ["a"])
        try Self.expectWhole("((((a))))", matches: ["a"], rejects: ["aa"])
        try Self.expectWhole("(ab|a)(bc|c)", matches: ["abc", "abbc", "ac"], rejects: ["ab", "abcc"])
    }

    @Test("quantifiers * + ? {n} {n,} {n,m}, on atoms, classes and groups")
    func quantifiers() throws {
        try Self.expectWhole("a*", matches: ["", "a", "aaaa"], rejects: ["b", "ab"])
        try Self.expectWhole("a+", matches: ["a", "aaaa"], rejects: ["", "ab"])
        try Self.expectWhole("a?b", matches: ["b", "ab"], rejects: ["aab", "a"])
        try Self.expectWhole("a{3}", matches: ["aaa"], rejects: ["aa", "aaaa"])
        try Self.expectWhole("a{2,}", matches: ["aa", "aaa", String(repeating: "a", count: 50)], rejects: ["", "a"])
        try Self.expectWhole("a{0,}", matches: ["", "aaa"], rejects: ["b"])
        try Self.expectWhole("a{2,4}", matches: ["aa", "aaa", "aaaa"], rejects: ["a", "aaaaa"])
        try Self.expectWhole("a{0,2}", matches: ["", "a", "aa"], rejects: ["aaa"])
        try Self.expectWhole("a{0}b", matches: ["b"], rejects: ["ab"])
        try Self.expectWhole("a{1,1}", matches: ["a"], rejects: ["", "aa"])
        try Self.expectWhole("(ab){2}", matches: ["abab"], rejects: ["ab", "ababab"])
        try Self.expectWhole("(a|bc){2,3}", matches: ["aa", "abc", "bcbcbc", "aabc"], rejects: ["a", "bcbcbca"])
        try Self.expectWhole("[ab]+c?", matches: ["abba", "abbac"], rejects: ["c", "abcc"])
        try Self.expectWhole("(a*)*", matches: ["", "aaa"], rejects: ["b"])
        try Self.expectWhole("(a?){3}", matches: ["", "a", "aaa"], rejects: ["aaaa"])
        try Self.expectWhole("()*a()+", matches: ["a"], rejects: [""])
        try Self.expectWhole("(x{2,}){2,}", matches: ["xxxx", "xxxxx"], rejects: ["xxx"])
    }

    // MARK: - Anchoring

    @Test("match() needs the whole string, search() any substring")
    func wholeAndPart() throws {
        let regex = try Self.compiled("b+c")
        #expect(regex.matchesWhole("bbc"))
        #expect(!regex.matchesWhole("abbcd"))
        #expect(regex.matchesPart(of: "abbcd"))
        #expect(regex.matchesPart(of: "bc"))
        #expect(!regex.matchesPart(of: "bbb"))
        #expect(!regex.matchesPart(of: ""))

        let empty = try Self.compiled("")
        #expect(empty.matchesPart(of: "anything"))
        #expect(empty.matchesPart(of: ""))
        #expect(!empty.matchesWhole("x"))

        let optional = try Self.compiled("x*")
        #expect(optional.matchesPart(of: "abc"))
        #expect(!optional.matchesWhole("abc"))

        let late = try Self.compiled("ab|xyz")
        #expect(late.matchesPart(of: String(repeating: "x", count: 100) + "xyz"))
        #expect(!late.matchesPart(of: String(repeating: "xy", count: 100)))
    }

    @Test("^ and $ anchor at the start and end of the string, in search() too")
    func anchors() throws {
        let start = try Self.compiled("^ab")
        #expect(start.matchesPart(of: "abc"))
        #expect(!start.matchesPart(of: "cab"))
        let end = try Self.compiled("ab$")
        #expect(end.matchesPart(of: "cab"))
        #expect(!end.matchesPart(of: "abc"))
        let both = try Self.compiled("^ab$")
        #expect(both.matchesWhole("ab"))
        #expect(both.matchesPart(of: "ab"))
        #expect(!both.matchesPart(of: "abab"))
        #expect(try Self.compiled("^").matchesPart(of: "x"))
        #expect(try Self.compiled("$").matchesWhole(""))
        #expect(try Self.compiled("(^a|b)+").matchesWhole("abb"))
        #expect(!(try Self.compiled("(^a|b)+").matchesWhole("ba")))
        #expect(try Self.compiled("a|^b").matchesPart(of: "ba"))
        #expect(!(try Self.compiled("a|^b").matchesPart(of: "cb")))
        for impossible in ["a^", "$a", "a^b"] {
            let regex = try Self.compiled(impossible)
            #expect(!regex.matchesPart(of: "ab"), "pattern \(impossible)")
            #expect(!regex.matchesPart(of: "a"), "pattern \(impossible)")
        }
    }

    // MARK: - Unicode

    @Test("\\p{..} and \\P{..} test the general category, major class or one category")
    func unicodeCategories() throws {
        try Self.expectWhole("\\p{L}+", matches: ["héllo", "Ωmega", "日本語", "ǅ"], rejects: ["a1", "_", ""])
        try Self.expectWhole("\\p{Lu}", matches: ["A", "É", "Ω"], rejects: ["a", "ǅ", "1"])
        try Self.expectWhole("\\p{Ll}", matches: ["a", "ß"], rejects: ["A"])
        try Self.expectWhole("\\p{Lt}", matches: ["ǅ"], rejects: ["A", "a"])
        try Self.expectWhole("\\p{Lm}\\p{Lo}", matches: ["ʰא"], rejects: ["aa"])
        try Self.expectWhole("\\p{Mn}", matches: ["\u{301}"], rejects: ["e"])
        try Self.expectWhole("\\p{M}", matches: ["\u{301}", "\u{903}", "\u{20DD}"], rejects: ["a"])
        try Self.expectWhole("\\p{Nd}+", matches: ["0123", "٣", "𝟘"], rejects: ["Ⅻ", "½"])
        try Self.expectWhole("\\p{N}{3}", matches: ["1Ⅻ½"], rejects: ["1a2"])
        try Self.expectWhole("\\p{Nl}\\p{No}", matches: ["Ⅻ½"], rejects: ["12"])
        try Self.expectWhole("\\p{P}+", matches: ["_-()«»!"], rejects: ["+"])
        try Self.expectWhole("\\p{Pc}\\p{Pd}\\p{Ps}\\p{Pe}\\p{Pi}\\p{Pf}\\p{Po}", matches: ["_-()«»!"], rejects: ["_-()»«!"])
        try Self.expectWhole("\\p{Sm}\\p{Sc}\\p{Sk}\\p{So}", matches: ["+€^©"], rejects: ["€+^©"])
        try Self.expectWhole("\\p{S}", matches: ["😀", "+"], rejects: ["a"])
        try Self.expectWhole("\\p{Zs}\\p{Zl}\\p{Zp}", matches: [" \u{2028}\u{2029}"], rejects: ["\n\n\n"])
        try Self.expectWhole("\\p{Z}", matches: ["\u{A0}"], rejects: ["\t"])
        try Self.expectWhole("\\p{Cc}\\p{Cf}\\p{Co}\\p{Cn}", matches: ["\n\u{200B}\u{E000}\u{378}"], rejects: ["\n\u{200B}\u{E000}a"])
        try Self.expectWhole("\\p{C}+", matches: ["\u{0}\u{7F}\u{AD}\u{F0000}\u{10FFFF}"], rejects: ["a"])
        try Self.expectWhole("\\P{L}+", matches: ["123 _😀"], rejects: ["a", "1a"])
        try Self.expectWhole("\\P{Lu}", matches: ["a", "1"], rejects: ["A"])
    }

    @Test("non-BMP scalars are one character each, in literals, classes and ranges")
    func nonBMPScalars() throws {
        try Self.expectWhole("😀", matches: ["😀"], rejects: ["😁", ""])
        try Self.expectWhole("[😀-😂]+", matches: ["😀😁😂"], rejects: ["😃", "a"])
        try Self.expectWhole("[^😀]", matches: ["😁", "a"], rejects: ["😀"])
        try Self.expectWhole("a.b", matches: ["a𝄞b"], rejects: ["a𝄞𝄞b"])
        try Self.expectWhole("𝄞{2,3}", matches: ["𝄞𝄞", "𝄞𝄞𝄞"], rejects: ["𝄞", "𝄞𝄞𝄞𝄞"])
        try Self.expectWhole("[\u{FFFF}-\u{10FFFF}]", matches: ["\u{FFFF}", "😀", "\u{10FFFF}"], rejects: ["\u{FFFE}"])
        try Self.expectWhole("\\p{Lu}\\p{Nd}", matches: ["𝐀𝟘"], rejects: ["A"])
        // A flag is two regional-indicator scalars, so two `.`s but one Swift Character.
        try Self.expectWhole("..", matches: ["🇫🇷"], rejects: ["😀"])
        #expect(try Self.compiled("🇷").matchesPart(of: "🇫🇷"))
    }

    // MARK: - Linear time

    /// A pattern that takes exponential time in a backtracking engine, a subject (a run of
    /// `a`s and a suffix) and what `match()` and `search()` must answer.
    struct PathologicalCase: Sendable, CustomTestStringConvertible {
        var pattern: String
        var count: Int
        var suffix = ""
        var whole: Bool
        var part: Bool

        var subject: String { String(repeating: "a", count: count) + suffix }
        var testDescription: String { "\(pattern) against a×\(count)\(suffix)" }
    }

    static let pathologicalCases: [PathologicalCase] = [
        .init(pattern: "(a|a)*b", count: 20_000, whole: false, part: false),
        .init(pattern: "(a|a)*b", count: 20_000, suffix: "b", whole: true, part: true),
        .init(pattern: "(a*)*b", count: 20_000, whole: false, part: false),
        .init(pattern: "(a*)*b", count: 20_000, suffix: "bc", whole: false, part: true),
        .init(pattern: "(a+)+b", count: 20_000, whole: false, part: false),
        .init(pattern: "(a|aa)*b", count: 20_000, whole: false, part: false),
        .init(pattern: "(a|aa)*b", count: 20_000, suffix: "b", whole: true, part: true),
        .init(pattern: "((a*)*|b)*c", count: 20_000, suffix: "b", whole: false, part: false),
        .init(pattern: "((a*)*|b)*c", count: 20_000, suffix: "bc", whole: true, part: true),
        .init(pattern: "(\\p{L}|a)*[0-9]", count: 20_000, whole: false, part: false),
        .init(pattern: "(.*a){20}b", count: 4_000, whole: false, part: false),
        .init(pattern: "(.*a){20}b", count: 4_000, suffix: "b", whole: true, part: true),
        .init(pattern: "(a?){30}a{30}", count: 30, whole: true, part: true),
        .init(pattern: "(a?){30}a{30}", count: 29, whole: false, part: false),
        .init(pattern: "(a?){30}a{30}", count: 4_000, whole: false, part: true),
    ]

    /// Each run visits each state of the program at most once per scalar of the subject; a
    /// backtracking engine would try exponentially many ways to split the run of `a`s.
    @Test("patterns that make backtracking exponential run in linear time", arguments: pathologicalCases)
    func pathologicalPatterns(testCase: PathologicalCase) throws {
        let regex = try Self.compiled(testCase.pattern)
        let subject = testCase.subject
        let clock = ContinuousClock()
        let start = clock.now
        let whole = regex.matchesWhole(subject)
        let part = regex.matchesPart(of: subject)
        let elapsed = clock.now - start
        #expect(whole == testCase.whole)
        #expect(part == testCase.part)
        // Coarse, for a loaded machine and a debug build: each pair of runs takes well under a
        // second there; backtracking would take longer than the test suite's life.
        #expect(elapsed < .seconds(10))
    }

    @Test("a pathological pattern inside a JSONPath filter selects in linear time")
    func pathologicalFilter() throws {
        let long = String(repeating: "a", count: 20_000)
        let document: JSONValue = [["a": .string(long)], ["a": .string(long + "b")], ["a": "b"]]
        let match = try JSONPath(parsing: "$[?match(@.a, '(a|a)*b')]")
        #expect(match.select(in: document).map(\.path.description) == ["$[1]", "$[2]"])
        let search = try JSONPath(parsing: "$[?search(@.a, '(a*)*b')]")
        #expect(search.select(in: document).map(\.path.description) == ["$[1]", "$[2]"])
        let dynamic = try JSONPath(parsing: "$[?match(@.a, $[2].p)]")
        let withPattern: JSONValue = [["a": .string(long)], ["a": .string(long + "b")], ["p": "(a|a)*b"]]
        #expect(dynamic.select(in: withPattern).map(\.path.description) == ["$[1]"])
    }

    // MARK: - Limits

    @Test("repetition bounds up to maximumRepetition; larger ones invalid")
    func repetitionBounds() throws {
        let limit = IRegexp.maximumRepetition
        let exact = try Self.compiled("a{\(limit)}")
        #expect(exact.matchesWhole(String(repeating: "a", count: limit)))
        #expect(!exact.matchesWhole(String(repeating: "a", count: limit - 1)))
        #expect(!exact.matchesWhole(String(repeating: "a", count: limit + 1)))
        let upTo = try Self.compiled("b{0,\(limit)}")
        #expect(upTo.matchesWhole(String(repeating: "b", count: limit)))
        #expect(!upTo.matchesWhole(String(repeating: "b", count: limit + 1)))
        let atLeast = try Self.compiled("c{\(limit),}")
        #expect(atLeast.matchesWhole(String(repeating: "c", count: limit + 5)))
        #expect(!atLeast.matchesWhole(String(repeating: "c", count: limit - 1)))
        for invalid in ["a{\(limit + 1)}", "a{0,\(limit + 1)}", "a{\(limit + 1),}", "a{99999999999999999999}"] {
            #expect(IRegexp(invalid) == nil, "pattern \(invalid)")
        }
    }

    @Test("a pattern compiling to more than maximumProgramSize instructions is invalid")
    func programSizeBound() throws {
        let limit = IRegexp.maximumProgramSize
        // `(a{100}){99}`: 9,900 instructions and the accept.
        let largest = try Self.compiled("(a{100}){99}")
        #expect(largest.programSize == 9_901)
        #expect(largest.programSize <= limit)
        #expect(largest.matchesWhole(String(repeating: "a", count: 9_900)))
        #expect(!largest.matchesWhole(String(repeating: "a", count: 9_899)))
        #expect(IRegexp("(a{100}){100}") == nil)
        #expect(IRegexp("((a{1000}){1000}){1000}") == nil)
        let nestedDepth = String(repeating: "(", count: 60) + "a" + String(repeating: "){1000}", count: 60)
        #expect(IRegexp(nestedDepth) == nil)
        // The size computed before compiling is the size compiled.
        for pattern in ["", "a", "a|b|c", "(ab)*", "a+", "a?", "[a-z]{2,5}", "(a|b){3,}", "x{0}", "(^a$){0,2}"] {
            let regex = try Self.compiled(pattern)
            let node = try #require(IRegexpParser.parse(pattern))
            #expect(IRegexpProgram.size(of: node, limit: limit) == regex.programSize, "pattern \(pattern)")
        }
    }

    @Test("groups nest at most maximumGroupNesting deep")
    func groupNesting() throws {
        func nested(_ depth: Int) -> String {
            String(repeating: "(", count: depth) + "a" + String(repeating: ")", count: depth)
        }
        #expect(try Self.compiled(nested(IRegexp.maximumGroupNesting)).matchesWhole("a"))
        #expect(IRegexp(nested(IRegexp.maximumGroupNesting + 1)) == nil)
        #expect(IRegexp(nested(100_000)) == nil)
    }

    @Test("what RFC 9485 excludes is invalid")
    func invalidPatterns() {
        let invalid = [
            "\\d", "\\w", "\\s", "\\b", "\\S", "\\i", "\\c", "\\x41", "\\u0041", "\\1", "\\", "a\\",
            "a{,2}", "a{2,1}", "a{", "a{1", "a{1,", "a{x}", "{", "}", "a}", "{1}",
            "[a-\\p{L}]", "[a-b-c]", "[b-a]", "[]", "[^]", "[", "[a", "[a-", "[[a]", "[a[]", "[---]", "[]a]",
            "a?+", "a**", "a*?", "a{2}{3}", "*", "+a", "?", "a|*", "(*)",
            "\\p{L", "\\p{Lx}", "\\p{Cs}", "\\p{X}", "\\p{}", "\\pL", "\\p", "[\\p{Lx}]", "\\P{IsBasicLatin}",
            ")", "(", "(a", "a)", "(?:a)", "(?=a)", "]",
            "^*", "$+", "^?", "${2}", "^{0,}",
        ]
        for pattern in invalid {
            #expect(IRegexp(pattern) == nil, "pattern \(pattern.debugDescription)")
        }
    }

    // MARK: - Agreement with Swift's Regex

    /// Pieces of patterns: every sequence of up to three is tried, valid or not.
    static let tokens = [
        "a", "b", "é", ".", "-", "^", "$", "*", "+", "?", "{1}", "{0,1}", "{2,}", "{", "}", ",", "1",
        "(", ")", "[", "]", "|", "\\", "\\-", "\\n", "\\p{L}", "\\P{Lu}", "\\p{Nd}", "p",
    ]

    static let subjects = [
        "", "a", "b", "ab", "ba", "aab", "abb", "-", "\n", "a\nb", "é", "É", "1", "1,", "{1}", "😀", "a-b", "^", "$",
        "p", "\\", "[a]", "aé1",
    ]

    @Test("valid and invalid exactly as before: every pattern of up to three tokens, against Swift's Regex")
    func sameValidityAsBefore() {
        var patterns = [""]
        var frontier = [""]
        for _ in 0..<3 {
            frontier = frontier.flatMap { prefix in Self.tokens.map { prefix + $0 } }
            patterns += frontier
        }
        var disagreements: [String] = []
        var valid = 0
        for pattern in patterns {
            let reference = ReferenceRegex(pattern)
            guard let regex = IRegexp(pattern) else {
                if reference != nil { disagreements.append("\(pattern.debugDescription): rejected, but valid before") }
                continue
            }
            guard let reference else {
                disagreements.append("\(pattern.debugDescription): accepted, but invalid before")
                continue
            }
            valid += 1
            for subject in Self.subjects {
                if regex.matchesWhole(subject) != reference.matchesWhole(subject) {
                    disagreements.append("\(pattern.debugDescription) whole \(subject.debugDescription): \(regex.matchesWhole(subject))")
                }
                if regex.matchesPart(of: subject) != reference.matchesPart(of: subject) {
                    disagreements.append("\(pattern.debugDescription) part \(subject.debugDescription): \(regex.matchesPart(of: subject))")
                }
            }
        }
        #expect(valid > 1_000, "too few valid patterns to compare")
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements, first: \(disagreements.prefix(20))")
    }

    @Test("the same matches as Swift's Regex on random nested patterns")
    func sameMatchesAsBefore() throws {
        var random = SplitMix64(seed: 9485)
        let alphabet: [String] = ["a", "b", "é", "1", "\n", "😀", "-", "A"]
        var disagreements: [String] = []
        for _ in 0..<400 {
            let pattern = RandomPattern.make(depth: 3, using: &random)
            let regex = try #require(IRegexp(pattern), "generated pattern \(pattern.debugDescription)")
            let reference = try #require(ReferenceRegex(pattern), "generated pattern \(pattern.debugDescription)")
            for _ in 0..<12 {
                let subject = (0..<random.below(7)).map { _ in alphabet[random.below(alphabet.count)] }.joined()
                if regex.matchesWhole(subject) != reference.matchesWhole(subject) {
                    disagreements.append("\(pattern.debugDescription) whole \(subject.debugDescription)")
                }
                if regex.matchesPart(of: subject) != reference.matchesPart(of: subject) {
                    disagreements.append("\(pattern.debugDescription) part \(subject.debugDescription)")
                }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements, first: \(disagreements.prefix(20))")
    }
}

/// Random valid patterns: alternations of pieces, groups nested up to a depth, any quantifier.
enum RandomPattern {
    static let atoms = [
        "a", "b", "é", "A", ".", "[ab]", "[^a]", "[a-z]", "[-1]", "\\p{L}", "\\P{L}", "\\p{Lu}", "[\\p{N}-]", "\\-", "😀", "\\n",
    ]
    static let quantifiers = ["", "", "", "*", "+", "?", "{2}", "{0,2}", "{1,}", "{0}"]

    static func make(depth: Int, using random: inout SplitMix64) -> String {
        let branches = (0...random.below(2)).map { _ in
            (0..<random.below(4)).map { _ -> String in
                switch random.below(12) {
                case 0: return "^"
                case 1: return "$"
                case 2...3 where depth > 0: return "(" + make(depth: depth - 1, using: &random) + ")" + quantifiers[random.below(quantifiers.count)]
                default: return atoms[random.below(atoms.count)] + quantifiers[random.below(quantifiers.count)]
                }
            }.joined()
        }
        return branches.joined(separator: "|")
    }
}

extension IRegexp: CustomTestStringConvertible {
    /// Short, so that a failed expectation does not print a whole program.
    public var testDescription: String { "IRegexp(\(programSize) instructions)" }
}

// MARK: - Reference: the Swift Regex translation used before

/// The previous implementation, kept as the reference the engine is compared with: a
/// translation of I-Regexp to Swift `Regex` syntax, run by Swift's backtracking engine with
/// Unicode-scalar semantics. A pattern was valid when it translated and `Regex` compiled it.
struct ReferenceRegex {
    private let regex: Regex<Substring>

    init?(_ pattern: String) {
        guard let translated = IRegexp.translate(pattern), let regex = try? Regex(translated, as: Substring.self) else { return nil }
        self.regex = regex.matchingSemantics(.unicodeScalar)
    }

    func matchesWhole(_ string: String) -> Bool {
        (try? regex.wholeMatch(in: string)).flatMap { $0 } != nil
    }

    func matchesPart(of string: String) -> Bool {
        (try? regex.firstMatch(in: string)).flatMap { $0 } != nil
    }
}

extension IRegexp {
    /// The Swift `Regex` syntax for an I-Regexp, or `nil` when `pattern` is not one: the
    /// previous implementation's translation, now only a reference for tests (JSONPathTests
    /// checks some of its output too).
    static func translate(_ pattern: String) -> String? {
        var translator = ReferenceTranslator(scalars: Array(pattern.unicodeScalars))
        guard translator.regexp(), translator.position == translator.scalars.count else { return nil }
        return translator.output
    }
}

/// A recursive-descent reading of the RFC 9485 grammar that writes the translation as it goes.
private struct ReferenceTranslator {
    let scalars: [Unicode.Scalar]
    var position = 0
    var output = ""
    var groupNesting = 0

    private var peek: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    private func peek(at offset: Int) -> Unicode.Scalar? {
        position + offset < scalars.count ? scalars[position + offset] : nil
    }

    /// `i-regexp = branch *( "|" branch )`
    mutating func regexp() -> Bool {
        guard branch() else { return false }
        while peek == "|" {
            position += 1
            output += "|"
            guard branch() else { return false }
        }
        return true
    }

    /// `branch = *piece`
    private mutating func branch() -> Bool {
        while let scalar = peek, scalar != "|", scalar != ")" {
            guard piece() else { return false }
        }
        return true
    }

    /// `piece = atom [ quantifier ]`
    private mutating func piece() -> Bool {
        guard atom() else { return false }
        switch peek {
        case "*", "+", "?":
            output.unicodeScalars.append(scalars[position])
            position += 1
        case "{":
            position += 1
            guard let minimum = quantity() else { return false }
            var maximum: Int? = minimum
            if peek == "," {
                position += 1
                maximum = peek == "}" ? nil : quantity()
                if maximum == nil, peek != "}" { return false }
            }
            guard peek == "}" else { return false }
            position += 1
            if let maximum {
                guard minimum <= maximum else { return false }
                output += maximum == minimum ? "{\(minimum)}" : "{\(minimum),\(maximum)}"
            } else {
                output += "{\(minimum),}"
            }
        default:
            break
        }
        return true
    }

    /// `QuantExact = 1*DIGIT`, bounded by ``IRegexp/maximumRepetition``.
    private mutating func quantity() -> Int? {
        var value = 0
        var digits = 0
        while let scalar = peek, ("0"..."9").contains(scalar) {
            value = value * 10 + Int(scalar.value - 0x30)
            guard value <= IRegexp.maximumRepetition else { return nil }
            digits += 1
            position += 1
        }
        return digits > 0 ? value : nil
    }

    /// `atom = NormalChar / charClass / ( "(" i-regexp ")" )`
    private mutating func atom() -> Bool {
        guard let scalar = peek else { return false }
        position += 1
        switch scalar {
        case "(":
            guard groupNesting < IRegexp.maximumGroupNesting else { return false }
            groupNesting += 1
            output += "(?:"
            guard regexp(), peek == ")" else { return false }
            groupNesting -= 1
            position += 1
            output += ")"
        case ".":
            output += "[^\\n\\r]"
        case "[":
            return characterClass()
        case "\\":
            return escape()
        case "^":
            output += "\\A"
        case "$":
            output += "\\z"
        case ")", "*", "+", "?", "{", "}", "]", "|":
            return false
        default:
            appendLiteral(scalar)
        }
        return true
    }

    /// After a backslash: `SingleCharEsc` or `\p{..}` / `\P{..}`.
    private mutating func escape() -> Bool {
        guard let scalar = peek else { return false }
        position += 1
        switch scalar {
        case "n": output += "\\n"
        case "r": output += "\\r"
        case "t": output += "\\t"
        case "(", ")", "*", "+", "-", ".", "?", "[", "\\", "]", "^", "{", "|", "}":
            appendLiteral(scalar)
        case "p", "P":
            guard let property = categoryProperty() else { return false }
            output += scalar == "p" ? "\\p{\(property)}" : "\\P{\(property)}"
        default:
            return false
        }
        return true
    }

    /// `"{" IsCategory "}"` after `\p` or `\P`: a Unicode general category such as `L` or `Lu`.
    private mutating func categoryProperty() -> String? {
        guard peek == "{", let major = peek(at: 1) else { return nil }
        let minors: String
        switch major {
        case "L": minors = "lmotu"
        case "M": minors = "cen"
        case "N": minors = "dlo"
        case "P": minors = "cdefios"
        case "Z": minors = "lps"
        case "S": minors = "ckmo"
        case "C": minors = "cfno"
        default: return nil
        }
        var property = String(major)
        position += 2
        if let minor = peek, minors.unicodeScalars.contains(minor) {
            property.unicodeScalars.append(minor)
            position += 1
        }
        guard peek == "}" else { return nil }
        position += 1
        return property
    }

    /// `charClassExpr = "[" [ "^" ] ( "-" / CCE1 ) *CCE1 [ "-" ] "]"`, the `[` already read.
    private mutating func characterClass() -> Bool {
        output += "["
        if peek == "^" {
            position += 1
            output += "^"
        }
        var first = true
        while true {
            guard let scalar = peek else { return false }
            if scalar == "]" {
                guard !first else { return false }  // `[]` and `[^]` are not classes
                position += 1
                output += "]"
                return true
            }
            if scalar == "-" {
                // A literal '-' only first or last: `[-a]`, `[a-]`.
                guard first || peek(at: 1) == "]" else { return false }
                position += 1
                appendLiteral("-")
            } else if scalar == "\\", let next = peek(at: 1), next == "p" || next == "P" {
                position += 1
                guard escape() else { return false }
            } else {
                guard let low = classCharacter() else { return false }
                if peek == "-", let after = peek(at: 1), after != "]" {
                    position += 1
                    guard let high = classCharacter(), low.value <= high.value else { return false }
                    appendLiteral(low)
                    output += "-"
                    appendLiteral(high)
                } else {
                    appendLiteral(low)
                }
            }
            first = false
        }
    }

    /// `CCchar`: any character but `-`, `[`, `\`, `]`, or a `SingleCharEsc`.
    private mutating func classCharacter() -> Unicode.Scalar? {
        guard let scalar = peek else { return nil }
        switch scalar {
        case "-", "[", "]":
            return nil
        case "\\":
            guard let escaped = peek(at: 1) else { return nil }
            let character: Unicode.Scalar
            switch escaped {
            case "n": character = "\n"
            case "r": character = "\r"
            case "t": character = "\t"
            case "(", ")", "*", "+", "-", ".", "?", "[", "\\", "]", "^", "{", "|", "}": character = escaped
            default: return nil
            }
            position += 2
            return character
        default:
            position += 1
            return scalar
        }
    }

    /// Writes one literal character so that the engine can read it only as itself.
    private mutating func appendLiteral(_ scalar: Unicode.Scalar) {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9":
            output.unicodeScalars.append(scalar)
        default:
            output += "\\x{" + String(scalar.value, radix: 16) + "}"
        }
    }
}
