/// An I-Regexp (RFC 9485), checked and translated to a pattern for Swift's `Regex` engine.
///
/// I-Regexp is a small subset of XML Schema regular expressions: literals, `.`, character
/// classes (with `\p{..}` categories), groups, alternation and quantifiers; no backreferences,
/// lookaround or multi-character escapes such as `\d`. The translation escapes every literal,
/// turns `.` into `[^\n\r]` and groups into non-capturing groups, and the engine runs with
/// Unicode-scalar semantics, so matching is over code points, as the RFC requires, never over
/// grapheme clusters. Following the JSONPath compliance suite, `^` and `$` outside a class
/// anchor at the start and end of the string.
///
/// `@unchecked Sendable`: `Regex` is not declared `Sendable`, but a compiled one is immutable
/// apart from its lowered program, which the standard library initializes atomically, and each
/// match runs on its own state. The initializer lowers it eagerly so that shared use only reads.
struct IRegexp: @unchecked Sendable {
    /// The largest repetition bound accepted (`a{1000}`); a larger one makes the pattern
    /// invalid rather than letting one query build an enormous matcher.
    static let maximumRepetition = 1000

    /// The deepest nesting of groups accepted; deeper patterns are treated as invalid.
    static let maximumGroupNesting = 64

    private let regex: Regex<Substring>

    /// Compiles `pattern`; `nil` when it is not a valid I-Regexp.
    init?(_ pattern: String) {
        guard let translated = Self.translate(pattern), let regex = try? Regex(translated, as: Substring.self) else { return nil }
        self.regex = regex.matchingSemantics(.unicodeScalar)
        _ = try? self.regex.firstMatch(in: "")
    }

    /// Whether the pattern matches all of `string` (the `match()` function).
    func matchesWhole(_ string: String) -> Bool {
        (try? regex.wholeMatch(in: string)).flatMap { $0 } != nil
    }

    /// Whether the pattern matches some substring of `string` (the `search()` function).
    func matchesPart(of string: String) -> Bool {
        (try? regex.firstMatch(in: string)).flatMap { $0 } != nil
    }

    /// The Swift `Regex` syntax for an I-Regexp, or `nil` when `pattern` is not one.
    static func translate(_ pattern: String) -> String? {
        var translator = Translator(scalars: Array(pattern.unicodeScalars))
        guard translator.regexp(), translator.position == translator.scalars.count else { return nil }
        return translator.output
    }
}

// MARK: - Translation

/// A recursive-descent reading of the RFC 9485 grammar that writes the translation as it goes.
private struct Translator {
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
