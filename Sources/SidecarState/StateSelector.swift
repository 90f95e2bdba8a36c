import SidecarProtocol

/// What a subscription watches: a JSON Pointer (one value) or, when it starts with `$`, an
/// RFC 9535 JSONPath (the list of values it selects).
public enum StateSelector: Sendable {
    case pointer(JSONPointer)
    case path(JSONPath)

    /// Parses a selector.
    /// - Throws: ``StateError/invalid(_:operationIndex:)`` saying what is wrong with it.
    public init(parsing text: String) throws(StateError) {
        if text.hasPrefix("$") {
            do {
                self = .path(try JSONPath(parsing: text))
            } catch {
                throw StateError.invalid("selector: \(error)", operationIndex: nil)
            }
        } else {
            do {
                self = .pointer(try JSONPointer(text))
            } catch {
                throw StateError.invalid("selector: \(error.message)", operationIndex: nil)
            }
        }
    }

    /// The selected value: a pointer's value (`null` when absent), or a JSONPath's node list;
    /// `nil` when the JSONPath selects more than ``JSONPath/maximumNodes`` nodes on its way.
    public func select(in document: JSONValue) -> JSONValue? {
        switch self {
        case .pointer(let pointer): return document.value(at: pointer) ?? .null
        case .path(let path): return path.values(in: document, nodeLimit: JSONPath.maximumNodes).map(JSONValue.array)
        }
    }

    /// Whether a change to the subtree at `changed` can change the selection: only a change
    /// above or below the pointer, or the JSONPath's ``JSONPath/scope``, can.
    public func mayBeAffected(byChangeAt changed: JSONPointer) -> Bool {
        let scope: JSONPointer
        switch self {
        case .pointer(let pointer): scope = pointer
        case .path(let path): scope = path.scope
        }
        return scope.hasPrefix(changed) || changed.hasPrefix(scope)
    }
}
