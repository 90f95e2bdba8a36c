import SidecarProtocol

/// A JSON Patch (RFC 6902): a sequence of operations applied to a JSON document as one change,
/// all of them or none.
///
/// ```swift
/// let patch = try JSONPatch(json: try JSONParser.parse(#"""
///     [{"op": "test", "path": "/status", "value": "queued"},
///      {"op": "replace", "path": "/status", "value": "running"}]
///     """#))
/// try patch.apply(to: &document)      // in place; on failure `document` is unchanged
/// let next = try patch.applied(to: document)
/// ```
///
/// A failure is a ``JSONPatchError`` with the index of the failing operation; its
/// ``JSONPatchError/isConflict`` tells a patch that does not fit the document (a failed `test`,
/// a path that does not resolve) from a malformed one.
public struct JSONPatch: Sendable, Hashable {
    /// One JSON Patch operation.
    public enum Operation: Sendable, Hashable {
        /// Adds a member, inserts an array element (`-` appends), or replaces the document.
        /// The parent must exist.
        case add(path: JSONPointer, value: JSONValue)
        /// Removes the value, which must exist.
        case remove(path: JSONPointer)
        /// Replaces the value, which must exist.
        case replace(path: JSONPointer, value: JSONValue)
        /// Removes the value at `from` and adds it at `path`. `from` must not contain `path`.
        case move(from: JSONPointer, path: JSONPointer)
        /// Adds a copy of the value at `from` at `path`.
        case copy(from: JSONPointer, path: JSONPointer)
        /// Succeeds when the value at `path` equals `value` (JSON equality: numbers by value,
        /// object members in any order).
        case test(path: JSONPointer, value: JSONValue)
    }

    /// The operations, applied in order.
    public var operations: [Operation]

    /// A patch made of `operations`.
    public init(_ operations: [Operation]) {
        self.operations = operations
    }

    /// Reads a patch from its JSON form, an array of operation objects. Members other than `op`,
    /// `path`, `from` and `value` are ignored, as RFC 6902 requires.
    /// - Throws: ``JSONPatchError`` of kind ``JSONPatchError/Kind/malformed`` naming the first
    ///   operation that is not well formed (or with no index when `json` is not an array).
    public init(json: JSONValue) throws(JSONPatchError) {
        guard case .array(let elements) = json else {
            throw JSONPatchError(
                kind: .malformed,
                operationIndex: nil,
                message: "a JSON Patch is an array of operations such as "
                    + "[{\"op\": \"add\", \"path\": \"/a\", \"value\": 1}], got \(json.typeName)"
            )
        }
        var operations: [Operation] = []
        operations.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            operations.append(try Operation(json: element, index: index))
        }
        self.operations = operations
    }

    /// The JSON form of the patch, as RFC 6902 writes it.
    public var jsonValue: JSONValue {
        .array(operations.map(\.jsonValue))
    }

    /// The patch as compact JSON text, the same as `JSONWriter.string(jsonValue)` without
    /// building the intermediate value.
    public var jsonText: String {
        var bytes: [UInt8] = []
        writeJSON(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends ``jsonText``'s bytes to `bytes`, which is what the change log stores (two patches
    /// per change): a writer of many patches reuses one buffer.
    public func writeJSON(into bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "["))
        for (index, operation) in operations.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            operation.writeJSON(into: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Applies the patch to `document` in place, all operations or none.
    ///
    /// The document is changed where it stands (containers are copied only when shared
    /// elsewhere); if an operation fails, the ones before it are undone so the document is
    /// exactly as it was, member order included.
    /// - Throws: ``JSONPatchError`` naming the failing operation.
    /// - Parameter copyLimit: when given, the most bytes of JSON (as
    ///   ``SidecarProtocol/JSONValue/encodedSize(upTo:)`` counts them) that the patch's `copy`
    ///   operations may copy in all. A copy shares its value's storage, so a patch of a few
    ///   dozen `copy` operations, each doubling the document, could otherwise make a document
    ///   that no one can write out or walk through.
    public func apply(to document: inout JSONValue, copyLimit: Int? = nil) throws(JSONPatchError) {
        var copyBudget = copyLimit
        switch operations.count {
        case 0:
            return
        case 1:
            // A single operation changes nothing when it fails.
            try spendCopyBudget(&copyBudget, of: copyLimit, on: 0, in: document)
            try operations[0].perform(on: &document, index: 0) { _ in }
        default:
            var undo: [JSONPatchUndo] = []
            undo.reserveCapacity(operations.count)
            for index in operations.indices {
                do throws(JSONPatchError) {
                    try spendCopyBudget(&copyBudget, of: copyLimit, on: index, in: document)
                    try operations[index].perform(on: &document, index: index) { undo.append($0) }
                } catch {
                    for step in undo.reversed() { document.undo(step) }
                    throw error
                }
            }
        }
    }

    /// Takes what operation `index` copies (if it is a `copy`) out of `budget`, what is left
    /// of `limit`. The count stops at the budget, so it costs no more than the budget allows.
    private func spendCopyBudget(_ budget: inout Int?, of limit: Int?, on index: Int, in document: JSONValue) throws(JSONPatchError) {
        guard let left = budget, case .copy(let from, _) = operations[index], let value = document.value(at: from) else { return }
        guard let copied = value.encodedSize(upTo: left) else {
            throw JSONPatchError(
                kind: .tooLarge, operationIndex: index,
                message: "operation \(index) (\(operations[index].summary)) would make this patch copy more than "
                    + "\(limit ?? left) bytes of JSON; copy less, or send the values themselves")
        }
        budget = left - copied
    }

    /// The result of applying the patch to `document`, which is not changed.
    /// - Throws: ``JSONPatchError`` naming the failing operation.
    public func applied(to document: JSONValue) throws(JSONPatchError) -> JSONValue {
        var result = document
        for index in operations.indices {
            try operations[index].perform(on: &result, index: index) { _ in }
        }
        return result
    }
}

// MARK: - Operation

extension JSONPatch.Operation {
    /// The operation's name as RFC 6902 writes it in `op`.
    public var name: String {
        switch self {
        case .add: return "add"
        case .remove: return "remove"
        case .replace: return "replace"
        case .move: return "move"
        case .copy: return "copy"
        case .test: return "test"
        }
    }

    /// The location the operation changes or tests.
    public var path: JSONPointer {
        switch self {
        case .add(let path, _), .remove(let path), .replace(let path, _), .move(_, let path), .copy(_, let path),
            .test(let path, _):
            return path
        }
    }

    /// The JSON form of the operation.
    public var jsonValue: JSONValue {
        var members: JSONObject = ["op": .string(name)]
        switch self {
        case .move(let from, _), .copy(let from, _):
            members["from"] = .string(from.description)
        default:
            break
        }
        members["path"] = .string(path.description)
        switch self {
        case .add(_, let value), .replace(_, let value), .test(_, let value):
            members["value"] = value
        default:
            break
        }
        return .object(members)
    }

    /// Appends the operation's JSON text, members in the order of ``jsonValue``.
    func writeJSON(into bytes: inout [UInt8]) {
        func member(_ name: StaticString, first: Bool = false) {
            if !first { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            bytes.append(UInt8(ascii: "\""))
            bytes.append(UInt8(ascii: ":"))
        }
        bytes.append(UInt8(ascii: "{"))
        member("op", first: true)
        JSONWriter.writeString(name, into: &bytes)
        switch self {
        case .move(let from, _), .copy(let from, _):
            member("from")
            JSONWriter.writeString(from.description, into: &bytes)
        default:
            break
        }
        member("path")
        JSONWriter.writeString(path.description, into: &bytes)
        switch self {
        case .add(_, let value), .replace(_, let value), .test(_, let value):
            member("value")
            JSONWriter.write(value, into: &bytes)
        default:
            break
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// Reads operation number `index` of a patch.
    init(json: JSONValue, index: Int) throws(JSONPatchError) {
        func malformed(_ detail: String) -> JSONPatchError {
            JSONPatchError(kind: .malformed, operationIndex: index, message: "operation \(index): \(detail)")
        }
        guard case .object(let members) = json else {
            throw malformed(
                "expected an object such as {\"op\": \"add\", \"path\": \"/a\", \"value\": 1}, got \(json.typeName)")
        }
        guard let opValue = members["op"] else {
            throw malformed("missing \"op\"; it must be one of add, remove, replace, move, copy, test")
        }
        guard case .string(let op) = opValue else {
            throw malformed("\"op\" must be a string (add, remove, replace, move, copy or test), got \(opValue.typeName)")
        }
        func pointer(_ member: String) throws(JSONPatchError) -> JSONPointer {
            guard let value = members[member] else {
                throw malformed("missing \"\(member)\"; \(op) needs it, as a JSON Pointer such as \"/a/b\"")
            }
            guard case .string(let text) = value else {
                throw malformed("\"\(member)\" must be a JSON Pointer string such as \"/a/b\", got \(value.typeName)")
            }
            do throws(JSONPointerError) {
                return try JSONPointer(text)
            } catch {
                throw malformed("\"\(member)\": \(error.message)")
            }
        }
        func value() throws(JSONPatchError) -> JSONValue {
            guard let value = members["value"] else {
                throw malformed("missing \"value\"; \(op) needs the value to \(op == "test" ? "compare" : "write")")
            }
            return value
        }
        switch op {
        case "add": self = .add(path: try pointer("path"), value: try value())
        case "remove": self = .remove(path: try pointer("path"))
        case "replace": self = .replace(path: try pointer("path"), value: try value())
        case "test": self = .test(path: try pointer("path"), value: try value())
        case "copy": self = .copy(from: try pointer("from"), path: try pointer("path"))
        case "move":
            let from = try pointer("from")
            let path = try pointer("path")
            if let problem = Self.moveIntoChild(from: from, path: path) { throw malformed(problem) }
            self = .move(from: from, path: path)
        default:
            throw malformed(
                "unknown op \(JSONPointer.quoted(op)); it must be one of add, remove, replace, move, copy, test")
        }
    }

    /// Why moving `from` to `path` is impossible whatever the document, or `nil`: RFC 6902 forbids
    /// moving a value into one of its own children.
    static func moveIntoChild(from: JSONPointer, path: JSONPointer) -> String? {
        guard path.tokens.count > from.tokens.count, path.hasPrefix(from) else { return nil }
        return "cannot move \(JSONPointer.quoted(from.description)) into its own child "
            + "\(JSONPointer.quoted(path.description))"
    }

    /// Applies the operation to `document`, reporting each change to `record` so it can be
    /// undone. When this throws, `document` is unchanged.
    func perform(
        on document: inout JSONValue,
        index: Int,
        record: (JSONPatchUndo) -> Void
    ) throws(JSONPatchError) {
        if case .move(let from, let path) = self, let problem = Self.moveIntoChild(from: from, path: path) {
            throw JSONPatchError(kind: .malformed, operationIndex: index, message: "operation \(index): \(problem)")
        }
        let failedTest: JSONValue?
        do throws(JSONPointerError) {
            failedTest = try edit(&document, record: record)
        } catch {
            throw JSONPatchError(
                kind: error.kind == .invalidSyntax || error.kind == .rootNotRemovable ? .malformed : .pathNotFound,
                operationIndex: index,
                message: "operation \(index) (\(summary)): \(error.message)"
            )
        }
        if let actual = failedTest, case .test(let path, let expected) = self {
            throw JSONPatchError(
                kind: .testFailed,
                operationIndex: index,
                message: "operation \(index) (test \(JSONPointer.quoted(path.description))) failed: "
                    + "the value is \(Self.excerpt(actual)), not \(Self.excerpt(expected))"
            )
        }
    }

    /// The document work of ``perform(on:index:record:)``.
    /// - Returns: for a `test` that fails, the value found; else `nil`.
    private func edit(_ document: inout JSONValue, record: (JSONPatchUndo) -> Void) throws(JSONPointerError) -> JSONValue? {
        switch self {
        case .add(let path, let value):
            record(try document.patchAdd(value, at: path))
        case .remove(let path):
            record(try document.patchRemove(at: path).undo)
        case .replace(let path, let value):
            record(try document.patchReplace(at: path, with: value))
        case .copy(let from, let path):
            let value = try document.existingValue(at: from)
            record(try document.patchAdd(value, at: path))
        case .move(let from, let path):
            guard from != path else {
                // Moving a value onto itself changes nothing, but the value must exist.
                _ = try document.existingValue(at: from)
                return .none
            }
            let removal = try document.patchRemove(at: from)
            do throws(JSONPointerError) {
                let addition = try document.patchAdd(removal.removed, at: path)
                record(removal.undo)
                record(addition)
            } catch {
                document.undo(removal.undo)
                throw error
            }
        case .test(let path, let expected):
            let actual = try document.existingValue(at: path)
            // `.none`, not `nil`: JSONValue is itself expressible by `nil` (as `.null`).
            return actual == expected ? .none : .some(actual)
        }
        return .none
    }

    /// The operation in a few words for messages: `add "/a/b"`, `move "/a" to "/b"`.
    var summary: String {
        switch self {
        case .move(let from, let path), .copy(let from, let path):
            return "\(name) \(JSONPointer.quoted(from.description)) to \(JSONPointer.quoted(path.description))"
        default:
            return "\(name) \(JSONPointer.quoted(path.description))"
        }
    }

    /// The compact JSON of `value`, cut short when long, for messages.
    static func excerpt(_ value: JSONValue) -> String {
        let text = JSONWriter.string(value)
        guard text.utf8.count > 120 else { return text }
        return String(text.prefix(117)) + "…"
    }
}
