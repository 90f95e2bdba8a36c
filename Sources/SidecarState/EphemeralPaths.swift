import SidecarProtocol

/// Subtrees of the state document that live in memory only (hover state, transient
/// progress), like Zustand's `partialize`: they behave the same over RPC, but what is written
/// to disk leaves them out, so they start empty after a restart. A change inside them is
/// still logged, without its values, so revisions keep growing across restarts.
public struct EphemeralPaths: Sendable {
    public private(set) var pointers: [JSONPointer]

    public init(_ pointers: [JSONPointer] = []) {
        self.pointers = pointers.filter { !$0.isRoot }
    }

    /// `change` as it may be stored: its patches without the ephemeral subtrees.
    func storable(_ change: StateChange) -> StateChange {
        guard !pointers.isEmpty else { return change }
        var stored = change
        if pointers.contains(where: { change.path.hasPrefix($0) }) {
            // Entirely inside an ephemeral subtree: only the revision is kept.
            stored.patch = JSONPatch([])
            stored.inverse = JSONPatch([])
            return stored
        }
        stored.patch = JSONPatch(change.patch.operations.map { stripped($0, under: change.path) })
        stored.inverse = JSONPatch(change.inverse.operations.map { stripped($0, under: change.path) })
        return stored
    }

    /// The document as it may be stored in a snapshot.
    func storable(document: JSONValue) -> JSONValue {
        removingEphemeral(from: document, at: .root)
    }

    private func stripped(_ operation: JSONPatch.Operation, under scope: JSONPointer) -> JSONPatch.Operation {
        switch operation {
        case .add(let path, let value): return .add(path: path, value: removingEphemeral(from: value, at: path))
        case .replace(let path, let value): return .replace(path: path, value: removingEphemeral(from: value, at: path))
        default: return operation
        }
    }

    /// `value`, which sits at `location` in the document, without the ephemeral subtrees below it.
    private func removingEphemeral(from value: JSONValue, at location: JSONPointer) -> JSONValue {
        var value = value
        for pointer in pointers where pointer.hasPrefix(location) && pointer != location {
            let relative = JSONPointer(tokens: Array(pointer.tokens.dropFirst(location.tokens.count)))
            _ = try? value.removeValue(at: relative)
        }
        return value
    }
}
