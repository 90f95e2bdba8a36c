/// Why a JSON Pointer could not be parsed or used on a document.
///
/// The ``message`` names the pointer and the part of it at fault and says what would work,
/// ready to go into a JSON-RPC error. ``Kind/invalidSyntax``, ``Kind/rootNotRemovable`` and
/// ``Kind/tooDeep`` are wrong whatever the document; the other kinds depend on the document's
/// current contents.
public struct JSONPointerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure, stable for code to switch on.
    public enum Kind: Sendable, Hashable {
        /// The text is not a JSON Pointer: it does not start with `/`, or a `~` is not followed
        /// by `0` or `1`.
        case invalidSyntax
        /// Nothing is at the location (or, for an insertion, at its parent): a missing member,
        /// an index past the end of an array, or `-` where an existing element is needed.
        case notFound
        /// The location is inside a string, number, boolean or null, which hold no other values.
        case notAContainer
        /// A token applied to an array is not an index: not decimal digits, or a leading zero.
        case invalidArrayIndex
        /// The operation would remove the whole document.
        case rootNotRemovable
        /// The pointer has more reference tokens than a document can be nested deep
        /// (``JSONPointer/maximumTokens``).
        case tooDeep
    }

    /// What went wrong.
    public var kind: Kind
    /// The text of the pointer that was given (escaped, as the client wrote it).
    public var pointer: String
    /// What was wrong and what would work, in words a person can act on.
    public var message: String

    /// An error of `kind` about `pointer`, explained by `message`.
    public init(kind: Kind, pointer: String, message: String) {
        self.kind = kind
        self.pointer = pointer
        self.message = message
    }

    public var description: String { message }
}
