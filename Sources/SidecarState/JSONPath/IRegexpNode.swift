// The syntax tree of an I-Regexp (RFC 9485), as the parser reads it and the compiler lowers
// it. Groups leave no trace: I-Regexp has no captures, so a group is only its contents.

/// One construct of a parsed I-Regexp.
indirect enum IRegexpNode: Sendable {
    /// A character that stands for itself, written plainly or as a single-character escape.
    case literal(Unicode.Scalar)
    /// `.`, `[..]`, `\p{..}` or `\P{..}`: any one scalar of a set.
    case scalarClass(IRegexpScalarClass)
    /// `^`: the start of the string (as the JSONPath compliance suite expects, not a literal).
    case startOfString
    /// `$`: the end of the string.
    case endOfString
    /// The pieces of a branch, in order; empty for an empty branch.
    case sequence([IRegexpNode])
    /// Two or more branches separated by `|`.
    case alternation([IRegexpNode])
    /// `*`, `+`, `?` or `{n}`, `{n,}`, `{n,m}`; `maximum` is `nil` when unbounded.
    case repetition(IRegexpNode, minimum: Int, maximum: Int?)
}

/// A set of scalars: the scalars and ranges listed in a class plus the Unicode general
/// categories it names, possibly negated (`[^..]`).
struct IRegexpScalarClass: Sendable {
    /// Listed scalars and ranges, sorted and merged so that a lookup can stop early.
    let ranges: [ClosedRange<UInt32>]
    /// One bit per general category (see ``categoryBit(of:)``) whose scalars are members.
    /// `\P{L}` contributes every category but the letters, so the union of any number of
    /// `\p` and `\P` items is still one mask.
    let categoryMask: UInt32
    /// `[^..]`: membership is inverted.
    let isNegated: Bool

    init(ranges: [ClosedRange<UInt32>], categoryMask: UInt32 = 0, isNegated: Bool = false) {
        self.ranges = Self.merged(ranges)
        self.categoryMask = categoryMask
        self.isNegated = isNegated
    }

    /// `.`: any scalar but the line breaks `\n` and `\r` (RFC 9485 section 5.3).
    static let anyExceptLineBreak = IRegexpScalarClass(ranges: [0x0A...0x0A, 0x0D...0x0D], isNegated: true)

    /// Whether `scalar` is a member.
    func contains(_ scalar: Unicode.Scalar) -> Bool {
        let member = listed(scalar.value) || (categoryMask != 0 && categoryMask & Self.categoryBit(of: scalar) != 0)
        return member != isNegated
    }

    private func listed(_ value: UInt32) -> Bool {
        for range in ranges {
            if value < range.lowerBound { return false }
            if value <= range.upperBound { return true }
        }
        return false
    }

    private static func merged(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var result: [ClosedRange<UInt32>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = result.last, range.lowerBound <= last.upperBound &+ 1 {
                result[result.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                result.append(range)
            }
        }
        return result
    }

    // MARK: - General categories

    /// The bit of `scalar`'s general category in a ``categoryMask``.
    static func categoryBit(of scalar: Unicode.Scalar) -> UInt32 {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter: return 1 << 0
        case .lowercaseLetter: return 1 << 1
        case .titlecaseLetter: return 1 << 2
        case .modifierLetter: return 1 << 3
        case .otherLetter: return 1 << 4
        case .nonspacingMark: return 1 << 5
        case .spacingMark: return 1 << 6
        case .enclosingMark: return 1 << 7
        case .decimalNumber: return 1 << 8
        case .letterNumber: return 1 << 9
        case .otherNumber: return 1 << 10
        case .connectorPunctuation: return 1 << 11
        case .dashPunctuation: return 1 << 12
        case .openPunctuation: return 1 << 13
        case .closePunctuation: return 1 << 14
        case .initialPunctuation: return 1 << 15
        case .finalPunctuation: return 1 << 16
        case .otherPunctuation: return 1 << 17
        case .mathSymbol: return 1 << 18
        case .currencySymbol: return 1 << 19
        case .modifierSymbol: return 1 << 20
        case .otherSymbol: return 1 << 21
        case .spaceSeparator: return 1 << 22
        case .lineSeparator: return 1 << 23
        case .paragraphSeparator: return 1 << 24
        case .control: return 1 << 25
        case .format: return 1 << 26
        case .surrogate: return 1 << 27
        case .privateUse: return 1 << 28
        case .unassigned: return 1 << 29
        @unknown default: return 1 << 30  // in no named category, so only `\P{..}` admits it
        }
    }

    /// The mask of an `IsCategory` name (RFC 9485 section 3): a major class such as `L` or a
    /// category such as `Lu`; `nil` for any other name.
    static func categoryMask(named name: String) -> UInt32? {
        switch name {
        case "L": return 0b11111
        case "Lu": return 1 << 0
        case "Ll": return 1 << 1
        case "Lt": return 1 << 2
        case "Lm": return 1 << 3
        case "Lo": return 1 << 4
        case "M": return 0b111 << 5
        case "Mn": return 1 << 5
        case "Mc": return 1 << 6
        case "Me": return 1 << 7
        case "N": return 0b111 << 8
        case "Nd": return 1 << 8
        case "Nl": return 1 << 9
        case "No": return 1 << 10
        case "P": return 0b111_1111 << 11
        case "Pc": return 1 << 11
        case "Pd": return 1 << 12
        case "Ps": return 1 << 13
        case "Pe": return 1 << 14
        case "Pi": return 1 << 15
        case "Pf": return 1 << 16
        case "Po": return 1 << 17
        case "S": return 0b1111 << 18
        case "Sm": return 1 << 18
        case "Sc": return 1 << 19
        case "Sk": return 1 << 20
        case "So": return 1 << 21
        case "Z": return 0b111 << 22
        case "Zs": return 1 << 22
        case "Zl": return 1 << 23
        case "Zp": return 1 << 24
        case "C": return 0b1_1111 << 25  // Cc, Cf, Cs, Co, Cn
        case "Cc": return 1 << 25
        case "Cf": return 1 << 26
        case "Co": return 1 << 28
        case "Cn": return 1 << 29
        default: return nil
        }
    }

    /// Every bit a scalar's category can have: the complement of a mask for `\P{..}`.
    static let allCategories: UInt32 = (1 << 31) - 1
}
