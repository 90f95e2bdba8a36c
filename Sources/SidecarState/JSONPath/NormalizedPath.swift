/// The location of one node in a document, as RFC 9535 section 2.7 spells it: `$['a'][0]`.
///
/// A normalized path names each step with a single name or a non-negative index, so two paths
/// are equal exactly when they lead to the same node.
///
/// ```swift
/// let path = NormalizedPath([.name("executions"), .name("e1"), .index(0)])
/// path.description   // "$['executions']['e1'][0]"
/// path.jsonPointer   // "/executions/e1/0"
/// ```
public struct NormalizedPath: Sendable, Hashable, CustomStringConvertible {
    /// One step from a node to one of its children.
    public enum Element: Sendable, Hashable {
        /// The member of an object with this name.
        case name(String)
        /// The element of an array at this (non-negative) index.
        case index(Int)
    }

    /// The steps from the root, outermost first; empty for the root itself.
    public var elements: [Element]

    /// A path made of `elements`, outermost first.
    public init(_ elements: [Element] = []) {
        self.elements = elements
    }

    /// The path of the root node, `$`.
    public static let root = NormalizedPath()

    /// The path in RFC 9535 normalized form, e.g. `$['a'][0]['it\'s']`.
    public var description: String {
        var text = "$"
        for element in elements {
            switch element {
            case .name(let name):
                text += "['"
                Self.appendEscaped(name, to: &text)
                text += "']"
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text
    }

    /// The same location as an RFC 6901 JSON Pointer, e.g. `/a/0/b~1c`; `""` for the root.
    public var jsonPointer: String {
        var text = ""
        for element in elements {
            text += "/"
            switch element {
            case .name(let name):
                for scalar in name.unicodeScalars {
                    switch scalar {
                    case "~": text += "~0"
                    case "/": text += "~1"
                    default: text.unicodeScalars.append(scalar)
                    }
                }
            case .index(let index):
                text += String(index)
            }
        }
        return text
    }

    /// Escapes a member name as `normal-single-quoted` (RFC 9535 section 2.7): `'` and `\`
    /// with a backslash, the five common control characters by letter, other controls as
    /// `\u00xx` with lowercase hex, everything else as itself.
    private static func appendEscaped(_ name: String, to text: inout String) {
        for scalar in name.unicodeScalars {
            switch scalar {
            case "'": text += "\\'"
            case "\\": text += "\\\\"
            case "\u{08}": text += "\\b"
            case "\u{0C}": text += "\\f"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "\u{00}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                text += "\\u00" + (hex.count == 1 ? "0" + hex : hex)
            default:
                text.unicodeScalars.append(scalar)
            }
        }
    }
}
