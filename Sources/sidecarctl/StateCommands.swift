import ArgumentParser
import SidecarClient

// The state document commands: thin wrappers over `client.state` (PROTOCOL.md, "State").
// Each prints the result as JSON, like `call`: indented on a terminal, one line otherwise.

/// `sidecarctl get PATH`
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print the value at a JSON Pointer in the state document.",
        discussion: """
            Calls state.get and prints the value as JSON. Nothing at PATH is not an error: \
            `null` is printed and the exit status is 0 (use --exists to tell a stored null apart).

            Examples:
              sidecarctl get /settings/llm
              sidecarctl get ''                # the whole document
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A JSON Pointer: '' for the whole document, /settings/llm/model, …", valueName: "path"))
    var path: String

    @Flag(name: .long, help: "Exit with status 3 (and print nothing) when nothing is at PATH.")
    var exists = false

    func run() async throws {
        let (value, _) = try await global.withClient { client in
            try await client.state.get(path)
        }
        guard let value else {
            if exists { throw ExitCode(3) }
            Output.printJSON(.null)
            return
        }
        Output.printJSON(value)
    }
}

/// `sidecarctl set PATH JSON`
struct SetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Put a JSON value at a path in the state document.",
        discussion: """
            Calls state.set (missing parent objects are created) and prints {"revision": N}, \
            the revision the change created, once it is committed.

            Examples:
              sidecarctl set /settings/llm/model '"large"'
              sidecarctl set /executions/e1 '{"status": "running"}' --action 'start e1'
              sidecarctl set /workspace/open '["a.md"]' --if-revision 43
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var change: ChangeOptions

    @Argument(help: ArgumentHelp("Where to write: a JSON Pointer.", valueName: "path"))
    var path: String

    @Argument(help: ArgumentHelp("The value, as JSON (a string needs its quotes: '\"large\"'); - reads it from standard input.", valueName: "json"))
    var json: String

    func validate() throws { _ = try JSONArgument.parse(json, name: "JSON") }

    func run() async throws {
        let value = try JSONArgument.parse(json, name: "JSON")
        let revision = try await global.withClient { client in
            try await client.state.set(path, value, ifRevision: change.ifRevision, action: change.action)
        }
        Output.printJSON(["revision": .int(revision)])
    }
}

/// `sidecarctl merge PATH JSON`
struct MergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Apply a JSON Merge Patch (RFC 7396) at a path in the state document.",
        discussion: """
            Calls state.merge and prints {"revision": N}. Members of JSON replace or add members \
            at PATH; a member set to null removes it.

            Example:
              sidecarctl merge /settings/llm '{"model": "small", "temperature": null}'
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var change: ChangeOptions

    @Argument(help: ArgumentHelp("Where to merge: a JSON Pointer.", valueName: "path"))
    var path: String

    @Argument(help: ArgumentHelp("The merge patch, as JSON; - reads it from standard input.", valueName: "json"))
    var json: String

    func validate() throws { _ = try JSONArgument.parse(json, name: "JSON") }

    func run() async throws {
        let value = try JSONArgument.parse(json, name: "JSON")
        let revision = try await global.withClient { client in
            try await client.state.merge(path, value, ifRevision: change.ifRevision, action: change.action)
        }
        Output.printJSON(["revision": .int(revision)])
    }
}

/// `sidecarctl patch JSON_OPS [--path P]`
struct PatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patch",
        abstract: "Apply a JSON Patch (RFC 6902) to the state document, all or nothing.",
        discussion: """
            Calls state.patch and prints {"revision": N}. If any operation fails, none is applied \
            and the error names the operation (data.op).

            Example:
              sidecarctl patch --path /executions/e1 \\
                '[{"op":"test","path":"/status","value":"running"},{"op":"replace","path":"/status","value":"done"}]'
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var change: ChangeOptions

    @Argument(help: ArgumentHelp("The operations: a JSON array; - reads it from standard input.", valueName: "json-ops"))
    var jsonOps: String

    @Option(name: .long, help: ArgumentHelp("The pointer the operations' paths are relative to.", valueName: "pointer"))
    var path: String = ""

    func validate() throws { _ = try parsedOps() }

    func run() async throws {
        let ops = try parsedOps()
        let revision = try await global.withClient { client in
            try await client.state.patch(ops: ops, at: path, ifRevision: change.ifRevision, action: change.action)
        }
        Output.printJSON(["revision": .int(revision)])
    }

    private func parsedOps() throws -> JSONValue {
        let ops = try JSONArgument.parse(jsonOps, name: "JSON_OPS")
        guard case .array = ops else {
            throw ValidationError("JSON_OPS must be a JSON array of operations, got a \(ops.typeName).")
        }
        return ops
    }
}

/// `sidecarctl del PATH`
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "del",
        abstract: "Remove the value at a path in the state document.",
        discussion: """
            Calls state.delete and prints {"revision": N, "existed": BOOL}. Deleting a missing \
            path is not an error (existed is false and no revision is created).

            Example:
              sidecarctl del /executions/e1
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var change: ChangeOptions

    @Argument(help: ArgumentHelp("What to remove: a JSON Pointer (not '').", valueName: "path"))
    var path: String

    func run() async throws {
        let (revision, existed) = try await global.withClient { client in
            try await client.state.delete(path, ifRevision: change.ifRevision, action: change.action)
        }
        Output.printJSON(["revision": .int(revision), "existed": .bool(existed)])
    }
}

/// `sidecarctl query JSONPATH`
struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Run a JSONPath query (RFC 9535) over the state document.",
        discussion: """
            Calls state.query and prints the selected values as a JSON array, in document order; \
            with --paths, prints an object mapping each normalized path to its value instead.

            Example:
              sidecarctl query '$.executions[?@.status=="running"]'
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The query, starting with $.", valueName: "jsonpath"))
    var jsonPath: String

    @Flag(name: .long, help: "Print {normalized path: value} instead of the list of values.")
    var paths = false

    func run() async throws {
        let nodes = try await global.withClient { client in
            try await client.state.query(jsonPath)
        }
        if paths {
            Output.printJSON(.object(JSONObject(nodes.map { ($0.path, $0.value) }, uniquingKeysWith: { $1 })))
        } else {
            Output.printJSON(.array(nodes.map(\.value)))
        }
    }
}

/// `sidecarctl history [PATH] [--limit N]`
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List recent changes to the state document, newest first.",
        discussion: """
            Calls state.history and prints the changes as a JSON array of \
            {revision, action, time, path, patch}. With PATH, only changes that touched that subtree.

            Examples:
              sidecarctl history --limit 5
              sidecarctl history /settings/llm
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Only changes that touched this subtree (a JSON Pointer).", valueName: "path"))
    var path: String?

    @Option(name: .long, help: ArgumentHelp("The most changes to list (1 to 10000).", valueName: "n"))
    var limit: Int = 20

    @Option(name: .long, help: ArgumentHelp("Only changes older than this revision (the next page).", valueName: "rev"))
    var before: Int64?

    func validate() throws {
        guard (1...10_000).contains(limit) else {
            throw ValidationError("--limit must be between 1 and 10000, got \(limit).")
        }
    }

    func run() async throws {
        let changes = try await global.withClient { client in
            try await client.state.history(path: path, limit: limit, beforeRevision: before)
        }
        Output.printJSON(.array(changes))
    }
}

/// `sidecarctl revert REV`
struct RevertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revert",
        abstract: "Restore the state document as it was at a revision, as a new revision.",
        discussion: """
            Calls state.revert and prints {"revision": N}, the new revision. The changes in \
            between stay in the history.

            Example:
              sidecarctl revert 44 --action 'undo the merge'
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The revision whose document to restore (0 is {}).", valueName: "rev"))
    var revision: Int64

    @Option(name: .long, help: ArgumentHelp("A label for the new revision, kept in the history.", valueName: "label"))
    var action: String?

    func run() async throws {
        let newRevision = try await global.withClient { client in
            try await client.state.revert(to: revision, action: action)
        }
        Output.printJSON(["revision": .int(newRevision)])
    }
}

/// The options of every command that changes the document.
struct ChangeOptions: ParsableArguments {
    @Option(
        name: .customLong("if-revision"),
        help: ArgumentHelp("Apply only if the document is still at this revision (else error -32005).", valueName: "rev")
    )
    var ifRevision: Int64?

    @Option(name: .long, help: ArgumentHelp("A label for the change, kept in the history.", valueName: "label"))
    var action: String?
}
