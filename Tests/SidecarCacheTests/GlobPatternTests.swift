import SidecarCache
import SidecarProtocol
import Testing

/// Redis glob semantics. Every expected value in the table was checked against
/// `redis-server` 7.0.15 (`SET key`, then `KEYS pattern`).
@Suite("Glob patterns")
struct GlobPatternTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var pattern: String
        var key: String
        var matches: Bool
        var testDescription: String { "\(pattern) \(matches ? "matches" : "does not match") '\(key)'" }

        init(_ pattern: String, _ key: String, _ matches: Bool) {
            self.pattern = pattern
            self.key = key
            self.matches = matches
        }
    }

    static let table: [Case] = [
        // `*` and the empty key: `KEYS *` and `SCAN MATCH *` match everything, the matcher
        // itself matches the empty key with the empty pattern only.
        Case("*", "", true),
        Case("*", "anything", true),
        Case("**", "", false),
        Case("**", "x", true),
        Case("a*", "", false),
        // Stars.
        Case("a*", "a", true),
        Case("a*", "abc", true),
        Case("a*", "ba", false),
        Case("*a", "ba", true),
        Case("*a", "ab", false),
        Case("a*b*c", "axxbyyc", true),
        Case("a*b*c", "axxbyy", false),
        Case("a**b", "ab", true),
        Case("a*?", "a", false),
        Case("*?", "a", true),
        Case("user:*:profile", "user:42:profile", true),
        Case("user:*:profile", "user:42:settings", false),
        // `?` is one byte, not one character.
        Case("h?llo", "hello", true),
        Case("h?llo", "hllo", false),
        Case("h?llo", "heello", false),
        Case("?", "é", false),
        Case("??", "é", true),
        Case("caf?", "café", false),
        Case("caf??", "café", true),
        Case("café*", "café:1", true),
        // Sets and ranges.
        Case("h[ae]llo", "hello", true),
        Case("h[ae]llo", "hallo", true),
        Case("h[ae]llo", "hillo", false),
        Case("h[^e]llo", "hallo", true),
        Case("h[^e]llo", "hello", false),
        Case("h[a-b]llo", "hbllo", true),
        Case("h[a-b]llo", "hcllo", false),
        Case("h[b-a]llo", "hallo", true),
        Case("h[b-a]llo", "hcllo", false),
        Case("[a-c-e]", "-", true),
        Case("[a-c-e]", "d", false),
        Case("[a-c-e]", "e", true),
        Case("[-a]", "-", true),
        // `[a-]` is the range from `a` to `]` (reversed: `]`, `^`, `_`, `` ` ``, `a`).
        Case("[a-]", "-", false),
        Case("[a-]", "_", true),
        Case("[a-]", "b", false),
        Case("[]]", "]", false),
        Case("[]", "]", false),
        Case("[\\]]", "]", true),
        Case("[\\-]", "-", true),
        Case("[[]", "[", true),
        Case("[a-c]*", "cat", true),
        Case("*[0-9]", "v10", true),
        Case("*[0-9]", "v1x", false),
        // Unterminated sets run to the end of the pattern.
        Case("[abc", "b", true),
        Case("[abc", "ab", false),
        Case("[abc", "d", false),
        Case("[", "[", false),
        Case("[^", "x", true),
        Case("[^", "xy", false),
        Case("[\\", "\\", true),
        // Escapes.
        Case("\\*", "*", true),
        Case("\\*", "a", false),
        Case("\\?", "?", true),
        Case("\\?", "x", false),
        Case("\\a", "a", true),
        Case("a\\", "a\\", true),
        Case("foo\\", "foo", false),
        Case("\\[a]", "[a]", true),
        Case("\\[a]", "a", false),
    ]

    @Test("matches as Redis KEYS does", arguments: table)
    func redisTable(_ row: Case) {
        #expect(GlobPattern(unchecked: row.pattern).matches(row.key) == row.matches)
    }

    @Test("the empty pattern and patterns over 1 KiB are refused with -32602 naming the field")
    func validation() throws {
        #expect(throws: GlobPattern.ValidationError.empty) { try GlobPattern("") }
        let long = String(repeating: "a", count: GlobPattern.maximumLength + 1)
        #expect(throws: GlobPattern.ValidationError.tooLong(length: 1025)) { try GlobPattern(long) }
        // The limit counts UTF-8 bytes: 512 two-byte characters fit, 513 do not.
        _ = try GlobPattern(String(repeating: "é", count: 512))
        #expect(throws: GlobPattern.ValidationError.tooLong(length: 1026)) {
            try GlobPattern(String(repeating: "é", count: 513))
        }
        // Any other byte sequence is a valid Redis pattern, including odd ones.
        for odd in ["[", "\\", "[^", "]", "***"] { _ = try GlobPattern(odd) }

        let error = GlobPattern.ValidationError.empty.rpcError
        #expect(error.code == .invalidParams)
        #expect(error.message.contains("'pattern'"))
        #expect(error.data == ["field": "pattern"])
    }

    @Test("a pattern without wildcards is a literal key, escapes resolved")
    func literals() throws {
        #expect(try GlobPattern("user:1").literal == "user:1")
        #expect(try GlobPattern("a\\*b").literal == "a*b")
        #expect(try GlobPattern("a\\").literal == "a\\")
        #expect(try GlobPattern("]^-").literal == "]^-")
        #expect(try GlobPattern("user:*").literal == nil)
        #expect(try GlobPattern("user:?").literal == nil)
        #expect(try GlobPattern("user:[12]").literal == nil)
        // The literal and the matcher agree.
        let escaped = try GlobPattern("a\\*b")
        #expect(escaped.matches("a*b"))
        #expect(!escaped.matches("axb"))
    }

    @Test("keys compare by bytes: a decomposed é is not a precomposed é")
    func bytewise() throws {
        let precomposed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        #expect(precomposed == decomposed, "Swift strings are canonically equal")
        #expect(try GlobPattern(precomposed).matches(precomposed))
        #expect(try !GlobPattern(precomposed).matches(decomposed))
        #expect(try !GlobPattern("caf\u{E9}*").matches(decomposed))
        #expect(try GlobPattern(precomposed) != GlobPattern(decomposed))
    }

    @Test("a pattern with many stars against a long non-matching key finishes (Redis' pruning)")
    func pathological() throws {
        let pattern = try GlobPattern(String(repeating: "a*", count: 300) + "b")
        let key = String(repeating: "a", count: 1000)
        #expect(!pattern.matches(key))
        #expect(pattern.matches(key + "b"))
    }
}
