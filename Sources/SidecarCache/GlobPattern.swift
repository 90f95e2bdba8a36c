import SidecarProtocol

/// A Redis glob pattern, matched exactly as Redis matches `KEYS` and `SCAN MATCH` patterns, so
/// that invalidating a pattern removes the same keys from L1 as from L2.
///
/// Matching works on UTF-8 bytes, as Redis does:
/// - `*` matches any run of bytes, `?` exactly one byte (so one byte of a multi-byte character);
/// - `[abc]` one byte of the set, `[^abc]` one byte not in it, `[a-z]` a range, also written
///   reversed (`[z-a]`; bounds compare as C `char`, as in Redis, so a range with a byte
///   above 0x7F spans what Redis built for the same platform spans); inside brackets `\x` is the byte `x`; a `-` that cannot start a range
///   is itself; an unterminated `[abc` is the set `abc` running to the end of the pattern
///   (so `[` alone matches nothing and `[^` any one byte);
/// - `\x` is the byte `x` anywhere; a trailing `\` is itself;
/// - any other byte is itself (case-sensitive).
///
/// As in Redis, a pattern matches the empty key only if the pattern is empty, except `*`,
/// which `KEYS` and `SCAN` treat as "everything" without calling the matcher.
///
/// ```swift
/// let pattern = try GlobPattern("user:*:profile")
/// pattern.matches("user:42:profile")   // true
/// pattern.matches("user:42:settings")  // false
/// ```
public struct GlobPattern: Hashable, Sendable, CustomStringConvertible {
    /// The longest pattern ``init(_:)`` accepts, in UTF-8 bytes (the same limit as a key).
    public static let maximumLength = 1024

    /// Why ``init(_:)`` refused a pattern; the RPC layer answers `-32602` with ``rpcError``.
    public enum ValidationError: RPCErrorConvertible, Hashable, Sendable, CustomStringConvertible {
        /// An empty pattern: almost always a client bug, and it would match only the empty key.
        case empty
        /// Longer than ``GlobPattern/maximumLength`` bytes.
        case tooLong(length: Int)

        public var description: String {
            switch self {
            case .empty:
                return "the pattern is empty; use \"*\" to match every key"
            case .tooLong(let length):
                return "the pattern is \(length) bytes long; the limit is \(GlobPattern.maximumLength) bytes"
            }
        }

        /// `-32602 Invalid params` naming the `pattern` field (in the message and `data.field`).
        public var rpcError: RPCError {
            var error = RPCError.invalidParams("'pattern': \(description)")
            error.data = ["field": "pattern"]
            return error
        }
    }

    /// The pattern as given.
    public let pattern: String
    private let bytes: [UInt8]
    /// The single key the pattern matches when it has no wildcard (`*`, `?`, `[`) outside an
    /// escape, with its escapes resolved; `nil` otherwise. Lets a caller remove one key in O(1)
    /// instead of testing every key.
    public let literal: String?

    /// A pattern for the RPC layer: anything Redis accepts, except what ``ValidationError``
    /// lists (empty, or longer than ``maximumLength`` bytes). Every other byte sequence is a
    /// valid Redis pattern, so nothing else is refused.
    /// - Throws: ``ValidationError``.
    public init(_ pattern: String) throws(ValidationError) {
        let length = pattern.utf8.count
        if length == 0 { throw ValidationError.empty }
        if length > Self.maximumLength { throw ValidationError.tooLong(length: length) }
        self.init(unchecked: pattern)
    }

    /// A pattern without validation, with Redis' meaning for any input (the empty pattern
    /// matches only the empty key).
    public init(unchecked pattern: String) {
        self.pattern = pattern
        self.bytes = Array(pattern.utf8)
        self.literal = Self.literal(of: bytes)
    }

    public var description: String { pattern }

    // Byte equality, as for keys: canonically equivalent but different patterns match different keys.
    public static func == (lhs: GlobPattern, rhs: GlobPattern) -> Bool { lhs.bytes == rhs.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }

    /// Whether `key` matches the pattern.
    public func matches(_ key: String) -> Bool {
        if let literal { return key.utf8.elementsEqual(literal.utf8) }
        // `SCAN MATCH *` and `KEYS *` skip the matcher, so `*` also matches the empty key.
        if bytes.count == 1, bytes[0] == UInt8(ascii: "*") { return true }
        var key = key
        return key.withUTF8 { subject in
            bytes.withUnsafeBufferPointer { pattern in
                var skipLongerMatches = false
                return Self.match(pattern, from: 0, subject, from: 0, skipLongerMatches: &skipLongerMatches, nesting: 0)
            }
        }
    }

    // MARK: - Matcher

    /// Redis' `stringmatchlen` (util.c), case-sensitive, on bytes.
    ///
    /// Redis reads one byte past the end of its (NUL-terminated) buffers in a few places; ``byte(_:_:)``
    /// reproduces that by answering `0` past the end. `skipLongerMatches` is Redis' pruning: once
    /// the rest of the pattern after a `*` matched nowhere in the rest of the key, no earlier `*`
    /// can do better, which keeps matching polynomial. `nesting` caps the recursion as Redis does.
    private static func match(
        _ pattern: UnsafeBufferPointer<UInt8>,
        from patternStart: Int,
        _ subject: UnsafeBufferPointer<UInt8>,
        from subjectStart: Int,
        skipLongerMatches: inout Bool,
        nesting: Int
    ) -> Bool {
        if nesting > 1000 { return false }
        var p = patternStart
        var s = subjectStart
        while p < pattern.count && s < subject.count {
            switch pattern[p] {
            case UInt8(ascii: "*"):
                while p < pattern.count && byte(pattern, p + 1) == UInt8(ascii: "*") { p += 1 }
                if p == pattern.count - 1 { return true }
                while s < subject.count {
                    if match(pattern, from: p + 1, subject, from: s, skipLongerMatches: &skipLongerMatches, nesting: nesting + 1) {
                        return true
                    }
                    if skipLongerMatches { return false }
                    s += 1
                }
                skipLongerMatches = true
                return false

            case UInt8(ascii: "?"):
                s += 1

            case UInt8(ascii: "["):
                let c = subject[s]
                p += 1
                let negated = byte(pattern, p) == UInt8(ascii: "^")
                if negated { p += 1 }
                var matched = false
                while true {
                    let remaining = pattern.count - p
                    if byte(pattern, p) == UInt8(ascii: "\\") && remaining >= 2 {
                        p += 1
                        if pattern[p] == c { matched = true }
                    } else if byte(pattern, p) == UInt8(ascii: "]") {
                        break
                    } else if remaining == 0 {
                        // Unterminated: step back onto the last byte so the `p += 1` below ends the pattern.
                        p -= 1
                        break
                    } else if remaining >= 3 && pattern[p + 1] == UInt8(ascii: "-") {
                        // Redis compares range bounds as C `char`s; `CChar` has the same signedness.
                        let start = CChar(bitPattern: pattern[p])
                        let end = CChar(bitPattern: pattern[p + 2])
                        let character = CChar(bitPattern: c)
                        p += 2
                        if character >= min(start, end) && character <= max(start, end) { matched = true }
                    } else if pattern[p] == c {
                        matched = true
                    }
                    p += 1
                }
                if negated { matched.toggle() }
                if !matched { return false }
                s += 1

            default:
                if pattern[p] == UInt8(ascii: "\\") && pattern.count - p >= 2 { p += 1 }
                if pattern[p] != subject[s] { return false }
                s += 1
            }
            p += 1
            if s == subject.count {
                while byte(pattern, p) == UInt8(ascii: "*") { p += 1 }
                break
            }
        }
        return p == pattern.count && s == subject.count
    }

    /// The byte at `index`, or `0` past the end (what Redis reads there: the terminating NUL).
    @inline(__always)
    private static func byte(_ buffer: UnsafeBufferPointer<UInt8>, _ index: Int) -> UInt8 {
        index < buffer.count ? buffer[index] : 0
    }

    /// The one key a wildcard-free pattern matches, following the matcher's escape rules.
    private static func literal(of pattern: [UInt8]) -> String? {
        if pattern.isEmpty { return nil }  // matches only the empty key; leave it to the matcher
        var key: [UInt8] = []
        key.reserveCapacity(pattern.count)
        var index = 0
        while index < pattern.count {
            switch pattern[index] {
            case UInt8(ascii: "*"), UInt8(ascii: "?"), UInt8(ascii: "["):
                return nil
            case UInt8(ascii: "\\") where index + 1 < pattern.count:
                index += 1
            default:
                break
            }
            key.append(pattern[index])
            index += 1
        }
        return String(decoding: key, as: UTF8.self)
    }
}
