/// A recursive-descent reading of the RFC 9485 grammar into an ``IRegexpNode``.
///
/// The rules are RFC 9485 section 3's ABNF, with two choices of this implementation kept from
/// before: `^` and `$` outside a class are anchors (as the JSONPath compliance suite expects)
/// and may not take a quantifier, and patterns nest groups at most
/// ``IRegexp/maximumGroupNesting`` deep, which also bounds the recursion here.
struct IRegexpParser {
    private let scalars: [Unicode.Scalar]
    private var position = 0
    private var groupNesting = 0

    private init(scalars: [Unicode.Scalar]) {
        self.scalars = scalars
    }

    /// The tree of `pattern`, or `nil` when it is not a valid I-Regexp.
    static func parse(_ pattern: String) -> IRegexpNode? {
        var parser = IRegexpParser(scalars: Array(pattern.unicodeScalars))
        guard let node = parser.regexp(), parser.position == parser.scalars.count else { return nil }
        return node
    }

    private var peek: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    private func peek(at offset: Int) -> Unicode.Scalar? {
        position + offset < scalars.count ? scalars[position + offset] : nil
    }

    // MARK: - Structure

    /// `i-regexp = branch *( "|" branch )`
    private mutating func regexp() -> IRegexpNode? {
        guard let first = branch() else { return nil }
        var branches = [first]
        while peek == "|" {
            position += 1
            guard let next = branch() else { return nil }
            branches.append(next)
        }
        return branches.count == 1 ? first : .alternation(branches)
    }

    /// `branch = *piece`
    private mutating func branch() -> IRegexpNode? {
        var pieces: [IRegexpNode] = []
        while let scalar = peek, scalar != "|", scalar != ")" {
            guard let piece = piece() else { return nil }
            pieces.append(piece)
        }
        return pieces.count == 1 ? pieces[0] : .sequence(pieces)
    }

    /// `piece = atom [ quantifier ]`
    private mutating func piece() -> IRegexpNode? {
        let isAnchor = peek == "^" || peek == "$"
        guard let atom = atom() else { return nil }
        let minimum: Int
        let maximum: Int?
        switch peek {
        case "*":
            (minimum, maximum) = (0, nil)
            position += 1
        case "+":
            (minimum, maximum) = (1, nil)
            position += 1
        case "?":
            (minimum, maximum) = (0, 1)
            position += 1
        case "{":
            position += 1
            guard let bounds = rangeQuantifier() else { return nil }
            (minimum, maximum) = bounds
        default:
            return atom
        }
        // A quantifier on a bare anchor is refused, as the engine used before refused it
        // (`(^)*` is accepted: a group may be repeated whatever it holds).
        if isAnchor { return nil }
        return .repetition(atom, minimum: minimum, maximum: maximum)
    }

    /// `"{" QuantExact [ "," [ QuantExact ] ] "}"`, the `{` already read.
    private mutating func rangeQuantifier() -> (Int, Int?)? {
        guard let minimum = quantity() else { return nil }
        var maximum: Int? = minimum
        if peek == "," {
            position += 1
            if peek == "}" {
                maximum = nil
            } else {
                guard let bound = quantity() else { return nil }
                maximum = bound
            }
        }
        guard peek == "}" else { return nil }
        position += 1
        if let maximum, maximum < minimum { return nil }
        return (minimum, maximum)
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
    private mutating func atom() -> IRegexpNode? {
        guard let scalar = peek else { return nil }
        position += 1
        switch scalar {
        case "(":
            guard groupNesting < IRegexp.maximumGroupNesting else { return nil }
            groupNesting += 1
            guard let inner = regexp(), peek == ")" else { return nil }
            groupNesting -= 1
            position += 1
            return inner
        case ".":
            return .scalarClass(.anyExceptLineBreak)
        case "[":
            return characterClass()
        case "\\":
            return escape()
        case "^":
            return .startOfString
        case "$":
            return .endOfString
        case ")", "*", "+", "?", "{", "}", "]", "|":
            return nil
        default:
            return .literal(scalar)
        }
    }

    // MARK: - Escapes

    /// After a backslash outside a class: `SingleCharEsc`, `\p{..}` or `\P{..}`.
    private mutating func escape() -> IRegexpNode? {
        if peek == "p" || peek == "P" {
            return categoryEscape().map { .scalarClass(IRegexpScalarClass(ranges: [], categoryMask: $0)) }
        }
        return singleCharacterEscape().map { .literal($0) }
    }

    /// `SingleCharEsc` after its backslash: the character it stands for.
    private mutating func singleCharacterEscape() -> Unicode.Scalar? {
        guard let scalar = peek else { return nil }
        let character: Unicode.Scalar
        switch scalar {
        case "n": character = "\n"
        case "r": character = "\r"
        case "t": character = "\t"
        case "(", ")", "*", "+", "-", ".", "?", "[", "\\", "]", "^", "{", "|", "}": character = scalar
        default: return nil
        }
        position += 1
        return character
    }

    /// `catEsc` or `complEsc` after its backslash (`p{Lu}`, `P{N}`): the mask of the
    /// categories it admits.
    private mutating func categoryEscape() -> UInt32? {
        guard let letter = peek, letter == "p" || letter == "P" else { return nil }
        position += 1
        guard let name = categoryName(), let mask = IRegexpScalarClass.categoryMask(named: name) else { return nil }
        return letter == "p" ? mask : IRegexpScalarClass.allCategories & ~mask
    }

    /// `"{" IsCategory "}"`: a major class such as `L`, optionally with one of its minor
    /// letters (`Lu`); the name is checked by ``IRegexpScalarClass/categoryMask(named:)``.
    private mutating func categoryName() -> String? {
        guard peek == "{", let major = peek(at: 1) else { return nil }
        position += 2
        var name = String(major)
        if let minor = peek, ("a"..."z").contains(minor) {
            name.unicodeScalars.append(minor)
            position += 1
        }
        guard peek == "}" else { return nil }
        position += 1
        return name
    }

    // MARK: - Character classes

    /// `charClassExpr = "[" [ "^" ] ( "-" / CCE1 ) *CCE1 [ "-" ] "]"`, the `[` already read.
    private mutating func characterClass() -> IRegexpNode? {
        var isNegated = false
        if peek == "^" {
            position += 1
            isNegated = true
        }
        var ranges: [ClosedRange<UInt32>] = []
        var mask: UInt32 = 0
        var first = true
        while true {
            guard let scalar = peek else { return nil }
            if scalar == "]" {
                guard !first else { return nil }  // `[]` and `[^]` are not classes
                position += 1
                return .scalarClass(IRegexpScalarClass(ranges: ranges, categoryMask: mask, isNegated: isNegated))
            }
            if scalar == "-" {
                // A literal '-' only first or last: `[-a]`, `[a-]`.
                guard first || peek(at: 1) == "]" else { return nil }
                position += 1
                ranges.append(0x2D...0x2D)
            } else if scalar == "\\", let next = peek(at: 1), next == "p" || next == "P" {
                position += 1
                guard let escaped = categoryEscape() else { return nil }
                mask |= escaped
            } else {
                guard let low = classCharacter() else { return nil }
                if peek == "-", let after = peek(at: 1), after != "]" {
                    position += 1
                    guard let high = classCharacter(), low.value <= high.value else { return nil }
                    ranges.append(low.value...high.value)
                } else {
                    ranges.append(low.value...low.value)
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
            position += 1
            return singleCharacterEscape()
        default:
            position += 1
            return scalar
        }
    }
}
