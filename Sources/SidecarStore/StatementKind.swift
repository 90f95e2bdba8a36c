/// What a statement does, as counted by the query metrics.
public enum StatementKind: String, Sendable, CaseIterable {
    case select
    case insert
    case update
    case delete
    /// Everything else: `BEGIN`, `COMMIT`, `SAVEPOINT`, `PRAGMA`, `CREATE`, ...
    case other

    /// The kind of the statement `sql`, decided by its leading keyword.
    ///
    /// A `WITH` clause is skipped to the keyword of the statement it introduces, so
    /// `WITH RECURSIVE c(x) AS (...) SELECT ...` is a `select` and `WITH t AS (...) DELETE ...`
    /// a `delete`. `VALUES (...)` is a `select`, `REPLACE` an `insert`. Comments, string
    /// literals and quoted identifiers are skipped. Runs for every executed statement, so it
    /// reads the text in place without allocating.
    public init(sql: String) {
        var sql = sql
        self = sql.withUTF8 { StatementKind(utf8: $0) }
    }

    /// The kind of the statement whose UTF-8 text is `bytes` (SQLite's own copy of it, read in place).
    public init(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        var scanner = SQLKeywordScanner(bytes: bytes)
        guard let first = scanner.nextWord(outsideParenthesesOnly: false) else {
            self = .other
            return
        }
        if let kind = StatementKind(verb: first, in: bytes) {
            self = kind
            return
        }
        guard scanner.word(first, in: bytes, is: "WITH") else {
            self = .other
            return
        }
        // The common table expressions sit inside parentheses; the statement they
        // introduce is the first verb outside them.
        while let word = scanner.nextWord(outsideParenthesesOnly: true) {
            if let kind = StatementKind(verb: word, in: bytes) {
                self = kind
                return
            }
        }
        self = .other
    }

    private static let verbs: [(keyword: String, kind: StatementKind)] = [
        ("SELECT", .select), ("VALUES", .select), ("INSERT", .insert), ("REPLACE", .insert),
        ("UPDATE", .update), ("DELETE", .delete),
    ]

    private init?(verb: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>) {
        for (keyword, kind) in Self.verbs where SQLKeywordScanner.matches(bytes[verb], keyword) {
            self = kind
            return
        }
        return nil
    }
}

/// Finds the bare words of an SQL statement, skipping comments, literals, quoted identifiers
/// and, on request, whatever sits inside parentheses.
private struct SQLKeywordScanner {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var depth = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The byte range of the next bare word, or `nil` at the end of the text.
    mutating func nextWord(outsideParenthesesOnly: Bool) -> Range<Int>? {
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "-") where peek(1) == UInt8(ascii: "-"):
                while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
            case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "*"):
                index += 2
                while index < bytes.count, !(bytes[index] == UInt8(ascii: "*") && peek(1) == UInt8(ascii: "/")) {
                    index += 1
                }
                index += 2
            case UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "`"):
                skipQuoted(closing: byte)
            case UInt8(ascii: "["):
                skipQuoted(closing: UInt8(ascii: "]"))
            case UInt8(ascii: "("):
                depth += 1
                index += 1
            case UInt8(ascii: ")"):
                depth = max(0, depth - 1)
                index += 1
            case _ where Self.isWordByte(byte):
                let start = index
                while index < bytes.count, Self.isWordByte(bytes[index]) { index += 1 }
                if outsideParenthesesOnly && depth > 0 { continue }
                return start..<index
            default:
                index += 1
            }
        }
        return nil
    }

    func word(_ range: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>, is keyword: String) -> Bool {
        Self.matches(bytes[range], keyword)
    }

    /// Whether `word` spells the upper-case ASCII `keyword`, ignoring case.
    static func matches(_ word: Slice<UnsafeBufferPointer<UInt8>>, _ keyword: String) -> Bool {
        guard word.count == keyword.utf8.count else { return false }
        for (byte, expected) in zip(word, keyword.utf8) {
            // Clearing bit 5 upper-cases an ASCII letter; keywords are letters only.
            if byte & 0xDF != expected { return false }
        }
        return true
    }

    private func peek(_ offset: Int) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    /// Skips a literal or quoted identifier; a doubled closing quote is an escaped quote.
    private mutating func skipQuoted(closing: UInt8) {
        index += 1
        while index < bytes.count {
            if bytes[index] == closing {
                if closing != UInt8(ascii: "]"), peek(1) == closing {
                    index += 2
                    continue
                }
                index += 1
                return
            }
            index += 1
        }
    }

    private static func isWordByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "_") || byte >= 0x80
    }
}
