import SidecarProtocol

/// How to take back one change a JSON Patch operation made, so that a patch that fails part way
/// leaves the document exactly as it was (member order included) without copying it first.
///
/// Each case's pointer is the operation's pointer; the change is made in the container at its
/// first `count - 1` tokens. Steps are undone in the reverse order they were made, so that
/// container is there again when its step is undone.
enum JSONPatchUndo {
    case setRoot(JSONValue)
    case removeMember(JSONPointer, key: String)
    case insertMember(JSONPointer, key: String, value: JSONValue, position: Int)
    case setMember(JSONPointer, key: String, value: JSONValue)
    case removeElement(JSONPointer, index: Int)
    case insertElement(JSONPointer, index: Int, value: JSONValue)
    case setElement(JSONPointer, index: Int, value: JSONValue)
}

// MARK: - RFC 6902 primitives

extension JSONValue {
    /// The value at `pointer`, which must exist.
    /// - Throws: ``JSONPointerError`` naming the first token that does not resolve.
    func existingValue(at pointer: JSONPointer) throws(JSONPointerError) -> JSONValue {
        var current = self
        for (depth, token) in pointer.tokens.enumerated() {
            switch current {
            case .object(let members):
                guard let member = members[token] else { throw pointer.resolutionError(at: depth, in: current) }
                current = member
            case .array(let elements):
                guard case .index(let index) = JSONPointer.arrayIndex(token), index < elements.count else {
                    throw pointer.resolutionError(at: depth, in: current)
                }
                current = elements[index]
            default:
                throw pointer.resolutionError(at: depth, in: current)
            }
        }
        return current
    }

    /// RFC 6902 `add`: the parent must exist; an object member is added or replaced, an array
    /// element is inserted at an index from 0 to the count, or appended with `-`.
    /// When this throws, the value is unchanged.
    mutating func patchAdd(_ value: JSONValue, at pointer: JSONPointer) throws(JSONPointerError) -> JSONPatchUndo {
        guard let key = pointer.tokens.last else {
            let old = self
            self = value
            return .setRoot(old)
        }
        let depth = pointer.tokens.count - 1
        return try descend(pointer, depth: 0, to: depth, createMissing: false) {
            (parent: inout JSONValue) throws(JSONPointerError) -> JSONPatchUndo in
            if var members = parent.takeObject() {
                defer { parent = .object(members) }
                if let old = members.updateValue(value, forKey: key) {
                    return .setMember(pointer, key: key, value: old)
                }
                return .removeMember(pointer, key: key)
            }
            if var elements = parent.takeArray() {
                defer { parent = .array(elements) }
                let position = try pointer.insertionIndex(
                    JSONPointer.arrayIndex(key), count: elements.count, depth: depth, verb: "add")
                elements.insert(value, at: position)
                return .removeElement(pointer, index: position)
            }
            throw pointer.resolutionError(at: depth, in: parent)
        }
    }

    /// RFC 6902 `remove`: the value must exist. When this throws, the value is unchanged.
    mutating func patchRemove(at pointer: JSONPointer) throws(JSONPointerError) -> (removed: JSONValue, undo: JSONPatchUndo) {
        guard let key = pointer.tokens.last else {
            throw JSONPointerError(
                kind: .rootNotRemovable,
                pointer: pointer.description,
                message: "cannot remove the whole document (path \"\"); use replace to change it"
            )
        }
        let depth = pointer.tokens.count - 1
        return try descend(pointer, depth: 0, to: depth, createMissing: false) {
            (parent: inout JSONValue) throws(JSONPointerError) -> (removed: JSONValue, undo: JSONPatchUndo) in
            if var members = parent.takeObject() {
                defer { parent = .object(members) }
                guard let index = members.index(forKey: key) else {
                    throw pointer.resolutionError(at: depth, in: .object(members))
                }
                let removed = members.remove(at: index)
                return (removed.value, .insertMember(pointer, key: removed.key, value: removed.value, position: index))
            }
            if var elements = parent.takeArray() {
                defer { parent = .array(elements) }
                guard case .index(let index) = JSONPointer.arrayIndex(key), index < elements.count else {
                    throw pointer.resolutionError(at: depth, in: .array(elements))
                }
                let removed = elements.remove(at: index)
                return (removed, .insertElement(pointer, index: index, value: removed))
            }
            throw pointer.resolutionError(at: depth, in: parent)
        }
    }

    /// RFC 6902 `replace`: the value must exist. When this throws, the value is unchanged.
    mutating func patchReplace(at pointer: JSONPointer, with value: JSONValue) throws(JSONPointerError) -> JSONPatchUndo {
        guard let key = pointer.tokens.last else {
            let old = self
            self = value
            return .setRoot(old)
        }
        let depth = pointer.tokens.count - 1
        return try descend(pointer, depth: 0, to: depth, createMissing: false) {
            (parent: inout JSONValue) throws(JSONPointerError) -> JSONPatchUndo in
            if var members = parent.takeObject() {
                defer { parent = .object(members) }
                guard let index = members.index(forKey: key) else {
                    throw pointer.resolutionError(at: depth, in: .object(members))
                }
                let old = members.values[index]
                members.values[index] = value
                return .setMember(pointer, key: key, value: old)
            }
            if var elements = parent.takeArray() {
                defer { parent = .array(elements) }
                guard case .index(let index) = JSONPointer.arrayIndex(key), index < elements.count else {
                    throw pointer.resolutionError(at: depth, in: .array(elements))
                }
                let old = elements[index]
                elements[index] = value
                return .setElement(pointer, index: index, value: old)
            }
            throw pointer.resolutionError(at: depth, in: parent)
        }
    }

    // MARK: - Undo

    /// Takes back one step; steps must be undone newest first.
    mutating func undo(_ step: JSONPatchUndo) {
        let pointer: JSONPointer
        switch step {
        case .setRoot(let old):
            self = old
            return
        case .removeMember(let p, _), .insertMember(let p, _, _, _), .setMember(let p, _, _),
            .removeElement(let p, _), .insertElement(let p, _, _), .setElement(let p, _, _):
            pointer = p
        }
        do throws(JSONPointerError) {
            try descend(pointer, depth: 0, to: pointer.tokens.count - 1, createMissing: false) {
                (parent: inout JSONValue) throws(JSONPointerError) in
                if var members = parent.takeObject() {
                    defer { parent = .object(members) }
                    switch step {
                    case .removeMember(_, let key):
                        members.removeValue(forKey: key)
                        return
                    case .insertMember(_, let key, let value, let position):
                        members.updateValue(value, forKey: key, insertingAt: Swift.min(position, members.count))
                        return
                    case .setMember(_, let key, let value):
                        members[key] = value
                        return
                    default:
                        break
                    }
                } else if var elements = parent.takeArray() {
                    defer { parent = .array(elements) }
                    switch step {
                    case .removeElement(_, let index) where index < elements.count:
                        elements.remove(at: index)
                        return
                    case .insertElement(_, let index, let value) where index <= elements.count:
                        elements.insert(value, at: index)
                        return
                    case .setElement(_, let index, let value) where index < elements.count:
                        elements[index] = value
                        return
                    default:
                        break
                    }
                }
                assertionFailure("JSON Patch undo step \(step) does not fit the document")
            }
        } catch {
            // Steps undone newest first always find their container; this cannot happen.
            assertionFailure("JSON Patch undo could not reach \(pointer): \(error)")
        }
    }
}
