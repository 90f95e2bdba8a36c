import SidecarProtocol

extension SidecarClient {
    /// The shared state document: typed `state.*` calls and slice subscriptions.
    ///
    /// ```swift
    /// let revision = try await client.state.set("/settings/llm/model", "large", action: "pick model")
    /// let (model, _) = try await client.state.get("/settings/llm/model")   // "large"
    /// for try await running in client.state.subscribe("$.executions[?@.status=='running']") {
    ///     print(running)
    /// }
    /// ```
    public nonisolated var state: StateAPI { StateAPI(client: self) }
}

/// The `state.*` methods of a ``SidecarClient``, reached as `client.state` (see PROTOCOL.md, "State").
///
/// Paths are JSON Pointers (`""` is the whole document, `/settings/llm/model`); selectors are
/// a JSON Pointer or a JSONPath starting with `$`. Every change takes an optional `ifRevision`
/// (compare-and-set: a mismatch throws ``SidecarClientError/rpc(_:)`` with code `-32005` and
/// `data.revision`, the current revision) and an optional `action` label for the history.
public struct StateAPI: Sendable {
    /// The client the calls go through.
    public let client: SidecarClient

    /// - Parameter client: the client the calls go through.
    public init(client: SidecarClient) {
        self.client = client
    }

    // MARK: - Reading

    /// Reads the value at `path`.
    ///
    /// ```swift
    /// let (value, revision) = try await client.state.get("/settings/llm")
    /// if value == nil { print("nothing at /settings/llm (revision \(revision))") }
    /// ```
    /// - Parameter path: a JSON Pointer; `""` reads the whole document.
    /// - Returns: the value (`nil` when nothing is there; a stored `null` is `.null`) and the
    ///   revision it was read at. Test for absence with `if let` or `== .none`: `JSONValue`
    ///   is `ExpressibleByNilLiteral`, so `value == nil` compares with JSON `null`.
    /// - Throws: ``SidecarClientError``; `-32602` for an invalid pointer.
    public func get(_ path: String, timeout: Duration? = nil) async throws -> (value: JSONValue?, revision: Int64) {
        let result = try await client.call("state.get", params: ["path": .string(path)], timeout: timeout)
        let revision = try Self.revision(of: result, method: "state.get")
        // Spelled out: in `exists ? value : nil` the `nil` would become JSON `null`.
        guard result["exists"]?.boolValue ?? true else { return (Optional<JSONValue>.none, revision) }
        return (result["value"] ?? .null, revision)
    }

    /// Runs a JSONPath query over the document.
    ///
    /// ```swift
    /// for (path, execution) in try await client.state.query("$.executions[?@.status=='running']") {
    ///     print(path, execution["progress"] ?? .null)   // $['executions']['e2'] 0.4
    /// }
    /// ```
    /// - Parameter selector: an RFC 9535 JSONPath query, starting with `$`.
    /// - Returns: the selected nodes in document order, each with its normalized path.
    /// - Throws: ``SidecarClientError``; `-32602` for an invalid JSONPath.
    public func query(_ selector: String, timeout: Duration? = nil) async throws -> [(path: String, value: JSONValue)] {
        let result = try await client.call("state.query", params: ["selector": .string(selector)], timeout: timeout)
        guard let values = result["values"]?.arrayValue, let paths = result["paths"]?.arrayValue,
            values.count == paths.count
        else {
            throw SidecarClientError.decodingFailed(method: "state.query", reason: "result: expected {values, paths} of equal length")
        }
        return zip(paths, values).map { (path: $0.stringValue ?? "", value: $1) }
    }

    /// Recent changes, newest first (`state.history`).
    ///
    /// ```swift
    /// for change in try await client.state.history(path: "/settings", limit: 10) {
    ///     print(change["revision"] ?? .null, change["action"] ?? .null)
    /// }
    /// ```
    /// - Parameters:
    ///   - path: only changes that touched this subtree; `nil` for all.
    ///   - limit: the most changes to return (1…10000).
    ///   - beforeRevision: only changes older than this (the next page).
    /// - Returns: each change as `{revision, action, time, path, patch}`.
    public func history(
        path: String? = nil,
        limit: Int = 100,
        beforeRevision: Int64? = nil,
        timeout: Duration? = nil
    ) async throws -> [JSONValue] {
        var params: JSONObject = ["limit": .int(Int64(limit))]
        if let path { params["path"] = .string(path) }
        if let beforeRevision { params["beforeRevision"] = .int(beforeRevision) }
        let result = try await client.call("state.history", params: .object(params), timeout: timeout)
        guard let changes = result["changes"]?.arrayValue else {
            throw SidecarClientError.decodingFailed(method: "state.history", reason: "result: missing member 'changes'")
        }
        return changes
    }

    // MARK: - Changing

    /// Puts `value` at `path`, creating missing parent objects.
    ///
    /// ```swift
    /// let revision = try await client.state.set("/workspace/open", ["notes.md"])
    /// try await client.state.set("/workspace/open", ["todo.md"], ifRevision: revision)
    /// ```
    /// - Returns: the revision the change created, committed.
    /// - Throws: ``SidecarClientError``; `-32005` when `ifRevision` does not match, `-32602`
    ///   when the path cannot hold a value.
    @discardableResult
    public func set(
        _ path: String,
        _ value: JSONValue,
        ifRevision: Int64? = nil,
        action: String? = nil,
        timeout: Duration? = nil
    ) async throws -> Int64 {
        try await change("state.set", ["path": .string(path), "value": value], ifRevision, action, timeout)
    }

    /// Applies an RFC 7396 JSON Merge Patch at `path` (a `null` member removes that member).
    ///
    /// ```swift
    /// try await client.state.merge("/settings/llm", ["model": "small", "temperature": nil])
    /// ```
    /// - Returns: the revision the change created, committed.
    @discardableResult
    public func merge(
        _ path: String,
        _ value: JSONValue,
        ifRevision: Int64? = nil,
        action: String? = nil,
        timeout: Duration? = nil
    ) async throws -> Int64 {
        try await change("state.merge", ["path": .string(path), "value": value], ifRevision, action, timeout)
    }

    /// Applies an RFC 6902 JSON Patch, all operations or none, as one revision.
    ///
    /// ```swift
    /// try await client.state.patch(ops: [
    ///     ["op": "test", "path": "/status", "value": "running"],
    ///     ["op": "replace", "path": "/status", "value": "done"],
    /// ], at: "/executions/e1")
    /// ```
    /// - Parameters:
    ///   - ops: the array of operations.
    ///   - path: the value the operations' paths are relative to (default the root).
    /// - Returns: the revision the change created, committed.
    /// - Throws: ``SidecarClientError``; `-32005` with `data.op` when a `test` fails or a path
    ///   is missing, `-32602` with `data.op` for a malformed operation.
    @discardableResult
    public func patch(
        ops: JSONValue,
        at path: String = "",
        ifRevision: Int64? = nil,
        action: String? = nil,
        timeout: Duration? = nil
    ) async throws -> Int64 {
        try await change("state.patch", ["ops": ops, "path": .string(path)], ifRevision, action, timeout)
    }

    /// Removes the value at `path`; a missing path is not an error.
    ///
    /// ```swift
    /// let (_, existed) = try await client.state.delete("/executions/e1")
    /// ```
    /// - Returns: the revision after the call (unchanged when nothing was there) and whether
    ///   something was removed.
    @discardableResult
    public func delete(
        _ path: String,
        ifRevision: Int64? = nil,
        action: String? = nil,
        timeout: Duration? = nil
    ) async throws -> (revision: Int64, existed: Bool) {
        let result = try await client.call(
            "state.delete",
            params: Self.changeParams(["path": .string(path)], ifRevision, action),
            timeout: timeout
        )
        return (try Self.revision(of: result, method: "state.delete"), result["existed"]?.boolValue ?? false)
    }

    /// Restores the document as it was at `revision`, as a new revision.
    ///
    /// ```swift
    /// try await client.state.revert(to: 44, action: "undo")
    /// ```
    /// - Returns: the new revision.
    /// - Throws: ``SidecarClientError``; `-32004` when `revision` is older than the history kept.
    @discardableResult
    public func revert(to revision: Int64, action: String? = nil, timeout: Duration? = nil) async throws -> Int64 {
        var params: JSONObject = ["toRevision": .int(revision)]
        if let action { params["action"] = .string(action) }
        let result = try await client.call("state.revert", params: .object(params), timeout: timeout)
        return try Self.revision(of: result, method: "state.revert")
    }

    // MARK: - Watching

    /// Follows a slice of the document: the current value first, then each new value.
    ///
    /// The stream calls `state.subscribe`, yields the slice, then yields the slice after each
    /// change to it (never for writes elsewhere). When the connection drops and the client
    /// reconnects, it subscribes again and yields the current slice, so a consumer always
    /// ends on the latest state. Values come in revision order; a consumer that falls more
    /// than `bufferSize` values behind skips the oldest. Stopping the iteration (or
    /// cancelling its task) unsubscribes.
    ///
    /// ```swift
    /// for try await model in client.state.subscribe("/settings/llm/model") {
    ///     print("model is now", model)
    /// }
    /// ```
    /// - Parameters:
    ///   - selector: a JSON Pointer (the slice is the value there, `null` when absent) or a
    ///     JSONPath starting with `$` (the slice is the array of selected values).
    ///   - bufferSize: the most values held for a slow consumer (the newest are kept).
    /// - Returns: the values; the stream ends when the client is closed, and throws when
    ///   subscribing fails (an invalid selector, or no connection after a reconnect round).
    public func subscribe(_ selector: String, bufferSize: Int = 256) -> AsyncThrowingStream<JSONValue, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: JSONValue.self,
            bufferingPolicy: .bufferingNewest(max(1, bufferSize))
        )
        StateSubscription(selector: selector, continuation: continuation).start(on: client, endingWith: continuation)
        return stream
    }

    // MARK: - Helpers

    private func change(
        _ method: String,
        _ params: JSONObject,
        _ ifRevision: Int64?,
        _ action: String?,
        _ timeout: Duration?
    ) async throws -> Int64 {
        let result = try await client.call(method, params: Self.changeParams(params, ifRevision, action), timeout: timeout)
        return try Self.revision(of: result, method: method)
    }

    private static func changeParams(_ params: JSONObject, _ ifRevision: Int64?, _ action: String?) -> JSONValue {
        var params = params
        if let ifRevision { params["ifRevision"] = .int(ifRevision) }
        if let action { params["action"] = .string(action) }
        return .object(params)
    }

    private static func revision(of result: JSONValue, method: String) throws -> Int64 {
        guard let revision = result["revision"]?.intValue else {
            throw SidecarClientError.decodingFailed(method: method, reason: "result: missing integer member 'revision'")
        }
        return revision
    }
}
