import Foundation
import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

/// Tasks across the daemon's life: `kill -9`, a graceful stop, and idle exit.
@Suite("Task durability and the daemon's lifecycle", .timeLimit(.minutes(2)))
struct TaskDurabilityTests {
    @Test("after kill -9 with 1000 acknowledged exec tasks running and queued, a restart runs every one to succeeded")
    func survivesKill() async throws {
        try await withTaskDaemon(["--workers", "4"]) { daemon in
            // Every task waits for the gate, so that at the kill 4 run and the rest are queued
            // (and gives up after 20 s, should the test end without opening it).
            let gate = daemon.directory.file("gate")
            let script = "i=0; while [ ! -e '\(gate)' ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done"
            let submitted: [String]
            do {
                let connection = try daemon.connect()
                submitted = try await connection.submitTasks(Array(repeating: shellTask(script), count: 1000))
                try #require(submitted.count == 1000)
                #expect(try await pollUntil(timeout: 5) { try connection.result("tasks.metrics", [:])["running"] == 4 },
                        "four workers busy before the kill")
            }
            #expect(try await daemon.stop(signal: SIGKILL) == .signaled(SIGKILL))

            try daemon.restart()
            defer { _ = FileManager.default.createFile(atPath: gate, contents: nil) }
            try await daemon.waitUntilReady()
            let connection = try daemon.connectAdmitted()
            _ = FileManager.default.createFile(atPath: gate, contents: nil)

            var metrics: JSONValue = nil
            let drained = try await pollUntil(timeout: 40, interval: 0.1) {
                metrics = try connection.result("tasks.metrics", [:])
                return metrics["running"] == 0 && metrics["scheduled"] == 0
                    && metrics["queued"] == ["low": 0, "normal": 0, "high": 0, "critical": 0]
            }
            #expect(drained, "tasks left unfinished: \(metrics)")

            let tasks = try connection.allTasks()
            #expect(tasks.count == 1000)
            #expect(Set(tasks.compactMap { $0["id"]?.stringValue }) == Set(submitted), "every acknowledged task is there")
            let notSucceeded = tasks.filter { $0["status"] != "succeeded" }
            #expect(notSucceeded.isEmpty, "\(notSucceeded.count) not succeeded, such as \(notSucceeded.first ?? nil)")
            // Those that were running at the kill ran again: the attempt counts and errors says why.
            let rerun = tasks.filter { $0["attempt"] != 1 }
            #expect(rerun.count <= 4, "only tasks that were running ran twice: \(rerun.count)")
            for task in rerun {
                #expect(task["attempt"] == 2 && task["errors"]?.arrayValue?.count == 1, "\(task)")
                #expect(task["errors"]?[0]?["message"]?.stringValue?.contains("daemon stopped") == true, "\(task)")
            }
            #expect(tasks.filter { $0["attempt"] == 1 }.allSatisfy { $0["errors"] == [] })
        }
    }

    @Test("10,000 sidecar.noop tasks, the most one tasks.submitMany takes, all run; so do 10,000 found queued at a restart")
    func manyInstantTasks() async throws {
        let count = 10_000
        let noops = Array(repeating: ["kind": "sidecar.noop"] as JSONValue, count: count)
        try await withTaskDaemon(["--workers", "1"]) { daemon in
            // Each sidecar.noop finishes the moment it starts, which frees the worker for the next
            // one: the daemon must take them one after another, not one inside another.
            do {
                let connection = try daemon.connect()
                let submitted = try await connection.submitTasks(noops)
                try #require(submitted.count == count)
                var metrics: JSONValue = nil
                let ran = try await pollUntil(timeout: 30, interval: 0.1) {
                    metrics = try connection.result("tasks.metrics", [:])
                    return metrics["succeeded"] == .int(Int64(count))
                }
                #expect(ran, "\(metrics)")

                // Now with the one worker held by an exec task, so that all of them are still
                // queued when the daemon is killed; after the restart the worker is free at once.
                let gate = daemon.directory.file("gate")
                let blocker = try connection.submitTask(shellTask("i=0; while [ ! -e '\(gate)' ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done"))
                try await connection.waitForTask(blocker, status: "running")
                try #require(try await connection.submitTasks(noops).count == count)
                #expect(try connection.result("tasks.metrics", [:])["queued"]?["normal"] == .int(Int64(count)))
                _ = FileManager.default.createFile(atPath: gate, contents: nil)
            }
            #expect(try await daemon.stop(signal: SIGKILL) == .signaled(SIGKILL))

            try daemon.restart()
            try await daemon.waitUntilReady()
            let connection = try daemon.connectAdmitted()
            var metrics: JSONValue = nil
            let drained = try await pollUntil(timeout: 30, interval: 0.1) {
                metrics = try connection.result("tasks.metrics", [:])
                return metrics["running"] == 0 && metrics["queued"] == ["low": 0, "normal": 0, "high": 0, "critical": 0]
            }
            #expect(drained, "tasks left unfinished: \(metrics)")
            #expect(try connection.allTasks(["kind": "sidecar.noop", "status": "succeeded"]).count == 2 * count)
        }
    }

    @Test("SIGTERM with an exec task running marks nothing failed; after the restart it runs again and succeeds")
    func gracefulShutdownRequeues() async throws {
        try await withTaskDaemon(["--shutdown-timeout", "0.3", "--kill-grace", "0.5"]) { daemon in
            // The task notes each run, then holds until the gate opens (or 20 s pass).
            let runs = daemon.directory.file("runs")
            let gate = daemon.directory.file("gate")
            defer { _ = FileManager.default.createFile(atPath: gate, contents: nil) }
            let script = "echo run >> '\(runs)'; i=0; while [ ! -e '\(gate)' ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done"
            let id: String
            do {
                let connection = try daemon.connect()
                id = try connection.submitTask(shellTask(script, ["maxRetries": 0]))
                try await connection.waitForTask(id, status: "running")
                #expect(await pollUntil(timeout: 5) { FileManager.default.fileExists(atPath: runs) })
            }
            #expect(try await daemon.stop(signal: SIGTERM, timeout: 10) == .exited(0))
            #expect(!daemon.standardError.contains("tasks could not be stored"), "\(daemon.standardError)")

            try daemon.restart()
            try await daemon.waitUntilReady()
            let connection = try daemon.connectAdmitted()
            let afterRestart = try connection.task(id)
            #expect(["queued", "running"].contains(afterRestart["status"]), "not failed by the shutdown: \(afterRestart)")
            #expect(await pollUntil(timeout: 5) { linesIn(runs) == 2 }, "runs again after the restart: \(linesIn(runs)) runs")
            _ = FileManager.default.createFile(atPath: gate, contents: nil)
            let task = try await connection.waitForTask(id, status: "succeeded", timeout: 10)
            #expect(task["errors"] == [] && task["error"] == .null, "a shutdown is not a failure: \(task)")
            #expect(linesIn(runs) == 2, "ran before the stop and once after the restart")
        }
    }

    @Test("idle exit waits for a delayed task: still running after 2 s of --idle-exit 1, the task runs, then it exits")
    func idleExitWaitsForScheduledTask() async throws {
        try await withTemporaryDirectory { directory in
            let daemon = try DaemonProcess(in: directory, arguments: ["--idle-exit", "1"])
            defer { daemon.kill() }
            let marker = directory.file("ran")
            // Left idle for a second before the task is in, it would rightly go: so the start and
            // the submission run on a thread of their own, whatever the other tests are doing.
            let submitted = try await onOwnThread { [daemon = Handoff(daemon)] in
                try daemon.value.waitUntilReady()
                let connection = try daemon.value.connect()
                return try connection.call("tasks.submit", params: shellTask("touch '\(marker)'", ["delay": 3]))
            }
            #expect(submitted["result"]?["created"] == true, "\(submitted)")
            await letTimePass(2)
            // (Should this test have been held up past the task's time, that the task ran shows
            // the daemon was there for it.)
            #expect(daemon.process.poll() == nil || FileManager.default.fileExists(atPath: marker),
                    "exited for idleness with a task scheduled: \(daemon.standardError)")
            #expect(await pollUntil(timeout: 6, interval: 0.05) { FileManager.default.fileExists(atPath: marker) }, "the delayed task ran")
            // Then nothing is left to do, and it goes.
            #expect(await daemon.waitForExit(timeout: 8) == .exited(0), "\(daemon.standardError)")
        }
    }
}

/// How many lines the file at `path` has (0 when it is missing).
private func linesIn(_ path: String) -> Int {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").count
}
