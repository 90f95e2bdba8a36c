import SidecarProtocol

// MARK: - Reading and writing values by pointer

extension JSONValue {
    /// The value `pointer` addresses, or `nil` when there is none: a missing member, an index past
    /// the end, a token that is not an index applied to an array (including `-`), or a token
    /// applied to a string, number, boolean or null.
    ///
    /// ```swift
    /// let model = document.value(at: try JSONPointer("/settings/llm/model"))
    /// ```
    public func value(at pointer: JSONPointer) -> JSONValue? {
        value(at: pointer, droppingLast: 0)
    }

    /// The value at `pointer` without its last `count` tokens (its parent for 1), found
    /// without making that shorter pointer. `nil` when there is none, or when `pointer` has
    /// fewer than `count` tokens.
    func value(at pointer: JSONPointer, droppingLast count: Int) -> JSONValue? {
        guard pointer.tokens.count >= count else { return .none }
        return value(following: pointer.tokens, from: 0, to: pointer.tokens.count - count)
    }

    /// The value that `tokens[position..<end]` lead to from this one. Recursive so that each
    /// container on the way is only borrowed: a loop that kept the current value in a variable
    /// copied (retained and released) every container it passed.
    private func value(following tokens: [String], from position: Int, to end: Int) -> JSONValue? {
        guard position < end else { return self }
        let token = tokens[position]
        switch self {
        case .object(let members):
            guard let index = members.index(forKey: token) else { return .none }
            return members.values[index].value(following: tokens, from: position + 1, to: end)
        case .array(let elements):
            guard case .index(let index) = JSONPointer.arrayIndex(token), index < elements.count else { return .none }
            return elements[index].value(following: tokens, from: position + 1, to: end)
        default:
            return .none
        }
    }

    /// Puts `value` at `pointer`, creating missing parent objects: the `state.set` semantics.
    ///
    /// An existing member is replaced in place (it keeps its position); a new member goes last.
    /// In an array, an index below the count replaces that element, and the count or `-`
    /// appends. Arrays on the way must already hold the element addressed; only missing object
    /// members are created, as empty objects.
    ///
    /// ```swift
    /// try document.setValue("gpt-5", at: try JSONPointer("/settings/llm/model"))
    /// ```
    /// - Parameters:
    ///   - value: the new value.
    ///   - pointer: where to put it; the root replaces the whole document.
    /// - Throws: ``JSONPointerError`` naming `pointer` when a value on the way is a string,
    ///   number, boolean or null (``JSONPointerError/Kind/notAContainer``), or an array token is
    ///   not an index or is past the end. The document is unchanged when it throws.
    public mutating func setValue(_ value: JSONValue, at pointer: JSONPointer) throws(JSONPointerError) {
        guard let key = pointer.tokens.last else {
            self = value
            return
        }
        let depth = pointer.tokens.count - 1
        try descend(pointer, depth: 0, to: depth, createMissing: true) { (parent: inout JSONValue) throws(JSONPointerError) in
            if var members = parent.takeObject() {
                members[key] = value
                parent = .object(members)
            } else if var elements = parent.takeArray() {
                defer { parent = .array(elements) }
                let position = try pointer.insertionIndex(
                    JSONPointer.arrayIndex(key), count: elements.count, depth: depth, verb: "set")
                if position == elements.count { elements.append(value) } else { elements[position] = value }
            } else {
                throw pointer.resolutionError(at: depth, in: parent)
            }
        }
    }

    /// Removes the value at `pointer` if there is one: the `state.delete` semantics, where a
    /// missing value is not an error.
    ///
    /// The remaining object members keep their order; later array elements shift down.
    /// - Returns: the removed value, or `nil` when `pointer` addressed nothing (see
    ///   ``value(at:)``).
    /// - Throws: ``JSONPointerError`` of kind ``JSONPointerError/Kind/rootNotRemovable`` for the
    ///   root pointer; a document always has a value.
    @discardableResult
    public mutating func removeValue(at pointer: JSONPointer) throws(JSONPointerError) -> JSONValue? {
        guard let key = pointer.tokens.last else {
            throw JSONPointerError(
                kind: .rootNotRemovable,
                pointer: pointer.description,
                message: "cannot remove the whole document (pointer \"\"); set it to {} instead"
            )
        }
        let depth = pointer.tokens.count - 1
        do throws(JSONPointerError) {
            return try descend(pointer, depth: 0, to: depth, createMissing: false) { (parent: inout JSONValue) -> JSONValue? in
                if var members = parent.takeObject() {
                    defer { parent = .object(members) }
                    return members.removeValue(forKey: key)
                }
                if var elements = parent.takeArray() {
                    defer { parent = .array(elements) }
                    guard case .index(let index) = JSONPointer.arrayIndex(key), index < elements.count else { return .none }
                    return elements.remove(at: index)
                }
                return .none
            }
        } catch {
            // Some value on the way is missing, so nothing is at `pointer`.
            return .none
        }
    }
}

// MARK: - Navigation

extension JSONValue {
    /// Calls `body` with the value at the first `end` tokens of `pointer`, in place, starting
    /// from token `depth` (this value being the one at the first `depth` tokens).
    ///
    /// Each container on the way is taken out of its enum case while it is changed (see
    /// ``takeObject()``), so it is mutated without a copy unless someone else shares it.
    /// With `createMissing`, missing object members on the way are created as empty objects
    /// (and removed again if `body` throws). When this throws, the value is as it was.
    mutating func descend<Result>(
        _ pointer: JSONPointer,
        depth: Int,
        to end: Int,
        createMissing: Bool,
        _ body: (inout JSONValue) throws(JSONPointerError) -> Result
    ) throws(JSONPointerError) -> Result {
        if depth == end { return try body(&self) }
        let token = pointer.tokens[depth]
        if var members = takeObject() {
            defer { self = .object(members) }
            if let index = members.index(forKey: token) {
                return try members.values[index].descend(pointer, depth: depth + 1, to: end, createMissing: createMissing, body)
            }
            guard createMissing else { throw pointer.resolutionError(at: depth, in: .object(members)) }
            members[token] = .object([:])
            do throws(JSONPointerError) {
                return try members.values[members.count - 1].descend(pointer, depth: depth + 1, to: end, createMissing: true, body)
            } catch {
                members.removeLast()
                throw error
            }
        }
        if var elements = takeArray() {
            defer { self = .array(elements) }
            guard case .index(let index) = JSONPointer.arrayIndex(token), index < elements.count else {
                throw pointer.resolutionError(at: depth, in: .array(elements))
            }
            return try elements[index].descend(pointer, depth: depth + 1, to: end, createMissing: createMissing, body)
        }
        throw pointer.resolutionError(at: depth, in: self)
    }

    /// Moves the members out of an object value, leaving `.null` behind, so the caller holds
    /// the only reference and can change them without a copy; `nil` (and no change) for any
    /// other value. The caller puts `.object(members)` back.
    ///
    /// `if case` and not `switch`: a `switch` keeps its subject alive through the case body,
    /// and that second reference would make every change copy the whole container.
    @inline(__always)
    mutating func takeObject() -> JSONObject? {
        guard case .object(let members) = self else { return .none }
        self = .null
        return members
    }

    /// Moves the elements out of an array value, leaving `.null`; see ``takeObject()``.
    @inline(__always)
    mutating func takeArray() -> [JSONValue]? {
        guard case .array(let elements) = self else { return .none }
        self = .null
        return elements
    }
}

// MARK: - Errors

extension JSONPointer {
    /// How the container at the first `depth` tokens is named in messages.
    private func container(_ value: JSONValue, at depth: Int) -> String {
        depth == 0 ? "the root \(value.typeName)" : "the \(value.typeName) at \(quotedPrefix(depth))"
    }

    /// The error for token `depth` not resolving inside `container`, the value at the first
    /// `depth` tokens.
    func resolutionError(at depth: Int, in container: JSONValue) -> JSONPointerError {
        let token = tokens[depth]
        let subject = "no value at \(Self.quoted(description))"
        switch container {
        case .object:
            return JSONPointerError(
                kind: .notFound,
                pointer: description,
                message: "\(subject): \(self.container(container, at: depth)) has no member \(Self.quoted(token))"
            )
        case .array(let elements):
            switch Self.arrayIndex(token) {
            case .index:
                return JSONPointerError(
                    kind: .notFound,
                    pointer: description,
                    message: "\(subject): \(self.container(container, at: depth)) has \(elements.count) "
                        + "element\(elements.count == 1 ? "" : "s")"
                )
            case .end:
                return JSONPointerError(
                    kind: .notFound,
                    pointer: description,
                    message: "\(subject): \"-\" names the position after the last element of "
                        + "\(self.container(container, at: depth)); only adding a value can use it"
                )
            case .invalid:
                return JSONPointerError(
                    kind: .invalidArrayIndex,
                    pointer: description,
                    message: "\(subject): \(self.container(container, at: depth)) is indexed by 0, 1, 2, … "
                        + "(no leading zeros) and \(Self.quoted(token)) is not an index"
                )
            }
        default:
            let place = depth == 0 ? "the root" : "the value at \(quotedPrefix(depth))"
            return JSONPointerError(
                kind: .notAContainer,
                pointer: description,
                message: "cannot reach \(Self.quoted(description)): \(place) is a \(container.typeName), "
                    + "which holds no other values"
            )
        }
    }

    /// The array position at which `token` (read as `index`) inserts into an array of `count`
    /// elements, the last token of this pointer at `depth`: an index up to `count`, or `-`.
    func insertionIndex(_ index: ArrayIndex, count: Int, depth: Int, verb: String) throws(JSONPointerError) -> Int {
        switch index {
        case .end:
            return count
        case .index(let position) where position <= count:
            return position
        case .index:
            let place = depth == 0 ? "the root array" : "the array at \(quotedPrefix(depth))"
            let next = Self.quoted(Self.text(of: tokens[..<depth]) + "/-")
            throw JSONPointerError(
                kind: .notFound,
                pointer: description,
                message: "cannot \(verb) at \(Self.quoted(description)): \(place) has \(count) "
                    + "element\(count == 1 ? "" : "s"); use an index from 0 to \(count), or \(next) to append"
            )
        case .invalid:
            let place = depth == 0 ? "the root array" : "the array at \(quotedPrefix(depth))"
            throw JSONPointerError(
                kind: .invalidArrayIndex,
                pointer: description,
                message: "cannot \(verb) at \(Self.quoted(description)): \(place) is indexed by 0, 1, 2, … "
                    + "(no leading zeros) or \"-\" to append, and \(Self.quoted(tokens[depth])) is not an index"
            )
        }
    }
}
