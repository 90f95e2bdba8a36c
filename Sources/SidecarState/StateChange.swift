import SidecarProtocol

/// One applied change to the state document: what `state.history` lists and what
/// `state.revert` undoes.
///
/// `patch` turns the document before the change into the document after it; `inverse` turns
/// it back. Both are RFC 6902 patches on the subtree at `path`.
public struct StateChange: Sendable, Hashable {
    /// The document's revision after the change.
    public var revision: Int64
    /// The label the client gave (`action`), if any.
    public var action: String?
    /// When the change was made, in milliseconds since 1970.
    public var timeMilliseconds: Int64
    /// The subtree the change touched.
    public var path: JSONPointer
    /// Before → after.
    public var patch: JSONPatch
    /// After → before.
    public var inverse: JSONPatch

    public init(
        revision: Int64,
        action: String?,
        timeMilliseconds: Int64,
        path: JSONPointer,
        patch: JSONPatch,
        inverse: JSONPatch
    ) {
        self.revision = revision
        self.action = action
        self.timeMilliseconds = timeMilliseconds
        self.path = path
        self.patch = patch
        self.inverse = inverse
    }

    /// The entry as `state.history` returns it.
    public var jsonValue: JSONValue {
        [
            "revision": .int(revision),
            "action": action.map(JSONValue.string) ?? .null,
            "time": .int(timeMilliseconds),
            "path": .string(path.description),
            "patch": patch.jsonValue,
        ]
    }
}
