import SidecarProtocol

/// A JSON Pointer (RFC 6901): the address of one value inside a JSON document.
///
/// `""` is the whole document; every other pointer is a sequence of reference tokens, each
/// written as `/` followed by the token with `~` escaped as `~0` and `/` as `~1`. A token names an
/// object member, or, when the value it is applied to is an array, an element index (`0`, `1`,
/// … without leading zeros). In JSON Patch `add` and in ``JSONValue/setValue(_:at:)`` the token
/// `-` names the position after the last element, i.e. append.
///
/// ```swift
/// let pointer = try JSONPointer("/settings/llm~1model")
/// pointer.tokens        // ["settings", "llm/model"]
/// pointer.description   // "/settings/llm~1model"
/// document.value(at: pointer)
/// ```
///
/// The tokens are stored unescaped; parsing allocates the token array and only the tokens
/// longer than a small string's inline storage.
public struct JSONPointer: Sendable, Hashable {
    /// The reference tokens, unescaped, outermost first. Empty for the root.
    public let tokens: [String]

    /// The pointer to the whole document, `""`.
    public static let root = JSONPointer(tokens: [])

    /// A pointer made of already unescaped reference tokens.
    public init(tokens: [String]) {
        self.tokens = tokens
    }

    /// Parses the text of a JSON Pointer.
    ///
    /// - Parameter text: `""` for the root, else `/` followed by `/`-separated tokens in which
    ///   `~0` stands for `~` and `~1` for `/`.
    /// - Throws: ``JSONPointerError`` of kind ``JSONPointerError/Kind/invalidSyntax`` when the text
    ///   does not start with `/` or holds a `~` not followed by `0` or `1`.
    public init(_ text: String) throws(JSONPointerError) {
        let utf8 = text.utf8
        guard let first = utf8.first else {
            self.tokens = []
            return
        }
        guard first == UInt8(ascii: "/") else {
            throw JSONPointerError(
                kind: .invalidSyntax,
                pointer: text,
                message: "invalid JSON Pointer \(Self.quoted(text)): it must be \"\" for the whole document "
                    + "or start with \"/\", as in \"/settings/theme\""
            )
        }
        var tokens: [String] = []
        tokens.reserveCapacity(Self.slashCount(utf8))
        var start = utf8.index(after: utf8.startIndex)
        var index = start
        var hasTilde = false
        while true {
            if index == utf8.endIndex || utf8[index] == UInt8(ascii: "/") {
                let segment = utf8[start..<index]
                tokens.append(
                    hasTilde
                        ? try Self.unescape(segment, in: text)
                        : String(decoding: segment, as: UTF8.self)
                )
                guard index != utf8.endIndex else { break }
                start = utf8.index(after: index)
                hasTilde = false
            } else if utf8[index] == UInt8(ascii: "~") {
                hasTilde = true
            }
            index = utf8.index(after: index)
        }
        self.tokens = tokens
    }

    /// Whether this is the pointer to the whole document.
    public var isRoot: Bool { tokens.isEmpty }

    /// The pointer to the value that contains this one; `nil` for the root.
    public var parent: JSONPointer? {
        isRoot ? nil : JSONPointer(tokens: Array(tokens.dropLast()))
    }

    /// This pointer extended by one unescaped reference token.
    public func appending(_ token: String) -> JSONPointer {
        JSONPointer(tokens: tokens + [token])
    }

    /// Whether `prefix` addresses this location or one that contains it (every pointer has the
    /// root as a prefix). A change at pointer `p` can affect the value at `s` exactly when
    /// `p.hasPrefix(s) || s.hasPrefix(p)`.
    public func hasPrefix(_ prefix: JSONPointer) -> Bool {
        prefix.tokens.count <= tokens.count && tokens.starts(with: prefix.tokens)
    }

    // MARK: - Parsing helpers

    private static func slashCount(_ utf8: String.UTF8View) -> Int {
        var count = 0
        for byte in utf8 where byte == UInt8(ascii: "/") { count += 1 }
        return count
    }

    private static func unescape(_ segment: Substring.UTF8View, in text: String) throws(JSONPointerError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(segment.count)
        var index = segment.startIndex
        while index != segment.endIndex {
            let byte = segment[index]
            index = segment.index(after: index)
            guard byte == UInt8(ascii: "~") else {
                bytes.append(byte)
                continue
            }
            let next = index == segment.endIndex ? nil : segment[index]
            switch next {
            case UInt8(ascii: "0"): bytes.append(UInt8(ascii: "~"))
            case UInt8(ascii: "1"): bytes.append(UInt8(ascii: "/"))
            default:
                let offset = text.utf8.distance(from: text.utf8.startIndex, to: index) - 1
                let problem = next.map { "\"~\(Character(Unicode.Scalar($0)))\" at byte \(offset) is not an escape" }
                    ?? "the \"~\" at byte \(offset) ends a token without \"0\" or \"1\""
                throw JSONPointerError(
                    kind: .invalidSyntax,
                    pointer: text,
                    message: "invalid JSON Pointer \(quoted(text)): \(problem); write \"~0\" for \"~\" and \"~1\" for \"/\""
                )
            }
            index = segment.index(after: index)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Array indexes

    /// What a reference token means when applied to an array.
    enum ArrayIndex: Equatable {
        /// A decimal index without leading zeros (it may be past the end).
        case index(Int)
        /// `-`: the position after the last element.
        case end
        /// Anything else: not an array index.
        case invalid
    }

    /// Reads `token` as an array index per RFC 6901: `0`, or a digit 1–9 followed by digits;
    /// `-` is ``ArrayIndex/end``. An index too large for `Int` reads as `Int.max` (past any end).
    static func arrayIndex(_ token: String) -> ArrayIndex {
        let utf8 = token.utf8
        guard let first = utf8.first else { return .invalid }
        if first == UInt8(ascii: "-") { return utf8.count == 1 ? .end : .invalid }
        if first == UInt8(ascii: "0") { return utf8.count == 1 ? .index(0) : .invalid }
        var value = 0
        var overflow = false
        for byte in utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return .invalid }
            if !overflow {
                let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = shifted.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
                overflow = o1 || o2
                value = sum
            }
        }
        return .index(overflow ? Int.max : value)
    }

    // MARK: - Text

    /// The escaped pointer text of `tokens`.
    static func text(of tokens: ArraySlice<String>) -> String {
        var result = ""
        for token in tokens {
            result.append("/")
            if token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) {
                for character in token.unicodeScalars {
                    switch character {
                    case "~": result.append("~0")
                    case "/": result.append("~1")
                    default: result.unicodeScalars.append(character)
                    }
                }
            } else {
                result.append(token)
            }
        }
        return result
    }

    /// `text` as a JSON string literal, for messages: quotes and backslashes escaped, the root
    /// shown as `""`.
    static func quoted(_ text: String) -> String {
        JSONWriter.string(.string(text))
    }

    /// The first `count` tokens as a quoted pointer, for messages.
    func quotedPrefix(_ count: Int) -> String {
        Self.quoted(Self.text(of: tokens[..<count]))
    }
}

extension JSONPointer: CustomStringConvertible {
    /// The escaped text of the pointer: `""` for the root, else `/a/b~1c`.
    public var description: String { Self.text(of: tokens[...]) }
}
