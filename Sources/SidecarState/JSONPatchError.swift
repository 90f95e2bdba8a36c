/// Why a JSON Patch was rejected, and which of its operations was at fault.
///
/// When applying fails, the document is left exactly as it was. ``Kind/malformed`` means the
/// patch itself is wrong whatever the document, and ``Kind/tooLarge`` that it copies more than
/// allowed (JSON-RPC `-32602` invalid params); the other kinds mean it does not fit the
/// document as it is now (`-32005` conflict): see ``isConflict``.
public struct JSONPatchError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure, stable for code to switch on.
    public enum Kind: Sendable, Hashable {
        /// The patch is not an array of well-formed operations: a missing or mistyped member, an
        /// unknown `op`, a path that is not a JSON Pointer, a `move` into its own child, or a
        /// `remove` of the whole document.
        case malformed
        /// A `test` operation found a different value.
        case testFailed
        /// A path or `from` does not resolve in the document: a missing member, an index out of
        /// range or not an index, a parent that is not an object or array.
        case pathNotFound
        /// Its `copy` operations would copy more values than the caller allows.
        case tooLarge
    }

    /// What went wrong.
    public var kind: Kind
    /// The zero-based index of the failing operation; `nil` when the patch as a whole is not an
    /// array.
    public var operationIndex: Int?
    /// What was wrong and what would work, naming the operation and its paths.
    public var message: String

    /// An error of `kind` about operation `operationIndex`, explained by `message`.
    public init(kind: Kind, operationIndex: Int?, message: String) {
        self.kind = kind
        self.operationIndex = operationIndex
        self.message = message
    }

    /// Whether the patch failed because of the document's contents (a failed `test` or a path
    /// that does not resolve) rather than because it is malformed.
    public var isConflict: Bool { kind == .testFailed || kind == .pathNotFound }

    public var description: String { message }
}
