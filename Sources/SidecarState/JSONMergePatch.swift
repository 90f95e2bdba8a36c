import SidecarProtocol

/// JSON Merge Patch (RFC 7396): a patch that looks like the document it changes.
///
/// An object patch sets each of its members in the target, recursively, and a member whose value
/// is `null` removes that member; any other patch (array, string, number, boolean, `null`)
/// replaces the target outright. Arrays are never merged element by element.
///
/// ```swift
/// let target: JSONValue = ["title": "Hello", "author": ["givenName": "John", "familyName": "Doe"]]
/// let patch: JSONValue = ["title": "Hi", "author": ["familyName": nil]]
/// JSONMergePatch.apply(patch, to: target)   // {"title": "Hi", "author": {"givenName": "John"}}
/// ```
public enum JSONMergePatch {
    /// The result of merging `patch` into `target`, exactly as RFC 7396's `MergePatch`.
    /// - Parameters:
    ///   - patch: the merge patch.
    ///   - target: the value to change.
    /// - Returns: the changed value.
    public static func apply(_ patch: JSONValue, to target: JSONValue) -> JSONValue {
        var result = target
        merge(patch, into: &result)
        return result
    }

    /// Merges `patch` into `target` in place (RFC 7396 `MergePatch`). Existing members keep their
    /// position; new members go last.
    public static func merge(_ patch: JSONValue, into target: inout JSONValue) {
        guard case .object(let patchMembers) = patch else {
            target = patch
            return
        }
        // Taking the members out leaves them uniquely held, so they change in place.
        var members = target.takeObject() ?? [:]
        for (name, value) in patchMembers {
            if value.isNull {
                members.removeValue(forKey: name)
            } else if let index = members.index(forKey: name) {
                merge(value, into: &members.values[index])
            } else {
                members[name] = mergedIntoNothing(value)
            }
        }
        target = .object(members)
    }

    /// `MergePatch(undefined, patch)`: the patch itself, with the `null` members of its objects
    /// (at any depth) dropped.
    static func mergedIntoNothing(_ patch: JSONValue) -> JSONValue {
        guard case .object = patch else { return patch }
        var result = JSONValue.null
        merge(patch, into: &result)
        return result
    }
}

// MARK: - Merging at a pointer

extension JSONValue {
    /// Merges `patch` (RFC 7396) into the value at `pointer`, creating missing parent objects:
    /// the `state.merge` semantics.
    ///
    /// It behaves as merging `{"<last token>": patch}` into the parent: the value there is
    /// `MergePatch(current value, patch)`, where a missing value counts as absent; so a `null`
    /// patch removes the value (and a missing one stays missing, creating nothing). At the root,
    /// the document becomes `MergePatch(document, patch)`. In an array, the token must be an
    /// existing index, or the count or `-` to append.
    ///
    /// ```swift
    /// try document.mergeValue(["model": "gpt-5", "temperature": nil], at: try JSONPointer("/settings/llm"))
    /// ```
    /// - Throws: ``JSONPointerError`` naming `pointer` when a value on the way is not an object or
    ///   array, or an array token is not an index or past the end, as ``setValue(_:at:)``.
    ///   The document is unchanged when it throws.
    public mutating func mergeValue(_ patch: JSONValue, at pointer: JSONPointer) throws(JSONPointerError) {
        guard let key = pointer.tokens.last else {
            JSONMergePatch.merge(patch, into: &self)
            return
        }
        if patch.isNull {
            try removeValue(at: pointer)
            return
        }
        let depth = pointer.tokens.count - 1
        try descend(pointer, depth: 0, to: depth, createMissing: true) { (parent: inout JSONValue) throws(JSONPointerError) in
            if var members = parent.takeObject() {
                defer { parent = .object(members) }
                if let index = members.index(forKey: key) {
                    JSONMergePatch.merge(patch, into: &members.values[index])
                } else {
                    members[key] = JSONMergePatch.mergedIntoNothing(patch)
                }
            } else if var elements = parent.takeArray() {
                defer { parent = .array(elements) }
                let position = try pointer.insertionIndex(
                    JSONPointer.arrayIndex(key), count: elements.count, depth: depth, verb: "merge")
                if position == elements.count {
                    elements.append(JSONMergePatch.mergedIntoNothing(patch))
                } else {
                    JSONMergePatch.merge(patch, into: &elements[position])
                }
            } else {
                throw pointer.resolutionError(at: depth, in: parent)
            }
        }
    }
}
