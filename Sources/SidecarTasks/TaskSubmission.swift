import SidecarProtocol

/// A `tasks.submit` request, checked: `{kind, payload?, priority?, maxRetries?, timeout?,
/// backoff?, delay? | runAt?, idempotencyKey?}`. A bad field is `-32602` naming it.
public struct TaskSubmission: Sendable {
    public var kind: String
    public var payload: JSONValue = .null
    public var priority: TaskPriority = .normal
    public var maxRetries = 3
    /// Seconds one run may take.
    public var timeout: Double = 300
    public var backoff = Backoff()
    /// Unix milliseconds; `nil` = now.
    public var runAt: Int64?
    public var idempotencyKey: String?

    /// The most bytes of JSON a task's payload, or the result a worker completes it with, may
    /// take: a task is answered whole by `tasks.get` and `tasks.wait`, with its payload and its
    /// result, and must fit the connection's outbound cap.
    public static let maximumValueBytes = 1024 * 1024

    public init(kind: String) {
        self.kind = kind
    }

    /// Reads a submission.
    /// - Parameters:
    ///   - json: the params object (or one element of `tasks.submitMany`'s `tasks`).
    ///   - field: how to name a member in errors: `""` for `kind`, `"tasks[3]."` for `tasks[3].kind`.
    ///   - now: Unix milliseconds, for `delay`.
    public init(json: JSONValue, field prefix: String = "", now: Int64) throws(RPCError) {
        guard case .object(let object) = json else {
            throw Self.invalid(prefix.isEmpty ? "params" : String(prefix.dropLast()), "must be an object with at least 'kind'")
        }
        func name(_ member: String) -> String { prefix + member }
        for key in object.keys where !Self.members.contains(key) {
            throw Self.invalid(name(key), "is not a task field; known fields are \(Self.members.sorted().joined(separator: ", "))")
        }
        guard case .string(let kind)? = object["kind"], !kind.isEmpty, kind.utf8.count <= 200 else {
            throw Self.invalid(name("kind"), "must be a non-empty string of at most 200 bytes (exec, sidecar.noop, or a kind your workers claim)")
        }
        self.kind = kind
        payload = object["payload"] ?? .null
        guard payload.encodedSize(upTo: Self.maximumValueBytes) != nil else {
            throw Self.invalid(name("payload"), "is more than \(Self.maximumValueBytes) bytes of JSON; keep large data elsewhere and pass a path or a key")
        }
        if let value = object["priority"], !value.isNull {
            guard case .string(let text) = value, let priority = TaskPriority(rawValue: text) else {
                throw Self.invalid(name("priority"), "must be one of low, normal, high, critical")
            }
            self.priority = priority
        }
        if let value = object["maxRetries"], !value.isNull {
            guard let retries = value.intValue, (0...1000).contains(retries) else {
                throw Self.invalid(name("maxRetries"), "must be an integer from 0 to 1000")
            }
            maxRetries = Int(retries)
        }
        if let value = object["timeout"], !value.isNull {
            guard let seconds = value.doubleValue, seconds > 0, seconds <= 7 * 86_400 else {
                throw Self.invalid(name("timeout"), "must be a number of seconds above 0 and at most 604800")
            }
            timeout = seconds
        }
        if let value = object["backoff"], !value.isNull {
            do {
                backoff = try Backoff(json: value)
            } catch {
                var rpc = RPCError.invalidParams(prefix.isEmpty ? error.message : "\(error.message) (in '\(prefix.dropLast())')")
                rpc.data = ["field": .string(prefix + error.field)]
                throw rpc
            }
        }
        let delay = object["delay"].flatMap { $0.isNull ? nil : $0 }
        let runAtText = object["runAt"].flatMap { $0.isNull ? nil : $0 }
        if delay != nil && runAtText != nil {
            throw Self.invalid(name("delay"), "cannot be given together with 'runAt'; give one of them")
        }
        if let delay {
            guard let seconds = delay.doubleValue, seconds >= 0, seconds <= 366 * 86_400 else {
                throw Self.invalid(name("delay"), "must be a number of seconds from 0 to 31622400")
            }
            runAt = now + Int64((seconds * 1000).rounded())
        }
        if let runAtText {
            guard case .string(let text) = runAtText, let milliseconds = try? RFC3339.unixMilliseconds(from: text) else {
                throw Self.invalid(name("runAt"), "must be an RFC 3339 time such as 2026-11-25T14:30:00Z")
            }
            runAt = milliseconds
        }
        if kind == TaskScheduler.execKind {
            do {
                _ = try ExecPayload(json: payload)
            } catch {
                var rpc = RPCError.invalidParams(prefix.isEmpty ? error.message : "\(error.message) (in '\(prefix.dropLast())')")
                rpc.data = ["field": .string(prefix + error.field)]
                throw rpc
            }
        }
        if let value = object["idempotencyKey"], !value.isNull {
            guard case .string(let key) = value, !key.isEmpty, key.utf8.count <= 1024 else {
                throw Self.invalid(name("idempotencyKey"), "must be a non-empty string of at most 1024 bytes")
            }
            idempotencyKey = key
        }
    }

    private static let members: Set<String> = [
        "kind", "payload", "priority", "maxRetries", "timeout", "backoff", "delay", "runAt", "idempotencyKey",
    ]

    static func invalid(_ field: String, _ detail: String) -> RPCError {
        invalid(field: field, message: "'\(field)' \(detail)")
    }

    /// A `-32602` with `message` as written and `data.field` = `field`.
    static func invalid(field: String, message: String) -> RPCError {
        var error = RPCError.invalidParams(message)
        error.data = ["field": .string(field)]
        return error
    }
}
