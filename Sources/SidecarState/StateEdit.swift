import SidecarProtocol

/// A change a client asks of the state document (`state.set`, `state.merge`, `state.patch`,
/// `state.delete`), before it is applied.
public enum StateEdit: Sendable, Hashable {
    /// Puts `value` at the path, creating missing parent objects.
    case set(JSONPointer, JSONValue)
    /// Applies an RFC 7396 merge patch at the path.
    case merge(JSONPointer, JSONValue)
    /// Applies an RFC 6902 patch, all or nothing; its paths are relative to `base`.
    case patch(JSONPatch, base: JSONPointer)
    /// Removes the value at the path; a missing path is not an error.
    case delete(JSONPointer)

    /// The part of the document the edit can change: its path, or for a patch the longest
    /// path that contains every location it touches.
    var scope: JSONPointer {
        switch self {
        case .set(let path, _), .merge(let path, _), .delete(let path):
            return path.withoutAppendToken
        case .patch(let patch, let base):
            var common: [String]?
            for operation in patch.operations {
                for path in operation.touchedPaths {
                    let tokens = path.withoutAppendToken.tokens
                    common = common.map { Self.commonPrefix($0, tokens) } ?? tokens
                }
            }
            return JSONPointer(tokens: base.tokens + (common ?? []))
        }
    }

    private static func commonPrefix(_ a: [String], _ b: [String]) -> [String] {
        var count = 0
        while count < a.count, count < b.count, a[count] == b[count] { count += 1 }
        return Array(a[..<count])
    }
}

extension JSONPatch.Operation {
    /// Every location the operation reads or changes.
    var touchedPaths: [JSONPointer] {
        switch self {
        case .move(let from, let path), .copy(let from, let path): return [from, path]
        default: return [path]
        }
    }
}

extension JSONPointer {
    /// The pointer without a final `-` (the append position), which names no existing value:
    /// an append changes the array itself.
    var withoutAppendToken: JSONPointer {
        tokens.last == "-" ? JSONPointer(tokens: Array(tokens.dropLast())) : self
    }
}
