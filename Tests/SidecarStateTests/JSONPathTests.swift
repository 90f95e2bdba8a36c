import SidecarProtocol
import Testing

@testable import SidecarState

/// Focused checks of the JSONPath implementation beyond the compliance suite: the API the
/// daemon uses, error messages, exactness of strings and numbers, and I-Regexp translation.
@Suite("JSONPath")
struct JSONPathTests {
    static let store: JSONValue = [
        "executions": [
            "e1": ["status": "running", "step": 3],
            "e2": ["status": "done", "step": 9],
            "e3": ["status": "running", "step": 1],
        ],
        "settings": ["llm": ["model": "m1", "temperature": 0.2]],
    ]

    static func select(_ query: String, in document: JSONValue) throws -> [JSONValue] {
        try JSONPath(parsing: query).select(in: document).map(\.value)
    }

    static func paths(_ query: String, in document: JSONValue) throws -> [String] {
        try JSONPath(parsing: query).select(in: document).map(\.path.description)
    }

    static func parseError(_ query: String) -> JSONPathParseError? {
        do {
            _ = try JSONPath(parsing: query)
            return nil
        } catch {
            return error
        }
    }

    // MARK: - Selecting

    @Test("a filter on an object's members selects them in document order with their paths")
    func filterOverObjectMembers() throws {
        let query = try JSONPath(parsing: "$.executions[?@.status == 'running']")
        let nodes = query.select(in: Self.store)
        #expect(nodes.map(\.path.description) == ["$['executions']['e1']", "$['executions']['e3']"])
        #expect(nodes.map(\.value) == [["status": "running", "step": 3], ["status": "running", "step": 1]])
        #expect(nodes.map(\.path.jsonPointer) == ["/executions/e1", "/executions/e3"])
        #expect(query.values(in: Self.store) == nodes.map(\.value))
        #expect(!query.isSingular)
    }

    @Test("a singular query selects one node or none, and values(in:) agrees with select(in:)")
    func singularQuery() throws {
        let model = try JSONPath(parsing: "$.settings.llm['model']")
        #expect(model.isSingular)
        #expect(model.values(in: Self.store) == ["m1"])
        #expect(model.select(in: Self.store).map(\.path.description) == ["$['settings']['llm']['model']"])
        let missing = try JSONPath(parsing: "$.settings.cache[0]")
        #expect(missing.values(in: Self.store).isEmpty)
        #expect(missing.select(in: Self.store).isEmpty)
    }

    @Test("the root query selects the document with path $ and JSON Pointer \"\"")
    func rootQuery() throws {
        let nodes = try JSONPath(parsing: "$").select(in: Self.store)
        #expect(nodes.count == 1)
        #expect(nodes.first?.path == .root)
        #expect(nodes.first?.path.description == "$")
        #expect(nodes.first?.path.jsonPointer == "")
    }

    @Test("descendants are visited before their children's children, arrays in order")
    func descendantOrder() throws {
        let document: JSONValue = ["a": [["b": 1], ["b": 2]], "b": 0, "c": ["d": ["b": 3]]]
        #expect(try Self.select("$..b", in: document) == [0, 1, 2, 3])
        #expect(
            try Self.paths("$..b", in: document) == [
                "$['b']", "$['a'][0]['b']", "$['a'][1]['b']", "$['c']['d']['b']",
            ]
        )
    }

    @Test("slices: negative steps, out-of-range bounds and a zero step")
    func slices() throws {
        let array: JSONValue = [0, 1, 2, 3, 4, 5]
        #expect(try Self.select("$[::-2]", in: array) == [5, 3, 1])
        #expect(try Self.select("$[-2:]", in: array) == [4, 5])
        #expect(try Self.select("$[4:1:-1]", in: array) == [4, 3, 2])
        #expect(try Self.select("$[-9007199254740991:9007199254740991:2]", in: array) == [0, 2, 4])
        #expect(try Self.select("$[::0]", in: array).isEmpty)
        #expect(try Self.paths("$[1:3]", in: array) == ["$[1]", "$[2]"])
    }

    @Test("a query can be shared across tasks and evaluated concurrently")
    func concurrentUse() async throws {
        let query = try JSONPath(parsing: "$.executions[?match(@.status, 'run.*')]")
        let counts = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask { query.select(in: Self.store).count }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(counts == Array(repeating: 2, count: 8))
    }

    // MARK: - Comparison semantics

    @Test("numbers compare by value across integers and doubles, exactly beyond 2^53")
    func numberComparison() throws {
        let values: JSONValue = [1, 1.0, 1.5, 2, .int(9_007_199_254_740_993), .double(9_007_199_254_740_992)]
        #expect(try Self.select("$[?@ == 1]", in: values) == [1, 1.0])
        #expect(try Self.paths("$[?@ > 1 && @ < 2]", in: values) == ["$[2]"])
        // 2^53 + 1 is not equal to the double 2^53, though converting it to Double would say so.
        #expect(try Self.paths("$[?@ == 9007199254740992.0]", in: values) == ["$[5]"])
        #expect(try Self.paths("$[?@ > 9007199254740992.0]", in: values) == ["$[4]"])
    }

    @Test("strings compare by Unicode scalars: no normalization, ordering by code point")
    func stringExactness() throws {
        let composed = "\u{E9}"  // é
        let decomposed = "e\u{301}"  // e + combining acute: canonically equivalent, different scalars
        let values: JSONValue = [.string(composed), .string(decomposed), "z", "\u{10000}", "\u{FFFF}"]
        #expect(try Self.paths("$[?@ == '\(composed)']", in: values) == ["$[0]"])
        #expect(try Self.paths("$[?@ == '\(decomposed)']", in: values) == ["$[1]"])
        // U+FFFF < U+10000 by code point (UTF-16 code unit order would say otherwise).
        #expect(try Self.paths("$[?@ > '\u{FFFF}']", in: values) == ["$[3]"])
        #expect(try Self.select("$[?length(@) == 2]", in: values) == [.string(decomposed)])
    }

    @Test("a name selector matches a member name exactly, not a canonically equivalent one")
    func nameExactness() throws {
        let document: JSONValue = .object(["\u{E9}": 1])
        #expect(try Self.select("$['\u{E9}']", in: document) == [1])
        #expect(try Self.select("$['e\u{301}']", in: document).isEmpty)
    }

    @Test("Nothing equals only Nothing: a missing member is not null")
    func nothingIsNotNull() throws {
        let values: JSONValue = [["a": nil], [:], ["a": 1]]
        #expect(try Self.paths("$[?@.a == null]", in: values) == ["$[0]"])
        #expect(try Self.paths("$[?@.a == @.b]", in: values) == ["$[1]"])
        #expect(try Self.paths("$[?@.a != 1]", in: values) == ["$[0]", "$[1]"])
        #expect(try Self.paths("$[?@.a]", in: values) == ["$[0]", "$[2]"])
    }

    // MARK: - Functions

    @Test("length, count and value")
    func functions() throws {
        let document: JSONValue = [["tags": ["a", "b"], "name": "x"], ["tags": [], "name": "yy"]]
        #expect(try Self.paths("$[?length(@.tags) > 1]", in: document) == ["$[0]"])
        #expect(try Self.paths("$[?count(@.tags[*]) == 0]", in: document) == ["$[1]"])
        #expect(try Self.paths("$[?length(@.name) == 2]", in: document) == ["$[1]"])
        #expect(try Self.paths("$[?value(@..name) == 'x']", in: document) == ["$[0]"])
    }

    @Test("match anchors the whole string, search finds a substring, over code points")
    func regexFunctions() throws {
        let values: JSONValue = ["running", "rerun", "RUN", "a\u{1F600}b", "a\r\nb"]
        #expect(try Self.select("$[?match(@, 'run.*')]", in: values) == ["running"])
        #expect(try Self.select("$[?search(@, 'run')]", in: values) == ["running", "rerun"])
        #expect(try Self.select("$[?match(@, '[A-Z]+')]", in: values) == ["RUN"])
        // One '.' matches one code point, even outside the BMP.
        #expect(try Self.select("$[?match(@, 'a.b')]", in: values) == ["a\u{1F600}b"])
        // '.' matches neither \r nor \n.
        #expect(try Self.select("$[?search(@, 'a.')]", in: values) == ["a\u{1F600}b"])
        // A search can start inside a grapheme cluster: the combining accent alone is found.
        let accented: JSONValue = ["e\u{301}", "e"]
        #expect(try Self.paths("$[?search(@, '\\u0301')]", in: accented) == ["$[0]"])
        #expect(try Self.paths("$[?match(@, 'e')]", in: accented) == ["$[1]"])
    }

    @Test("a pattern that is not an I-Regexp makes match() false instead of failing the query")
    func invalidPatternsAreFalse() throws {
        let values: JSONValue = ["1", "a", "\\d"]
        for pattern in ["\\\\d", "(?:a)", "a{2,1}", "[z-a]", "a**", "\\\\p{Xx}", "[]", "a]", "(a"] {
            let query = try JSONPath(parsing: "$[?match(@, '\(pattern)')]")
            #expect(query.select(in: values).isEmpty, "pattern \(pattern)")
        }
        let fromDocument: JSONValue = ["pattern": "(", "values": ["("]]
        #expect(try Self.select("$.values[?match(@, $.pattern)]", in: fromDocument).isEmpty)
    }

    @Test("I-Regexp translation escapes literals and rejects what RFC 9485 excludes")
    func iRegexpTranslation() {
        #expect(IRegexp.translate("a.b") == "a[^\\n\\r]b")
        #expect(IRegexp.translate("(ab|c)+") == "(?:ab|c)+")
        #expect(IRegexp.translate("[^a-z\\p{Lu}-]") == "[^a-z\\p{Lu}\\x{2d}]")
        #expect(IRegexp.translate("x{2,}y{3}z{1,4}") == "x{2,}y{3}z{1,4}")
        #expect(IRegexp.translate("a&&b") == "a\\x{26}\\x{26}b")
        #expect(IRegexp.translate("\\.\\n") == "\\x{2e}\\n")
        #expect(IRegexp.translate("^ab$") == "\\Aab\\z")
        for invalid in ["\\d", "\\w", "\\s", "\\b", "a{,2}", "a{1001}", "[a-\\p{L}]", "[a-b-c]", "a?+", "\\p{L", "\\p{Lx}", ")", "{", "a|*"] {
            #expect(IRegexp.translate(invalid) == nil, "pattern \(invalid)")
        }
        #expect(IRegexp("[\\p{L}\\p{N}_]+")?.matchesWhole("héllo_42") == true)
        #expect(IRegexp("\\P{L}")?.matchesWhole("1") == true)
    }

    // MARK: - Normalized paths

    @Test("normalized paths escape quotes, backslashes and control characters as RFC 9535 section 2.7 says")
    func normalizedPathEscapes() throws {
        let path = NormalizedPath([.name("it's"), .name("a\\b"), .name("\u{08}\u{0C}\n\r\t"), .name("\u{0}\u{1F}\u{7F}"), .index(3)])
        #expect(path.description == "$['it\\'s']['a\\\\b']['\\b\\f\\n\\r\\t']['\\u0000\\u001f\u{7F}'][3]")
        #expect(NormalizedPath([.name("a/b~c"), .index(0)]).jsonPointer == "/a~1b~0c/0")

        // A selector built from a rendered path selects the same node.
        let document: JSONValue = .object(["it's": .object(["\u{1}": [true]])])
        let nodes = try JSONPath(parsing: "$..[0]").select(in: document)
        #expect(nodes.map(\.path.description) == ["$['it\\'s']['\\u0001'][0]"])
        let again = try JSONPath(parsing: try #require(nodes.first).path.description)
        #expect(again.values(in: document) == [true])
    }

    // MARK: - Errors

    @Test(
        "invalid queries are rejected with a message saying what is wrong, and where",
        arguments: [
            ("$ ", 1, "whitespace at the end"),
            (" $", 0, "starts with '$'"),
            ("$.a[", 4, "never closed"),
            ("$[01]", 2, "leading zeros"),
            ("$[9007199254740992]", 2, "out of range"),
            ("$[?@.a = 1]", 7, "'=='"),
            ("$[?length(@)]", 3, "compare it"),
            ("$[?match(@.a, 'x') == true]", 3, "cannot be compared"),
            ("$[?@.* == 1]", 3, "must be singular"),
            ("$[?@[ 'a' ] == 1]", 3, "no blank space inside brackets"),
            ("$[?count(1) > 0]", 9, "must be a query"),
            ("$[?foo(@)]", 3, "unknown function 'foo()'"),
            ("$[?!@.a == 1]", 3, "!(left op right)"),
            ("$[?true]", 3, "cannot stand alone"),
            ("$['\\uD800']", 3, "low surrogate"),
            ("$[?length(@.a, @.b)]", 3, "takes 1 argument, got 2"),
        ]
    )
    func parseErrors(query: String, offset: Int, phrase: String) throws {
        let error = try #require(Self.parseError(query), "\(query) was accepted")
        #expect(error.offset == offset)
        #expect(error.reason.contains(phrase), "\(error.reason)")
        #expect(error.description.hasPrefix("invalid JSONPath: "))
    }

    @Test("nesting is bounded: 64 levels parse, deeper queries are rejected rather than exhausting the stack")
    func nestingLimit() throws {
        func nested(_ depth: Int) -> String {
            // The filter itself is one level; each pair of parentheses one more.
            "$[?" + String(repeating: "(", count: depth - 1) + "@.a" + String(repeating: ")", count: depth - 1) + "]"
        }
        let document: JSONValue = [["a": 1], ["b": 2]]
        #expect(try Self.paths(nested(JSONPathParser.maximumNesting), in: document) == ["$[0]"])
        #expect(Self.parseError(nested(JSONPathParser.maximumNesting + 1))?.reason.contains("more than 64 deep") == true)
        #expect(Self.parseError(nested(100_000)) != nil)
        #expect(Self.parseError("$" + String(repeating: "[?@", count: 100_000)) != nil)

        let deepGroups = String(repeating: "(", count: 100_000) + "a" + String(repeating: ")", count: 100_000)
        #expect(IRegexp.translate(deepGroups) == nil)
        #expect(IRegexp.translate("((((a))))") == "(?:(?:(?:(?:a))))")
    }

    @Test("blank space is allowed between segments but not inside a shorthand")
    func blankSpace() throws {
        let document: JSONValue = ["a": ["b": 1]]
        #expect(try Self.select("$ .a\n['b']", in: document) == [1])
        #expect(try Self.select("$[?@ .b == 1]", in: document) == [["b": 1]])
        #expect(Self.parseError("$. a") != nil)
        #expect(Self.parseError("$.a ") != nil)
    }
}
