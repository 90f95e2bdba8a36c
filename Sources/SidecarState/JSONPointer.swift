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

    /// The most reference tokens a pointer may have: as many levels as the JSON parser reads,
    /// so no pointer names a place deeper than any value a client can send or read back.
    public static let maximumTokens = JSONParser.maximumDepth

    /// A pointer made of already unescaped reference tokens.
    public init(tokens: [String]) {
        self.tokens = tokens
    }

    /// Parses the text of a JSON Pointer.
    ///
    /// - Parameter text: `""` for the root, else `/` followed by `/`-separated tokens in which
    ///   `~0` stands for `~` and `~1` for `/`.
    /// - Throws: ``JSONPointerError`` of kind ``JSONPointerError/Kind/invalidSyntax`` when the text
    ///   does not start with `/` or holds a `~` not followed by `0` or `1`, and of kind
    ///   ``JSONPointerError/Kind/tooDeep`` when it has more than ``maximumTokens`` tokens.
    public init(_ text: String) throws(JSONPointerError) {
        var text = text
        // Over the UTF-8 bytes in place: walking String.UTF8View index by index cost more than
        // the rest of a `state.get`.
        let parsed = text.withUTF8 { utf8 in Result { () throws(JSONPointerError) in try Self.tokens(of: utf8) } }
        self.tokens = try parsed.get()
    }

    /// The unescaped tokens of the pointer whose text is `utf8`.
    private static func tokens(of utf8: UnsafeBufferPointer<UInt8>) throws(JSONPointerError) -> [String] {
        guard let first = utf8.first else { return [] }
        guard first == UInt8(ascii: "/") else {
            let text = String(decoding: utf8, as: UTF8.self)
            throw JSONPointerError(
                kind: .invalidSyntax,
                pointer: text,
                message: "invalid JSON Pointer \(quoted(text)): it must be \"\" for the whole document "
                    + "or start with \"/\", as in \"/settings/theme\""
            )
        }
        let count = Self.slashCount(utf8)
        guard count <= maximumTokens else {
            let start = String(decoding: utf8.prefix(40), as: UTF8.self)
            throw JSONPointerError(
                kind: .tooDeep,
                pointer: String(decoding: utf8, as: UTF8.self),
                message: "the JSON Pointer starting \(quoted(start + "…")) has \(count) reference tokens; "
                    + "at most \(maximumTokens) are allowed, as no value is nested deeper"
            )
        }
        var tokens: [String] = []
        tokens.reserveCapacity(count)
        var start = 1
        var hasTilde = false
        for index in 1...utf8.count {
            if index == utf8.count || utf8[index] == UInt8(ascii: "/") {
                let segment = UnsafeBufferPointer(rebasing: utf8[start..<index])
                tokens.append(
                    hasTilde
                        ? try Self.unescape(segment, at: start, in: utf8)
                        : String(decoding: segment, as: UTF8.self)
                )
                start = index + 1
                hasTilde = false
            } else if utf8[index] == UInt8(ascii: "~") {
                hasTilde = true
            }
        }
        return tokens
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

    private static func slashCount(_ utf8: UnsafeBufferPointer<UInt8>) -> Int {
        var count = 0
        for byte in utf8 where byte == UInt8(ascii: "/") { count += 1 }
        return count
    }

    /// Unescapes the token `segment`, which starts at byte `offset` of the pointer `text`.
    private static func unescape(
        _ segment: UnsafeBufferPointer<UInt8>, at offset: Int, in text: UnsafeBufferPointer<UInt8>
    ) throws(JSONPointerError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(segment.count)
        var index = 0
        while index < segment.count {
            let byte = segment[index]
            index += 1
            guard byte == UInt8(ascii: "~") else {
                bytes.append(byte)
                continue
            }
            let next = index == segment.count ? nil : segment[index]
            switch next {
            case UInt8(ascii: "0"): bytes.append(UInt8(ascii: "~"))
            case UInt8(ascii: "1"): bytes.append(UInt8(ascii: "/"))
            default:
                let pointer = String(decoding: text, as: UTF8.self)
                let position = offset + index - 1
                let problem = next.map { "\"~\(Character(Unicode.Scalar($0)))\" at byte \(position) is not an escape" }
                    ?? "the \"~\" at byte \(position) ends a token without \"0\" or \"1\""
                throw JSONPointerError(
                    kind: .invalidSyntax,
                    pointer: pointer,
                    message: "invalid JSON Pointer \(quoted(pointer)): \(problem); write \"~0\" for \"~\" and \"~1\" for \"/\""
                )
            }
            index += 1
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
