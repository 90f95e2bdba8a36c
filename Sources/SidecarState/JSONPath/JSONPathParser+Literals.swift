import SidecarProtocol

// String and number literals (RFC 9535 sections 2.3.1.1 and 2.3.5.1).

extension JSONPathParser {
    /// `string-literal`, single- or double-quoted, at the opening quote; returns its value.
    mutating func parseStringLiteral() throws(JSONPathParseError) -> String {
        let open = position
        guard let quote = peek else { throw error("expected a string literal") }
        position += 1
        var value = String.UnicodeScalarView()
        while true {
            guard let scalar = peek else {
                throw error("unterminated string literal: the quote at offset \(open) is never closed")
            }
            switch scalar {
            case quote:
                position += 1
                return String(value)
            case "\\":
                value.append(try parseEscape(quote: quote))
            default:
                guard scalar.value >= 0x20 else {
                    throw error("\(Self.describe(scalar)) must be escaped in a string literal (e.g. \\n or \\u000a)")
                }
                value.append(scalar)
                position += 1
            }
        }
    }

    /// One escape sequence, at its backslash.
    private mutating func parseEscape(quote: Unicode.Scalar) throws(JSONPathParseError) -> Unicode.Scalar {
        let start = position
        position += 1
        guard let escaped = peek else { throw error("the query ends inside an escape sequence", at: start) }
        position += 1
        switch escaped {
        case "b": return "\u{08}"
        case "f": return "\u{0C}"
        case "n": return "\n"
        case "r": return "\r"
        case "t": return "\t"
        case "/": return "/"
        case "\\": return "\\"
        case "u": return try parseUnicodeEscape(start: start)
        default:
            if escaped == quote { return quote }
            let other: Unicode.Scalar = quote == "'" ? "\"" : "'"
            if escaped == other {
                throw error("\\\(other) is not an escape in a \(quote == "'" ? "single" : "double")-quoted string; write \(other) alone", at: start)
            }
            throw error("invalid escape sequence '\\\(Character(escaped))'; the escapes are \\b \\f \\n \\r \\t \\/ \\\\ \\\(Character(quote)) and \\uXXXX", at: start)
        }
    }

    /// The four hex digits after `\u`, and a following `\uXXXX` low surrogate when the first is
    /// a high surrogate.
    private mutating func parseUnicodeEscape(start: Int) throws(JSONPathParseError) -> Unicode.Scalar {
        let first = try parseHex4(start: start)
        switch first {
        case 0xD800...0xDBFF:
            guard peek == "\\", peek(at: 1) == "u" else {
                throw error("\\u escape of a high surrogate must be followed by a \\u escape of a low surrogate", at: start)
            }
            position += 2
            let second = try parseHex4(start: start)
            guard (0xDC00...0xDFFF).contains(second) else {
                throw error("\\u escape of a high surrogate must be followed by a \\u escape of a low surrogate", at: start)
            }
            // In range 0x10000...0x10FFFF, so always a scalar.
            return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)) ?? "\u{FFFD}"
        case 0xDC00...0xDFFF:
            throw error("\\u escape of a low surrogate without a high surrogate before it", at: start)
        default:
            return Unicode.Scalar(first) ?? "\u{FFFD}"
        }
    }

    private mutating func parseHex4(start: Int) throws(JSONPathParseError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let scalar = peek, let digit = Self.hexDigitValue(scalar) else {
                throw error("\\u must be followed by four hex digits", at: start)
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private static func hexDigitValue(_ scalar: Unicode.Scalar) -> UInt32? {
        switch scalar {
        case "0"..."9": return scalar.value - 0x30
        case "a"..."f": return scalar.value - 0x61 + 10
        case "A"..."F": return scalar.value - 0x41 + 10
        default: return nil
        }
    }

    /// `number = (int / "-0") [ frac ] [ exp ]`: an exact `.int` when it has neither fraction
    /// nor exponent and fits, else a `.double`.
    mutating func parseNumberLiteral() throws(JSONPathParseError) -> JSONValue {
        let start = position
        if peek == "-" { position += 1 }
        guard let first = peek, Self.isDigit(first) else { throw error("expected digits after '-'", at: start) }
        position += 1
        if first == "0" {
            if let next = peek, Self.isDigit(next) { throw error("leading zeros are not allowed in a number", at: start) }
        } else {
            skipDigits()
        }
        var isInteger = true
        if peek == "." {
            isInteger = false
            position += 1
            guard let digit = peek, Self.isDigit(digit) else { throw error("expected digits after '.' in a number", at: start) }
            skipDigits()
        }
        if peek == "e" || peek == "E" {
            isInteger = false
            position += 1
            if peek == "+" || peek == "-" { position += 1 }
            guard let digit = peek, Self.isDigit(digit) else { throw error("expected digits in the exponent of a number", at: start) }
            skipDigits()
        }
        var text = String.UnicodeScalarView()
        text.append(contentsOf: scalars[start..<position])
        let literal = String(text)
        if isInteger, let int = Int64(literal) { return .int(int) }
        guard let double = Double(literal), double.isFinite else {
            throw error("the number \(literal) is out of range", at: start)
        }
        return .double(double)
    }

    private mutating func skipDigits() {
        while let scalar = peek, Self.isDigit(scalar) { position += 1 }
    }
}
