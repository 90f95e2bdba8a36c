import SidecarProtocol

/// The state document as a value: one JSON object and the revision that counts its changes.
///
/// Applying an edit is all or nothing: either the document, its revision and the returned
/// ``StateChange`` all move forward together, or a ``StateError`` is thrown and nothing
/// changed. Persistence and subscriptions are built on the returned changes.
///
/// ```swift
/// var document = StateDocument()
/// let change = try document.apply(.set(try JSONPointer("/settings/llm/model"), "large"), action: "pick model")
/// document.value(at: try JSONPointer("/settings/llm"))   // ["model": "large"]
/// ```
public struct StateDocument: Sendable {
    /// The whole document; an object at the root.
    public private(set) var root: JSONValue
    /// The revision of the last change; 0 before any.
    public private(set) var revision: Int64

    /// How many containers deep the document may nest values (the root object is the first).
    /// The document and the patches of its history are stored as JSON text and read back with
    /// ``JSONParser``, whose limit is ``JSONParser/maximumDepth``; a patch wraps its value in
    /// two more levels (`[{"value": …}]`).
    public static let maximumDepth = JSONParser.maximumDepth - 2

    /// The most bytes of JSON a patch's `copy` operations may copy in all: what one request
    /// frame can carry (16 MiB). A copy shares storage, so without a bound a few dozen copies,
    /// each doubling the document, would make one that could not be written to the history or
    /// walked through; with it, a patch adds no more than a large `state.set` does.
    public static let maximumCopiedBytes = 16 * 1024 * 1024

    /// A document with `root` at `revision` (as loaded from storage).
    public init(root: JSONValue = [:], revision: Int64 = 0) {
        self.root = root
        self.revision = revision
    }

    /// The value at `path`, or `nil` when nothing is there.
    public func value(at path: JSONPointer) -> JSONValue? {
        root.value(at: path)
    }

    /// Applies `edit` as the next revision.
    /// - Parameters:
    ///   - edit: the change.
    ///   - action: a label for the history.
    ///   - ifRevision: when given, the edit applies only if the document is at that revision.
    ///   - timeMilliseconds: when the change is made.
    /// - Returns: the change, with the patches that redo and undo it.
    /// - Throws: ``StateError``; the document is then unchanged.
    public mutating func apply(
        _ edit: StateEdit,
        action: String? = nil,
        ifRevision: Int64? = nil,
        timeMilliseconds: Int64 = 0
    ) throws(StateError) -> StateChange {
        if let ifRevision, ifRevision != revision {
            throw StateError.revisionMismatch(expected: ifRevision, current: revision)
        }
        let scope = Self.existingScope(of: edit.scope, in: root)
        let before = root.value(at: scope)
        // In place: only the containers inside `scope` are copied (`before` shares them), not
        // the ones above it, so a change costs the size of what it touches, not of the document.
        try Self.perform(edit, on: &root)  // leaves `root` as it was when it throws
        guard case .object = root else {
            // Only an edit of the whole document can do this; `before` is the document then.
            root = before ?? [:]
            throw StateError.invalid("the document's root must stay an object", operationIndex: nil)
        }
        let after = root.value(at: scope)
        // The rest of the document was within the limit already: only the changed part can
        // exceed it.
        if let after, scope.tokens.count + after.nestingDepth > Self.maximumDepth {
            try? Self.patch(at: scope, from: after, to: before).apply(to: &root)
            throw StateError.invalid(
                "the change would nest values more than \(Self.maximumDepth) levels deep under \(scope), "
                    + "deeper than the document can be stored; keep the data flatter",
                operationIndex: nil)
        }
        revision += 1
        return StateChange(
            revision: revision,
            action: action,
            timeMilliseconds: timeMilliseconds,
            path: scope,
            patch: Self.patch(at: scope, from: before, to: after),
            inverse: Self.patch(at: scope, from: after, to: before)
        )
    }

    /// Re-applies a change read back from storage (its revision must be the next one).
    public mutating func replay(_ change: StateChange) throws(StateError) {
        guard change.revision == revision + 1 else {
            throw StateError.invalid("change \(change.revision) does not follow revision \(revision)", operationIndex: nil)
        }
        do {
            try change.patch.apply(to: &root)
        } catch {
            throw StateError.invalid("change \(change.revision) does not apply: \(error.message)", operationIndex: nil)
        }
        revision = change.revision
    }

    // MARK: - Applying edits

    private static func perform(_ edit: StateEdit, on document: inout JSONValue) throws(StateError) {
        do {
            switch edit {
            case .set(let path, let value):
                try document.setValue(value, at: path)
            case .merge(let path, let value):
                try document.mergeValue(value, at: path)
            case .delete(let path):
                guard !path.isRoot else {
                    throw JSONPointerError(kind: .rootNotRemovable, pointer: "", message: "the root cannot be deleted; set it to {} instead")
                }
                _ = try document.removeValue(at: path)
            case .patch(let patch, let base):
                try applyPatch(patch, at: base, to: &document)
            }
        } catch let error as JSONPointerError {
            throw StateError.invalid(error.message, operationIndex: nil)
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError.invalid("\(error)", operationIndex: nil)
        }
    }

    private static func applyPatch(_ patch: JSONPatch, at base: JSONPointer, to document: inout JSONValue) throws(StateError) {
        do {
            if base.isRoot {
                try patch.apply(to: &document, copyLimit: maximumCopiedBytes)
                return
            }
            guard var subtree = document.value(at: base) else {
                throw StateError.patchConflict("\(base) does not exist", operationIndex: 0)
            }
            try patch.apply(to: &subtree, copyLimit: maximumCopiedBytes)
            try document.setValue(subtree, at: base)
        } catch let error as JSONPatchError {
            if error.isConflict {
                throw StateError.patchConflict(error.message, operationIndex: error.operationIndex)
            }
            throw StateError.invalid(error.message, operationIndex: error.operationIndex)
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError.invalid("\(error)", operationIndex: nil)
        }
    }

    // MARK: - History patches

    /// The deepest ancestor of `path` (or `path` itself) that exists, so that a change which
    /// creates parents is recorded as one `add` of the new subtree.
    private static func existingScope(of path: JSONPointer, in document: JSONValue) -> JSONPointer {
        var scope = path
        while document.value(at: scope) == nil, let parent = scope.parent {
            // Record the creation at the first missing level, under an existing parent.
            if document.value(at: parent) != nil { return scope }
            scope = parent
        }
        return scope
    }

    /// The one-operation patch that turns `before` into `after` at `path`.
    private static func patch(at path: JSONPointer, from before: JSONValue?, to after: JSONValue?) -> JSONPatch {
        switch (before, after) {
        case (nil, let added?): return JSONPatch([.add(path: path, value: added)])
        case (_?, nil): return JSONPatch([.remove(path: path)])
        case (_?, let replaced?): return JSONPatch([.replace(path: path, value: replaced)])
        case (nil, nil): return JSONPatch([])
        }
    }
}
