import Foundation
import SidecarProtocol
import SidecarTestSupport
import Testing

/// The task queue against a real daemon: the order tasks start in, retries with backoff,
/// idempotency keys, waiting, batches and paging.
@Suite("Task queue: order, retries, idempotency, waiting, paging", .timeLimit(.minutes(2)))
struct TaskQueueTests {
    @Test("with the one worker busy, waiting tasks start by priority, then in submission order")
    func priorityOrder() async throws {
        try await withTaskDaemon(["--workers", "1"]) { daemon in
            let connection = try daemon.connect()
            // The blocker holds the worker until the gate opens (or 20 s pass).
            let gate = daemon.directory.file("gate")
            let blocker = try connection.submitTask(shellTask("i=0; while [ ! -e '\(gate)' ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done"))
            try await connection.waitForTask(blocker, status: "running")

            var ids: [String: String] = [:]
            for (name, priority) in [("low", "low"), ("normal1", "normal"), ("high", "high"), ("critical", "critical"), ("normal2", "normal")] {
                ids[name] = try connection.submitTask(shellTask("sleep 0.05", ["priority": .string(priority)]))
            }
            for id in ids.values { #expect(try connection.task(id)["status"] == "queued") }
            _ = FileManager.default.createFile(atPath: gate, contents: nil)

            var started: [(name: String, at: Date)] = []
            for (name, id) in ids {
                let task = try await connection.waitForTask(id, status: "succeeded")
                started.append((name, try #require(taskTime(task["startedAt"]), "\(task)")))
            }
            let order = started.sorted { $0.at < $1.at }.map(\.name)
            #expect(order == ["critical", "high", "normal1", "normal2", "low"])
            #expect(Set(started.map(\.at)).count == 5, "one worker starts one task at a time: \(started)")
        }
    }

    @Test("with --priority-aging, a low task that waited long enough runs before a high one submitted later")
    func priorityAging() async throws {
        try await withTaskDaemon(["--workers", "1", "--priority-aging", "0.3"]) { daemon in
            let connection = try daemon.connect()
            let gate = daemon.directory.file("gate")
            let blocker = try connection.submitTask(shellTask("i=0; while [ ! -e '\(gate)' ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done"))
            try await connection.waitForTask(blocker, status: "running")

            let low = try connection.submitTask(shellTask("true", ["priority": "low"]))
            // Three periods: low has risen to critical. (Without aging, high would go first.)
            try await Task.sleep(for: .seconds(1.2))
            let high = try connection.submitTask(shellTask("true", ["priority": "high"]))
            #expect(try connection.task(low)["priority"] == "low", "aging does not rewrite the task's own priority")
            _ = FileManager.default.createFile(atPath: gate, contents: nil)

            let lowStarted = try #require(taskTime(try await connection.waitForTask(low, status: "succeeded")["startedAt"]))
            let highStarted = try #require(taskTime(try await connection.waitForTask(high, status: "succeeded")["startedAt"]))
            #expect(lowStarted < highStarted, "low started \(lowStarted), high \(highStarted)")
        }
    }

    @Test("a failing exec runs maxRetries + 1 times, waiting base · factorⁿ between attempts, then fails with every error")
    func retriesWithBackoff() async throws {
        try await withTaskDaemon { daemon in
            let connection = try daemon.connect()
            let id = try connection.submitTask([
                "kind": "exec", "payload": ["argv": ["false"]], "maxRetries": 2,
                "backoff": ["base": 0.2, "factor": 2, "jitter": false],
            ])
            let task = try await connection.awaitResult("tasks.wait", ["id": .string(id), "timeout": 10], within: 12)
            #expect(task["status"] == "failed")
            #expect(task["attempt"] == 3)
            #expect(task["result"]?["exitCode"] == 1, "the failed run's output is kept: \(task)")
            #expect(task["error"]?.stringValue?.contains("exited with status 1") == true, "\(task)")
            let errors = try #require(task["errors"]?.arrayValue)
            try #require(errors.count == 3, "\(task)")
            #expect(errors.map { $0["attempt"] } == [1, 2, 3])
            let firstGap = try #require(secondsBetween(errors[0]["at"], errors[1]["at"]))
            let secondGap = try #require(secondsBetween(errors[1]["at"], errors[2]["at"]))
            // Each gap is the backoff plus one run of `false`; the clock keeps milliseconds.
            #expect(firstGap >= 0.199 && firstGap < 0.2 + 0.6, "first retry after \(firstGap) s, expected 0.2 s")
            #expect(secondGap >= 0.399 && secondGap < 0.4 + 0.6, "second retry after \(secondGap) s, expected 0.4 s")
            #expect(secondGap > firstGap, "the delays grow: \(firstGap) s then \(secondGap) s")
        }
    }

    @Test("an idempotency key returns the unfinished task (created false); once it has finished, a new task is made")
    func idempotencyKey() async throws {
        try await withTaskDaemon { daemon in
            let connection = try daemon.connect()
            let submission: JSONValue = ["kind": "test.idempotent", "payload": ["n": 1], "idempotencyKey": "order-42"]
            let first = try connection.result("tasks.submit", submission)
            #expect(first["created"] == true)
            let id = try #require(first["id"]?.stringValue)
            #expect(try connection.result("tasks.submit", submission) == ["id": .string(id), "created": false])
            #expect(try connection.result("tasks.submit", ["kind": "test.idempotent", "idempotencyKey": "order-42"])
                == ["id": .string(id), "created": false], "the key alone decides, not the payload")
            let other = try connection.submitTask(["kind": "test.idempotent", "idempotencyKey": "order-43"])
            #expect(other != id)
            #expect(try connection.allTasks(["kind": "test.idempotent"]).count == 2)

            let claimed = try connection.result("tasks.claim", ["kinds": ["test.idempotent"], "max": 10])["tasks"]?.arrayValue ?? []
            #expect(claimed.count == 2)
            _ = try connection.result("tasks.complete", ["id": .string(id), "result": "done"])
            #expect(try connection.task(id)["status"] == "succeeded")

            let again = try connection.result("tasks.submit", submission)
            #expect(again["created"] == true, "the first task has finished: \(again)")
            #expect(again["id"] != .string(id) && again["id"]?.stringValue != nil, "\(again)")
            #expect(try connection.task(id)["status"] == "succeeded", "the finished task is left as it was")
        }
    }

    @Test("tasks.wait times out with -32003 and the task goes on; a wait does not hold up the connection")
    func waitTimesOut() async throws {
        try await withTaskDaemon { daemon in
            let connection = try daemon.connect()
            let id = try connection.submitTask(["kind": "test.slow"])
            let started = ContinuousClock.now
            let timedOut = try await connection.reply("tasks.wait", ["id": .string(id), "timeout": 0.3])
            let elapsed = ContinuousClock.now - started
            #expect(timedOut["error"]?["code"] == -32003, "\(timedOut)")
            #expect(elapsed >= .milliseconds(290), "answered after \(elapsed), before the 0.3 s timeout")
            #expect(try connection.task(id)["status"] == "queued", "the task goes on")

            // A long wait, then a get on the same connection: the get is answered first.
            try connection.send(RPC.request("tasks.wait", params: ["id": .string(id), "timeout": 60], id: "wait"))
            try connection.send(RPC.request("tasks.get", params: ["id": .string(id)], id: "get"))
            let firstReply = try await connection.nextMessage(within: 5)
            #expect(firstReply["id"] == "get" && firstReply["result"]?["status"] == "queued", "\(firstReply)")

            let worker = try daemon.connect()
            let claimed = try worker.result("tasks.claim", ["kinds": ["test.slow"]])["tasks"]?[0]
            #expect(claimed?["id"] == .string(id))
            _ = try worker.result("tasks.complete", ["id": .string(id), "result": ["ok": true]])
            let waited = try await connection.nextMessage(within: 5)
            #expect(waited["id"] == "wait", "\(waited)")
            #expect(waited["result"]?["status"] == "succeeded" && waited["result"]?["result"] == ["ok": true], "\(waited)")
        }
    }

    @Test("tasks.submitMany creates every task in one call, in order; one bad element creates none")
    func submitMany() async throws {
        try await withTaskDaemon { daemon in
            let connection = try daemon.connect()
            let ids = try await connection.submitTasks([
                ["kind": "sidecar.noop", "payload": ["echo": 1]],
                shellTask("printf hi"),
                ["kind": "test.external", "priority": "high"],
            ])
            try #require(ids.count == 3)
            #expect(Set(ids).count == 3 && ids == ids.sorted(), "ids are distinct and sort in submission order: \(ids)")
            let noop = try await connection.waitForTask(ids[0], status: "succeeded")
            #expect(noop["result"] == ["echo": 1])
            let exec = try await connection.waitForTask(ids[1], status: "succeeded")
            #expect(exec["result"]?["stdout"] == "hi", "\(exec)")
            let external = try connection.task(ids[2])
            #expect(external["kind"] == "test.external" && external["priority"] == "high" && external["status"] == "queued", "\(external)")

            try connection.expectInvalid("tasks.submitMany", ["tasks": [["kind": "test.batch"], ["payload": 1], ["kind": "test.batch"]]],
                                         field: "tasks[1].kind")
            #expect(try connection.allTasks(["kind": "test.batch"]).isEmpty, "nothing of a refused batch is created")
        }
    }

    @Test("tasks.list pages through 1000 tasks with limit 100 and next: every id once, in order")
    func pagination() async throws {
        try await withTaskDaemon { daemon in
            let connection = try daemon.connect()
            let submitted = try await connection.submitTasks(Array(repeating: ["kind": "sidecar.noop"], count: 1000))
            try #require(submitted.count == 1000)

            var listed: [String] = []
            var pages = 0
            var after: String?
            repeat {
                var params: JSONObject = ["limit": 100]
                if let after { params["after"] = .string(after) }
                let page = try connection.result("tasks.list", .object(params))
                let tasks = try #require(page["tasks"]?.arrayValue, "\(page)")
                listed += tasks.compactMap { $0["id"]?.stringValue }
                pages += 1
                after = page["next"]?.stringValue
                if after != nil { #expect(tasks.count == 100, "a page before the last is full") }
            } while after != nil && pages < 20
            #expect(pages == 10)
            #expect(listed.count == 1000)
            #expect(Set(listed).count == 1000, "no repeats")
            #expect(listed == submitted.sorted(), "every submitted id, in id order, without gaps")
            #expect(submitted == submitted.sorted(), "ids sort in submission order")
        }
    }
}
