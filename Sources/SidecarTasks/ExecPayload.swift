import SidecarProtocol

/// What an `exec` task runs: `{argv, env?, cwd?, stdin?}`, checked once when the task is
/// submitted so that a run never fails on a malformed payload.
///
/// - `argv`: the program and its arguments, a non-empty array of strings. `argv[0]` is found
///   the way a shell finds it: used as a path when it contains a `/` (relative to `cwd`),
///   otherwise looked up in the `PATH` the process will see (from `env` when it sets one).
/// - `env`: variables set on top of the daemon's own environment (a given name replaces the
///   inherited value; nothing is removed).
/// - `cwd`: the absolute working directory; by default the daemon's.
/// - `stdin`: text (UTF-8) the process reads on its standard input, which is then closed;
///   without it, or when it is empty, the process reads from `/dev/null`.
///
/// ```swift
/// let payload = try ExecPayload(json: ["argv": ["sh", "-c", "wc -l"], "stdin": "a\nb\n"])
/// payload.argv  // ["sh", "-c", "wc -l"]
/// ```
public struct ExecPayload: Sendable, Hashable {
    /// The program (looked up in `PATH` unless it contains a `/`) and its arguments.
    public var argv: [String]
    /// Variables added to, or replacing those of, the daemon's environment.
    public var env: [String: String]
    /// The working directory (absolute); `nil` for the daemon's.
    public var cwd: String?
    /// Text written to the process's standard input; `nil` for `/dev/null`.
    public var stdin: String?

    /// A payload from its parts, unchecked: ``ProcessRunner`` reports what the system refuses
    /// (no such program, no such directory) when it runs it.
    public init(argv: [String], env: [String: String] = [:], cwd: String? = nil, stdin: String? = nil) {
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.stdin = stdin
    }

    /// Reads and checks a payload as a client sends it.
    /// - Parameter json: the task's `payload`: an object with `argv` and optionally `env`,
    ///   `cwd` and `stdin`; other members are refused (a misspelt `args` would otherwise be
    ///   silently ignored). `null` members count as absent.
    /// - Throws: ``ExecPayloadError`` naming the first invalid field (`payload.argv`,
    ///   `payload.argv[1]`, `payload.env.NAME`, `payload.cwd`, `payload.stdin`).
    public init(json: JSONValue) throws(ExecPayloadError) {
        guard case .object(let members) = json else {
            throw ExecPayloadError(field: "payload", "must be an object such as {\"argv\": [\"echo\", \"hi\"]}, got \(json.typeName)")
        }
        for name in members.keys where !Self.memberNames.contains(name) {
            throw ExecPayloadError(field: "payload.\(name)", "is not an exec payload member; use argv, env, cwd and stdin")
        }

        guard let argvValue = members["argv"], !argvValue.isNull else {
            throw ExecPayloadError(field: "payload.argv", "is required: the program and its arguments, such as [\"echo\", \"hi\"]")
        }
        guard case .array(let elements) = argvValue, !elements.isEmpty else {
            throw ExecPayloadError(field: "payload.argv", "must be a non-empty array of strings, got \(Self.describe(argvValue))")
        }
        var argv: [String] = []
        argv.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            let field = "payload.argv[\(index)]"
            guard case .string(let argument) = element else {
                throw ExecPayloadError(field: field, "must be a string, got \(element.typeName)")
            }
            if index == 0, argument.isEmpty { throw ExecPayloadError(field: field, "must name a program, got an empty string") }
            try Self.checkNoNUL(argument, field: field)
            argv.append(argument)
        }

        var env: [String: String] = [:]
        if let envValue = members["env"], !envValue.isNull {
            guard case .object(let variables) = envValue else {
                throw ExecPayloadError(field: "payload.env", "must be an object of strings such as {\"LANG\": \"C\"}, got \(envValue.typeName)")
            }
            for (name, value) in variables {
                let field = "payload.env.\(name)"
                guard !name.isEmpty, !name.utf8.contains(UInt8(ascii: "=")), !name.utf8.contains(0) else {
                    throw ExecPayloadError(field: field, "is not a valid variable name: it must be non-empty and contain neither '=' nor NUL")
                }
                guard case .string(let string) = value else {
                    throw ExecPayloadError(field: field, "must be a string, got \(value.typeName)")
                }
                try Self.checkNoNUL(string, field: field)
                env[name] = string
            }
        }

        var cwd: String?
        if let cwdValue = members["cwd"], !cwdValue.isNull {
            guard case .string(let path) = cwdValue else {
                throw ExecPayloadError(field: "payload.cwd", "must be a string, got \(cwdValue.typeName)")
            }
            guard path.hasPrefix("/") else {
                throw ExecPayloadError(field: "payload.cwd", "must be an absolute path, got \"\(path)\"")
            }
            try Self.checkNoNUL(path, field: "payload.cwd")
            cwd = path
        }

        var stdin: String?
        if let stdinValue = members["stdin"], !stdinValue.isNull {
            guard case .string(let text) = stdinValue else {
                throw ExecPayloadError(field: "payload.stdin", "must be a string, got \(stdinValue.typeName)")
            }
            stdin = text
        }

        self.init(argv: argv, env: env, cwd: cwd, stdin: stdin)
    }

    /// The payload as JSON, as ``init(json:)`` reads it; absent parts are left out.
    public var jsonValue: JSONValue {
        var object: JSONObject = ["argv": .array(argv.map(JSONValue.string))]
        if !env.isEmpty {
            // Sorted so that the same payload always encodes to the same text.
            object["env"] = .object(JSONObject(uniqueKeysWithValues: env.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }))
        }
        if let cwd { object["cwd"] = .string(cwd) }
        if let stdin { object["stdin"] = .string(stdin) }
        return .object(object)
    }

    private static let memberNames: Set<String> = ["argv", "env", "cwd", "stdin"]

    /// A C string ends at the first NUL, so such an argument would reach the program cut short.
    private static func checkNoNUL(_ string: String, field: String) throws(ExecPayloadError) {
        if string.utf8.contains(0) { throw ExecPayloadError(field: field, "must not contain a NUL character") }
    }

    private static func describe(_ value: JSONValue) -> String {
        if case .array = value { return "an empty array" }
        return value.typeName
    }
}

/// An invalid `exec` payload: which field, and what was wrong with it.
///
/// ```swift
/// do { _ = try ExecPayload(json: ["argv": []]) } catch {
///     error.message   // "'payload.argv' must be a non-empty array of strings, got an empty array"
///     error.rpcError  // -32602 with data {"field": "payload.argv"}
/// }
/// ```
public struct ExecPayloadError: RPCErrorConvertible, Hashable, Sendable, CustomStringConvertible {
    /// The offending field's path, such as `payload.argv[2]` or `payload.env.PATH`.
    public var field: String
    /// A sentence naming the field, for people.
    public var message: String

    init(field: String, _ problem: String) {
        self.field = field
        self.message = "'\(field)' \(problem)"
    }

    /// The error as a client receives it: invalid params (-32602) with `data.field`.
    public var rpcError: RPCError {
        var error = RPCError.invalidParams(message)
        error.data = ["field": .string(field)]
        return error
    }

    public var description: String { message }
}
