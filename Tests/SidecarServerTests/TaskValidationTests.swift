import SidecarProtocol
import SidecarTestSupport
import Testing

/// Bad `tasks.submit` params against a real daemon: each is `-32602` naming the field, and
/// creates nothing.
@Suite("Task submission validation", .timeLimit(.minutes(2)))
struct TaskValidationTests {
    @Test("unknown priority, negative maxRetries, a bad backoff member, exec without argv, delay with runAt: -32602 naming the field")
    func badSubmissions() async throws {
        try await withTaskDaemon { daemon in
            let connection = try daemon.connect()
            let cases: [(JSONValue, String)] = [
                (["kind": "test.bad", "priority": "urgent"], "priority"),
                (["kind": "test.bad", "priority": 3], "priority"),
                (["kind": "test.bad", "maxRetries": -1], "maxRetries"),
                (["kind": "test.bad", "maxRetries": 1001], "maxRetries"),
                (["kind": "test.bad", "backoff": ["base": 0]], "backoff.base"),
                (["kind": "test.bad", "backoff": ["factor": 0.5]], "backoff.factor"),
                (["kind": "test.bad", "backoff": ["jitter": "yes"]], "backoff.jitter"),
                (["kind": "test.bad", "backoff": ["speed": 2]], "backoff.speed"),
                (["kind": "test.bad", "backoff": ["base": 1e16, "max": 1e16]], "backoff.base"),
                (["kind": "test.bad", "backoff": ["max": 31_622_401]], "backoff.max"),
                (["kind": "exec", "payload": ["args": ["true"]]], "payload.args"),
                (["kind": "exec", "payload": [:]], "payload.argv"),
                (["kind": "exec", "payload": ["argv": []]], "payload.argv"),
                (["kind": "exec", "payload": ["argv": ["echo", 1]]], "payload.argv[1]"),
                (["kind": "test.bad", "delay": 5, "runAt": "2030-01-01T00:00:00Z"], "delay"),
                (["kind": "test.bad", "runAt": "tomorrow"], "runAt"),
                (["kind": "test.bad", "delay": -1], "delay"),
                (["kind": ""], "kind"),
                (["payload": 1], "kind"),
                (["kind": "test.bad", "timeout": 0], "timeout"),
                (["kind": "test.bad", "idempotencyKey": 7], "idempotencyKey"),
                (["kind": "test.bad", "retries": 2], "retries"),
                // Past 1 MiB of JSON a task could not be sent back whole by tasks.get.
                (["kind": "test.bad", "payload": .string(String(repeating: "x", count: 1_048_577))], "payload"),
                (["kind": "test.bad", "payload": ["list": .array(Array(repeating: "0123456789", count: 90_000))]], "payload"),
            ]
            for (params, field) in cases {
                try connection.expectInvalid("tasks.submit", params, field: field)
            }
            try connection.expectInvalid("tasks.submitMany", ["tasks": [["kind": "test.bad"], ["kind": "test.bad"], ["kind": "test.bad"], ["kind": "test.bad", "priority": "top"]]],
                                         field: "tasks[3].priority")
            try connection.expectInvalid("tasks.submitMany", ["tasks": [["kind": "exec", "payload": ["argv": "true"]]]], field: "tasks[0].payload.argv")
            try connection.expectInvalid("tasks.list", ["status": "done"], field: "status")
            try connection.expectInvalid("tasks.list", ["limit": 0], field: "limit")
            #expect(try connection.allTasks().isEmpty, "no refused submission created a task")
            #expect(try connection.result("tasks.metrics", [:])["submitted"] == 0)
        }
    }

    @Test("a worker's result over 1 MiB of JSON is -32602 naming 'result'; the task stays its own to complete")
    func oversizedResult() async throws {
        try await withTaskDaemon { daemon in
            let connection = try daemon.connect()
            let id = try connection.submitTask(["kind": "test.big", "payload": .string(String(repeating: "p", count: 1_000_000))])
            #expect(try connection.result("tasks.claim", ["kinds": ["test.big"]])["tasks"]?[0]?["id"] == .string(id))
            try connection.expectInvalid("tasks.complete", ["id": .string(id), "result": .string(String(repeating: "r", count: 1_048_577))],
                                         field: "result")
            #expect(try connection.task(id)["status"] == "running")
            #expect(try connection.result("tasks.complete", ["id": .string(id), "result": "small"])["status"] == "succeeded")
        }
    }
}
