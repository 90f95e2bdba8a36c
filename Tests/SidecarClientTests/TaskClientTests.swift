import Foundation
import SidecarProtocol
import SidecarTestSupport
import Testing

@testable import SidecarClient

/// `client.tasks`, its worker API, and the `sidecarctl run` / `sidecarctl tasks` commands,
/// against real daemons.
@Suite("Task client and commands", .timeLimit(.minutes(2)))
struct TaskClientTests {
    // MARK: - Submitting and waiting

    @Test func execTaskRoundTrip() async throws {
        try await withTestDaemon { daemon in
            try await SidecarClient.withClient(to: daemon.socketPath) { client in
                let tasks = client.tasks
                let (id, created) = try await tasks.submit(
                    kind: "exec",
                    payload: ["argv": ["sh", "-c", "printf hello; echo oops >&2"]],
                    priority: .high,
                    maxRetries: 0,
                    timeout: .seconds(20)
                )
                #expect(created && id.hasPrefix("t") && id.count == 17)

                let finished = try await tasks.wait(id, timeout: .seconds(20))
                #expect(finished.id == id && finished.kind == "exec" && finished.status == .succeeded)
                #expect(finished.priority == .high && finished.attempt == 1 && finished.maxRetries == 0 && finished.timeout == 20)
                #expect(finished.result == ["exitCode": 0, "stdout": "hello", "stderr": "oops\n"])
                #expect(finished.exitCode == 0 && finished.error == nil && finished.errors.isEmpty)
                #expect(finished.startedAt != nil && finished.finishedAt != nil)
                #expect(finished.payload == ["argv": ["sh", "-c", "printf hello; echo oops >&2"]])

                // tasks.get reads the same finished task back.
                #expect(try await tasks.get(id) == finished)

                // A failing command is a failed task whose result keeps the output and status.
                let (failingID, _) = try await tasks.submit(
                    kind: "exec", payload: ["argv": ["sh", "-c", "echo no; exit 4"]], maxRetries: 0)
                let failed = try await tasks.wait(failingID)
                #expect(failed.status == .failed && failed.exitCode == 4 && failed.result?["stdout"] == "no\n")
                #expect(failed.error == "exited with status 4" && failed.errors.map(\.attempt) == [1])

                // A failed task runs again on retry, with its attempts renewed.
                let retried = try await tasks.retry(failingID)
                #expect(retried.status == .queued && retried.attempt == 0)
                #expect(try await tasks.wait(failingID).attempt == 1)

                // An idempotency key returns the unfinished task instead of a new one.
                let first = try await tasks.submit(kind: "sidecar.noop", payload: 1, delay: .seconds(60), idempotencyKey: "once")
                let again = try await tasks.submit(kind: "sidecar.noop", payload: 2, delay: .seconds(60), idempotencyKey: "once")
                #expect(first.created && !again.created && again.id == first.id)
                #expect(try await tasks.get(first.id).status == .scheduled)
                let cancelled = try await tasks.cancel(first.id)
                #expect(cancelled.status == .cancelled && cancelled.finishedAt != nil)

                // The daemon's errors reach the caller with their codes and fields.
                let finishedAlready = await #expect(throws: SidecarClientError.self) { try await tasks.cancel(first.id) }
                #expect(finishedAlready?.rpcError?.code == .conflict)
                let unknown = await #expect(throws: SidecarClientError.self) { try await tasks.get("t0000000000000000") }
                #expect(unknown?.rpcError?.code == .notFound)
                let badPayload = await #expect(throws: SidecarClientError.self) {
                    try await tasks.submit(kind: "exec", payload: ["argv": []])
                }
                #expect(badPayload?.rpcError?.code == .invalidParams && badPayload?.rpcError?.data?["field"] == "payload.argv")

                // A wait that runs out throws -32003; the task goes on.
                let (slow, _) = try await tasks.submit(kind: "exec", payload: ["argv": ["sleep", "30"]], maxRetries: 0)
                let timedOut = await #expect(throws: SidecarClientError.self) {
                    try await tasks.wait(slow, timeout: .milliseconds(200))
                }
                #expect(timedOut?.rpcError?.code == .timedOut)
                #expect(try await tasks.get(slow).status == .running)
                #expect(try await tasks.cancel(slow).status == .cancelled)

                let metrics = try await tasks.metrics()
                #expect(metrics.submitted == 4 && metrics.succeeded == 1 && metrics.failed == 2 && metrics.cancelled == 2)
                #expect(metrics.running == 0 && metrics.queued.total == 0 && metrics.scheduled == 0)
                #expect(metrics.durationMs.p50 != nil && metrics.queueLatencyMs.p99 != nil)
            }
        }
    }

    @Test func listPagesThroughTasks() async throws {
        try await withTestDaemon { daemon in
            try await SidecarClient.withClient(to: daemon.socketPath) { client in
                // A kind no worker claims stays queued, so the listing holds still.
                let requests = (0..<7).map { TaskRequest(kind: "page-test", payload: ["n": .int(Int64($0))], priority: $0 == 3 ? .low : nil) }
                let submitted = try await client.tasks.submitMany(requests)
                #expect(submitted.count == 7 && submitted.allSatisfy(\.created))
                _ = try await client.tasks.submit(kind: "other-kind")

                var pages: [[String]] = []
                var after: String? = nil
                repeat {
                    let page = try await client.tasks.list(kind: "page-test", limit: 3, after: after)
                    pages.append(page.tasks.map(\.id))
                    #expect(page.tasks.allSatisfy { $0.status == .queued && $0.kind == "page-test" })
                    after = page.next
                } while after != nil && pages.count < 10
                #expect(pages.map(\.count) == [3, 3, 1])
                #expect(pages.flatMap { $0 } == submitted.map(\.id), "ids in submission order, each once")

                let lows = try await client.tasks.list(kind: "page-test", priority: .low)
                #expect(lows.tasks.map(\.payload) == [["n": 3]] && lows.next == nil)
                let none = try await client.tasks.list(status: .running)
                #expect(none.tasks.isEmpty && none.next == nil)
                let all = try await client.tasks.list(status: .queued, limit: 1000)
                #expect(all.tasks.count == 8)

                let bad = await #expect(throws: SidecarClientError.self) { try await client.tasks.list(limit: 0) }
                #expect(bad?.rpcError?.data?["field"] == "limit")
            }
        }
    }

    // MARK: - Watching

    @Test func watchOfATaskYieldsItNowThenEachChangeAndEndsWhenItFinishes() async throws {
        try await withTestDaemon { daemon in
            try await SidecarClient.withClient(to: daemon.socketPath) { client in
                let (id, _) = try await client.tasks.submit(kind: "test.watch", payload: ["page": 1])
                var changes = client.tasks.watch(id: id).makeAsyncIterator()
                let now = try await changes.next()
                #expect(now?.id == id && now?.status == .queued, "the task as it is when the watch begins: \(String(describing: now))")
                #expect(now?.json["payload"] == ["page": 1])

                let claimed = try await client.call("tasks.claim", params: ["kinds": ["test.watch"], "lease": 30])
                #expect(claimed["tasks"]?.arrayValue?.count == 1)
                let running = try await changes.next()
                #expect(running?.status == .running && running?.attempt == 1)
                _ = try await client.call("tasks.heartbeat", params: ["id": .string(id), "progress": ["fraction": 0.25, "message": "a quarter"]])
                let progress = try await changes.next()
                #expect(progress?.progress == TaskInfo.Progress(fraction: 0.25, message: "a quarter"))
                _ = try await client.call("tasks.complete", params: ["id": .string(id), "result": "done"])
                let finished = try await changes.next()
                #expect(finished?.status == .succeeded && finished?.result == "done")
                #expect(try await changes.next() == nil, "the watch of a task ends with it")
                try await waitUntil { client.subscriptions.liveCount == 0 }

                // A finished task: the watch yields it once and ends.
                var done = client.tasks.watch(id: id).makeAsyncIterator()
                #expect(try await done.next()?.status == .succeeded)
                #expect(try await done.next() == nil)

                // No such task: -32004.
                var missing = client.tasks.watch(id: "t00000000000000ff").makeAsyncIterator()
                await #expect(throws: SidecarClientError.self) { _ = try await missing.next() }
            }
        }
    }

    @Test func watchOfAKindYieldsOnlyThatKindAndStoppingItUnsubscribes() async throws {
        try await withTestDaemon { daemon in
            try await SidecarClient.withClient(to: daemon.socketPath) { client in
                let watching = Task {
                    var seen: [(String, TaskInfo.Status)] = []
                    for try await task in client.tasks.watch(kind: "test.kind") {
                        seen.append((task.id, task.status))
                        if task.status == .cancelled { break }
                    }
                    return seen
                }
                // Routed once the daemon has answered tasks.subscribe: from then on it watches.
                try await waitUntil { client.subscriptions.routeCount == 1 }
                let (other, _) = try await client.tasks.submit(kind: "test.other")
                let (mine, _) = try await client.tasks.submit(kind: "test.kind")
                _ = try await client.tasks.cancel(other)
                _ = try await client.tasks.cancel(mine)
                let seen = try await watching.value
                #expect(seen.map(\.0) == [mine, mine], "only tasks of the kind: \(seen)")
                #expect(seen.map(\.1) == [.queued, .cancelled])
                try await waitUntil { client.subscriptions.liveCount == 0 }
            }
        }
    }

    // MARK: - sidecarctl

    private func sidecarctl(_ arguments: [String], _ daemon: DaemonProcess) async throws -> CommandResult {
        var environment = ProcessInfo.processInfo.environment
        environment["SIDECAR_SOCKET"] = daemon.socketPath
        return try await runCommand(PackageLocation.controlExecutable, arguments, environment: environment, in: daemon.directory)
    }

    @Test func sidecarctlTasksWatchPrintsOneLinePerChangeAndExitsWithTheTask() async throws {
        try await withTestDaemon { daemon in
            let submitted = try JSONParser.parse(try await sidecarctl(["tasks", "submit", "test.cli"], daemon).standardOutput)
            let id = try #require(submitted["id"]?.stringValue)
            var environment = ProcessInfo.processInfo.environment
            environment["SIDECAR_SOCKET"] = daemon.socketPath
            let watch = try ChildProcess(
                executable: PackageLocation.controlExecutable,
                arguments: ["tasks", "watch", id],
                environment: environment,
                standardOutputPath: daemon.directory.file("watch.out"),
                standardErrorPath: daemon.directory.file("watch.err")
            )
            defer { watch.kill() }
            try await waitUntil { watch.standardOutput.hasSuffix("\n") }
            let status = try await SidecarClient.withClient(to: daemon.socketPath) { worker in
                _ = try await worker.call("tasks.claim", params: ["kinds": ["test.cli"]])
                try await waitUntil { watch.standardOutput.split(separator: "\n").count >= 2 }
                _ = try await worker.call("tasks.fail", params: ["id": .string(id), "error": "no luck", "retry": false])
                return await watch.waitForExit(timeout: 10)
            }
            #expect(status == .exited(1), "a task that failed: exit status 1")
            let lines = try watch.standardOutput.split(separator: "\n").map { try JSONParser.parse(String($0)) }
            #expect(lines.map { $0["status"] } == ["queued", "running", "failed"], "\(watch.standardOutput)")
            #expect(lines.allSatisfy { $0["id"] == .string(id) })
            #expect(lines.last?["error"] == "no luck")

            let missing = try await sidecarctl(["tasks", "watch", "t00000000000000ff"], daemon)
            #expect(missing.status == .exited(1) && missing.standardError.hasPrefix("error -32004: "), "\(missing.standardError)")
        }
    }

    @Test func sidecarctlRunPrintsBothStreamsAndExitsWithTheCommandsStatus() async throws {
        try await withTestDaemon { daemon in
            let failing = try await sidecarctl(["run", "--", "sh", "-c", "echo out; echo err >&2; exit 3"], daemon)
            #expect(failing.status == .exited(3))
            #expect(failing.standardOutput == "out\n")
            #expect(failing.standardError == "err\n")

            // The command runs in sidecarctl's directory, with --env on top of the daemon's environment.
            let succeeding = try await sidecarctl(["run", "--env", "GREETING=hi there", "--", "sh", "-c", "echo \"$GREETING\"; pwd"], daemon)
            #expect(succeeding.status == .exited(0) && succeeding.standardError.isEmpty)
            let lines = succeeding.standardOutput.split(separator: "\n").map(String.init)
            #expect(lines.first == "hi there")
            #expect(lines.last.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }
                == URL(fileURLWithPath: FileManager.default.currentDirectoryPath).resolvingSymlinksInPath().path)

            // No exit status (timed out): 1, with the reason.
            let timedOut = try await sidecarctl(["run", "--timeout", "0.3", "--", "sleep", "30"], daemon)
            #expect(timedOut.status == .exited(1))
            #expect(timedOut.standardError.contains("failed: timed out"), "\(timedOut.standardError)")
            let missing = try await sidecarctl(["run", "--", "no-such-program-\(UUID().uuidString.prefix(6))"], daemon)
            #expect(missing.status == .exited(1) && missing.standardError.hasPrefix("sidecarctl: task t"))

            let usage = try await sidecarctl(["run", "--priority", "urgent", "--", "true"], daemon)
            #expect(usage.status == .exited(64) && usage.standardError.contains("--priority"))
            let nothing = try await sidecarctl(["run"], daemon)
            #expect(nothing.status == .exited(64))
        }
    }

    @Test func sidecarctlTasksCommands() async throws {
        try await withTestDaemon { daemon in
            let submit = try await sidecarctl(
                ["tasks", "submit", "exec", "--payload", #"{"argv": ["echo", "hi"]}"#, "--priority", "critical"], daemon)
            #expect(submit.status == .exited(0))
            let submitted = try JSONParser.parse(submit.standardOutput)
            let id = try #require(submitted["id"]?.stringValue)
            #expect(submitted["created"] == true)

            // Piped, wait prints the finished task as one line of JSON, and no progress bar.
            let wait = try await sidecarctl(["tasks", "wait", id, "--timeout", "20"], daemon)
            #expect(wait.status == .exited(0) && wait.standardError.isEmpty)
            let waited = try JSONParser.parse(wait.standardOutput)
            #expect(waited["status"] == "succeeded" && waited["priority"] == "critical" && waited["result"]?["stdout"] == "hi\n")
            #expect(wait.standardOutput.filter { $0 == "\n" }.count == 1)

            let get = try await sidecarctl(["tasks", "get", id], daemon)
            #expect(try JSONParser.parse(get.standardOutput) == waited)

            let delayed = try await sidecarctl(["tasks", "submit", "sidecar.noop", "--delay", "5m", "--idempotency-key", "k"], daemon)
            let delayedID = try #require(try JSONParser.parse(delayed.standardOutput)["id"]?.stringValue)
            let list = try await sidecarctl(["tasks", "list", "--status", "scheduled"], daemon)
            let page = try JSONParser.parse(list.standardOutput)
            #expect(page["tasks"]?.arrayValue?.map { $0["id"] } == [.string(delayedID)] && page["next"] == .null)
            let firstPage = try JSONParser.parse(try await sidecarctl(["tasks", "list", "--limit", "1"], daemon).standardOutput)
            #expect(firstPage["tasks"]?[0]?["id"] == .string(id) && firstPage["next"] == .string(id))

            // A wait that runs out is the daemon's -32003; a failed task's wait exits 1.
            let short = try await sidecarctl(["tasks", "wait", delayedID, "--timeout", "0.2"], daemon)
            #expect(short.status == .exited(1) && short.standardError.hasPrefix("error -32003: "))
            let cancel = try await sidecarctl(["tasks", "cancel", delayedID], daemon)
            #expect(try JSONParser.parse(cancel.standardOutput)["status"] == "cancelled")
            let cancelledWait = try await sidecarctl(["tasks", "wait", delayedID], daemon)
            #expect(cancelledWait.status == .exited(1))
            #expect(try JSONParser.parse(cancelledWait.standardOutput)["status"] == "cancelled")
            let retry = try await sidecarctl(["tasks", "retry", delayedID], daemon)
            #expect(retry.status == .exited(1) && retry.standardError.hasPrefix("error -32005: "))

            let schedule = try await sidecarctl(["tasks", "schedule", "tick", "--every", "1h30m", "--", "echo", "tick"], daemon)
            #expect(schedule.status == .exited(0), "\(schedule.standardError)")
            let made = try JSONParser.parse(schedule.standardOutput)
            #expect(made["name"] == "tick" && made["every"] == 5400 && made["overlap"] == "skip" && made["nextRunAt"]?.stringValue != nil)
            #expect(made["task"]?["kind"] == "exec" && made["task"]?["payload"]?["argv"] == ["echo", "tick"])
            let schedules = try JSONParser.parse(try await sidecarctl(["tasks", "schedules"], daemon).standardOutput)
            #expect(schedules.arrayValue?.map { $0["name"] } == ["tick"])
            let unschedule = try await sidecarctl(["tasks", "unschedule", "tick"], daemon)
            #expect(unschedule.standardOutput == #"{"unscheduled":true}"# + "\n")
            let again = try await sidecarctl(["tasks", "unschedule", "tick"], daemon)
            #expect(again.status == .exited(1) && again.standardError.hasPrefix("error -32004: "))
            let badEvery = try await sidecarctl(["tasks", "schedule", "x", "--every", "soon", "--", "true"], daemon)
            #expect(badEvery.status == .exited(64) && badEvery.standardError.contains("--every"))
            let badCron = try await sidecarctl(["tasks", "schedule", "x", "--cron", "61 * * * *", "--", "true"], daemon)
            #expect(badCron.status == .exited(1) && badCron.standardError.contains(#"data: {"field":"cron"}"#))

            let metrics = try await sidecarctl(["tasks", "metrics"], daemon)
            #expect(metrics.status == .exited(0))
            let lines = metrics.standardOutput.split(separator: "\n").map(String.init)
            #expect(lines.filter { !$0.hasPrefix(" ") } == ["since start", "now", "run duration", "queue latency"])
            #expect(lines.contains { $0.hasPrefix("  submitted:") && $0.hasSuffix(" 2") })
            #expect(lines.contains { $0.hasPrefix("  success rate:") && $0.hasSuffix(" 100.0%") })
            let raw = try JSONParser.parse(try await sidecarctl(["tasks", "metrics", "--json"], daemon).standardOutput)
            #expect(raw["submitted"] == 2 && raw["succeeded"] == 1 && raw["cancelled"] == 1)
        }
    }
}
