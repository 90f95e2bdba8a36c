import SidecarProtocol

/// Why the state document refused a change. Nothing is changed when one is thrown.
public enum StateError: RPCErrorConvertible, Sendable, Hashable, CustomStringConvertible {
    /// `ifRevision` did not match: someone else changed the document first.
    case revisionMismatch(expected: Int64, current: Int64)
    /// A path or a value the edit cannot apply to (bad pointer, setting inside a scalar,
    /// a malformed patch operation).
    case invalid(String, operationIndex: Int?)
    /// A patch whose `test` failed, or whose path is missing.
    case patchConflict(String, operationIndex: Int?)
    /// An earlier change could not be stored, so memory and disk may differ: no more changes.
    case storageFailed(String)

    /// A JSONPath selector too costly to evaluate: it selects more than ``JSONPath/maximumNodes``
    /// nodes on its way, or its `match()`/`search()` calls would take more steps than that many
    /// nodes are worth.
    static var selectorTooCostly: StateError {
        .invalid(
            "the selector is too costly: it selects more than \(JSONPath.maximumNodes) nodes on its way (each [*,*] or ..* "
                + "multiplies them), or its match()/search() calls would take more than "
                + "\(JSONPath.maximumNodes * JSONPathEvaluator.EvaluationBudget.regexStepsPerNode) steps (pattern size × string length); "
                + "narrow it",
            operationIndex: nil)
    }

    public var description: String {
        switch self {
        case .revisionMismatch(let expected, let current):
            return "the document is at revision \(current), not \(expected); read it again and retry"
        case .invalid(let message, _), .patchConflict(let message, _), .storageFailed(let message):
            return message
        }
    }

    /// The JSON-RPC error a client receives.
    public var rpcError: RPCError {
        switch self {
        case .revisionMismatch(_, let current):
            return RPCError(code: .conflict, message: "Conflict: \(description)", data: ["revision": .int(current)])
        case .invalid(let message, let index):
            var error = RPCError.invalidParams(message)
            if let index { error.data = ["op": .int(Int64(index))] }
            return error
        case .storageFailed(let message):
            return RPCError.internalError(message)
        case .patchConflict(let message, let index):
            return RPCError(
                code: .conflict,
                message: "Conflict: \(message)",
                data: index.map { ["op": .int(Int64($0))] }
            )
        }
    }
}
