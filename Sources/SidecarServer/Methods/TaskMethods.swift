import NIOCore
import SidecarProtocol
import SidecarTasks

/// The `tasks.*` methods: the durable task scheduler (see PROTOCOL.md, "Tasks").
enum TaskMethods {
    static func register(into router: inout MethodRouter, tasks: TaskScheduler) {
        router.register("tasks.submit", .onLoop { context in
            let submission = try TaskSubmission(json: context.params.raw ?? .null, now: TaskScheduler.now())
            return .later(tasks.submit([submission]).map { results in
                ["id": .string(results[0].task.id), "created": .bool(results[0].created)]
            })
        })
        router.register("tasks.submitMany", .onLoop { context in
            guard case .array(let elements) = try context.params.required("tasks"), !elements.isEmpty, elements.count <= 10_000 else {
                throw RPCError.invalidParams("'tasks' must be an array of 1 to 10000 task objects", field: "tasks")
            }
            let now = TaskScheduler.now()
            var submissions: [TaskSubmission] = []
            submissions.reserveCapacity(elements.count)
            for (index, element) in elements.enumerated() {
                submissions.append(try TaskSubmission(json: element, field: "tasks[\(index)].", now: now))
            }
            return .later(tasks.submit(submissions).map { results in
                ["tasks": .array(results.map { ["id": .string($0.task.id), "created": .bool($0.created)] })]
            })
        })
        router.register("tasks.get", .onLoop { context in
            let id = try context.params.string("id")
            return .later(tasks.task(id: id).flatMapThrowing { task in
                guard let task else { throw TaskSchedulerError.notFound(id) }
                return task.jsonValue
            })
        })
        router.register("tasks.list", .onLoop { context in
            let status = try enumParam(context.params, "status", TaskStatus.self)
            let priority = try enumParam(context.params, "priority", TaskPriority.self)
            let kind = try context.params.optionalString("kind")
            let after = try context.params.optionalString("after")
            let limit = try context.params.int("limit", default: 100, range: 1...1000)
            return .later(tasks.list(status: status, kind: kind, priority: priority, after: after, limit: Int(limit)).map { page in
                ["tasks": .array(page.tasks.map(\.jsonValue)), "next": page.next.map(JSONValue.string) ?? .null]
            })
        })
        router.register("tasks.cancel", .onLoop { context in
            .later(tasks.cancel(id: try context.params.string("id")).map(\.jsonValue))
        })
        router.register("tasks.retry", .onLoop { context in
            .later(tasks.retry(id: try context.params.string("id")).map(\.jsonValue))
        })
        router.register("tasks.wait", .onLoop { context in
            let id = try context.params.string("id")
            let timeout = try seconds(context.params, "timeout", default: 30, maximum: 86_400)
            return .later(tasks.wait(id: id, timeout: timeout).map(\.jsonValue))
        })
        router.register("tasks.subscribe", .onLoop { context in
            let id = try context.params.optionalString("id")
            let kind = try context.params.optionalString("kind")
            let connection = context.connection
            let subscriber = TaskScheduler.Subscriber(connectionID: connection.info.id, taskID: id, kind: kind) { taskID, params in
                connection.notifier.send(RPCNotification(method: "tasks.changed", params: params), coalescingKey: "tasks.\(taskID)")
            }
            connection.onClose(service: "tasks") { tasks.connectionClosed(connection.info.id) }
            return .later(tasks.subscribe(subscriber).map { subscription, task in
                var result: JSONObject = ["subscription": .int(Int64(subscription))]
                if id != nil { result["task"] = task?.jsonValue ?? .null }
                return .object(result)
            })
        })
        router.register("tasks.unsubscribe", .onLoop { context in
            let id = try context.params.requiredInt("subscription", range: 0...Int64.max)
            return .later(tasks.unsubscribe(UInt64(id), connectionID: context.connection.info.id).map { ["unsubscribed": .bool($0)] })
        })
        router.register("tasks.claim", .onLoop { context in
            guard case .array(let elements) = try context.params.required("kinds"), !elements.isEmpty else {
                throw RPCError.invalidParams("'kinds' must be a non-empty array of task kinds", field: "kinds")
            }
            var kinds: Set<String> = []
            for element in elements {
                guard case .string(let kind) = element, !kind.isEmpty else {
                    throw RPCError.invalidParams("'kinds' must be a non-empty array of task kinds", field: "kinds")
                }
                kinds.insert(kind)
            }
            let maximum = try context.params.int("max", default: 1, range: 1...1000)
            let lease = try seconds(context.params, "lease", default: 30, maximum: 86_400, minimum: 0.001)
            let wait = try seconds(context.params, "wait", default: 0, maximum: 300)
            let connection = context.connection
            connection.onClose(service: "tasks") { tasks.connectionClosed(connection.info.id) }
            return .later(tasks.claim(kinds: kinds, maximum: Int(maximum), lease: lease, wait: wait, connectionID: connection.info.id)
                .map { ["tasks": .array($0.map(\.jsonValue))] })
        })
        router.register("tasks.heartbeat", .onLoop { context in
            let id = try context.params.string("id")
            let lease = try context.params.value("lease") == nil ? nil : try seconds(context.params, "lease", default: 30, maximum: 86_400, minimum: 0.001)
            let progress = try progressParam(context.params)
            return .later(tasks.heartbeat(id: id, lease: lease, progress: progress, connectionID: context.connection.info.id).map(\.jsonValue))
        })
        router.register("tasks.complete", .onLoop { context in
            let id = try context.params.string("id")
            let result = try context.params.value("result") ?? .null
            guard result.encodedSize(upTo: TaskSubmission.maximumValueBytes) != nil else {
                throw RPCError.invalidParams(
                    "'result' is more than \(TaskSubmission.maximumValueBytes) bytes of JSON; keep large data elsewhere and return a path or a key",
                    field: "result")
            }
            return .later(tasks.complete(id: id, result: result, connectionID: context.connection.info.id).map(\.jsonValue))
        })
        router.register("tasks.fail", .onLoop { context in
            let id = try context.params.string("id")
            let error = try context.params.string("error")
            let retry = try context.params.bool("retry", default: true)
            return .later(tasks.fail(id: id, error: error, retry: retry, connectionID: context.connection.info.id).map(\.jsonValue))
        })
        router.register("tasks.schedule", .onLoop { context in
            let schedule = try TaskSchedule(params: try scheduleParams(context.params), now: TaskScheduler.now())
            let runImmediately = try context.params.bool("runImmediately", default: false)
            return .later(tasks.schedule(schedule, runImmediately: runImmediately).map(\.jsonValue))
        })
        router.register("tasks.unschedule", .onLoop { context in
            let name = try context.params.string("name")
            return .later(tasks.unschedule(name: name).flatMapThrowing { removed in
                guard removed else {
                    throw RPCError(code: .notFound, message: "Not found: no schedule named '\(name)'", data: ["name": .string(name)])
                }
                return ["unscheduled": true]
            })
        })
        router.register("tasks.schedules", .onLoop { context in
            try context.params.expectNone()
            return .later(tasks.schedules().map { ["schedules": .array($0.map(\.jsonValue))] })
        })
        router.register("tasks.purge", .onLoop { context in
            let status = try enumParam(context.params, "status", TaskStatus.self)
            if let status, !status.isFinal {
                throw RPCError.invalidParams("'status' must be succeeded, failed or cancelled: only finished tasks are purged", field: "status")
            }
            let olderThan = try seconds(context.params, "olderThan", default: 0, maximum: 100 * 365 * 86_400)
            return .later(tasks.purge(status: status, olderThan: olderThan).map { ["purged": .int(Int64($0))] })
        })
        router.register("tasks.metrics", .onLoop { context in
            try context.params.expectNone()
            return .later(tasks.metrics())
        })
    }

    /// The params of `tasks.schedule` without `runImmediately`, which is not part of the stored definition.
    private static func scheduleParams(_ params: Params) throws -> JSONValue {
        guard case .object(var object)? = params.raw else {
            throw RPCError.invalidParams("params must be an object {name, task, every | cron | at}")
        }
        object["runImmediately"] = nil
        for key in object.keys where !["name", "task", "every", "cron", "at", "overlap"].contains(key) {
            throw RPCError.invalidParams("'\(key)' is not a schedule field; use name, task, every, cron, at, overlap, runImmediately", field: key)
        }
        return .object(object)
    }

    private static func enumParam<T: RawRepresentable & CaseIterable>(_ params: Params, _ name: String, _: T.Type) throws -> T? where T.RawValue == String {
        guard let text = try params.optionalString(name) else { return nil }
        guard let value = T(rawValue: text) else {
            throw RPCError.invalidParams("'\(name)' must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))", field: name)
        }
        return value
    }

    private static func seconds(_ params: Params, _ name: String, default defaultValue: Double, maximum: Double, minimum: Double = 0) throws -> Duration {
        guard let value = try params.value(name), !value.isNull else { return .milliseconds(Int64(defaultValue * 1000)) }
        guard let seconds = value.doubleValue, seconds >= minimum, seconds <= maximum else {
            throw RPCError.invalidParams("'\(name)' must be a number of seconds from \(minimum) to \(maximum)", field: name)
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    private static func progressParam(_ params: Params) throws -> JSONValue? {
        guard let value = try params.value("progress"), !value.isNull else { return nil }
        guard case .object(let object) = value else {
            throw RPCError.invalidParams("'progress' must be an object {fraction, message}", field: "progress")
        }
        if let fraction = object["fraction"], !fraction.isNull {
            guard let number = fraction.doubleValue, number >= 0, number <= 1 else {
                throw RPCError.invalidParams("'progress.fraction' must be a number from 0 to 1", field: "progress.fraction")
            }
        }
        if let message = object["message"], !message.isNull, message.stringValue == nil {
            throw RPCError.invalidParams("'progress.message' must be a string", field: "progress.message")
        }
        return value
    }
}
