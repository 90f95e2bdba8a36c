import Foundation
import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

/// `tasks.cancel` against a real daemon, in every status a task can be in.
@Suite("Task cancellation", .timeLimit(.minutes(2)))
struct TaskCancellationTests {
    @Test("a queued task (the only worker busy) and a scheduled one (delay 60) are cancelled at once and never run")
    func queuedAndScheduled() async throws {
        try await withTaskDaemon(["--workers", "1", "--kill-grace", "0.5"]) { daemon in
            let connection = try daemon.connect()
            let marker = daemon.directory.file("ran")
            let blocker = try connection.submitTask(shellTask("sleep 30"))
            try await connection.waitForTask(blocker, status: "running")
            let queued = try connection.submitTask(shellTask("touch '\(marker)'"))
            let scheduled = try connection.submitTask(shellTask("touch '\(marker)'", ["delay": 60]))
            #expect(try connection.task(queued)["status"] == "queued")
            #expect(try connection.task(scheduled)["status"] == "scheduled")

            for id in [queued, scheduled] {
                let cancelled = try connection.result("tasks.cancel", ["id": .string(id)])
                #expect(cancelled["id"] == .string(id))
                #expect(cancelled["status"] == "cancelled", "\(cancelled)")
                #expect(cancelled["finishedAt"]?.stringValue != nil, "\(cancelled)")
                #expect(cancelled["startedAt"] == .null && cancelled["attempt"] == 0, "it never ran: \(cancelled)")
                #expect(try connection.task(id)["status"] == "cancelled")
            }

            // Free the worker: the cancelled task must not run in its place.
            let stopped = try await connection.awaitResult("tasks.cancel", ["id": .string(blocker)], within: 5)
            #expect(stopped["status"] == "cancelled")
            let next = try connection.submitTask(["kind": "sidecar.noop"])
            try await connection.waitForTask(next, status: "succeeded")
            #expect(!FileManager.default.fileExists(atPath: marker), "a cancelled task ran")
            #expect(try connection.task(queued)["attempt"] == 0)
        }
    }

    @Test("cancelling a running exec kills its process, the task ends cancelled, and what it printed is kept")
    func runningExec() async throws {
        try await withTaskDaemon(["--kill-grace", "0.5"]) { daemon in
            let connection = try daemon.connect()
            let pidFile = daemon.directory.file("task.pid")
            let id = try connection.submitTask(shellTask("echo started; echo $$ > '\(pidFile)'; exec sleep 100"))
            var written: pid_t?
            #expect(await pollUntil(timeout: 5) { written = pidWritten(to: pidFile); return written != nil })
            let pid = try #require(written)
            #expect(try connection.task(id)["status"] == "running")

            let cancelled = try await connection.awaitResult("tasks.cancel", ["id": .string(id)], within: 5)
            #expect(cancelled["status"] == "cancelled", "\(cancelled)")
            #expect(await pollUntil(timeout: 1) { processIsGone(pid) }, "the cancelled task's process \(pid) still runs")
            let task = try connection.task(id)
            #expect(task["status"] == "cancelled" && task["finishedAt"]?.stringValue != nil, "\(task)")
            #expect(task["attempt"] == 1)
            #expect(task["result"]?["stdout"] == "started\n", "\(task)")
            #expect(task["result"]?["signal"] == 15, "stopped by SIGTERM: \(task)")
        }
    }

    @Test("cancelling a task an external worker holds: cancelled at once; the worker's next heartbeat is -32006")
    func runningExternal() async throws {
        try await withTaskDaemon { daemon in
            let worker = try daemon.connect()
            let client = try daemon.connect()
            let id = try client.submitTask(["kind": "test.render"])
            let claimed = try worker.result("tasks.claim", ["kinds": ["test.render"]])["tasks"]?[0]
            #expect(claimed?["id"] == .string(id) && claimed?["status"] == "running", "\(String(describing: claimed))")

            let cancelled = try client.result("tasks.cancel", ["id": .string(id)])
            #expect(cancelled["status"] == "cancelled", "\(cancelled)")
            #expect(try client.task(id)["status"] == "cancelled")

            let error = try worker.error("tasks.heartbeat", ["id": .string(id), "progress": ["fraction": 0.5]], code: -32006)
            #expect(error["message"]?.stringValue?.isEmpty == false)
            // The worker drops it; a late completion changes nothing.
            let late = try worker.call("tasks.complete", params: ["id": .string(id), "result": "late"])
            #expect(late["error"] != nil && late["result"] == nil, "\(late)")
            let task = try client.task(id)
            #expect(task["status"] == "cancelled" && task["result"] == .null && task["progress"] == .null, "\(task)")
        }
    }

    @Test("cancelling a finished task is -32005; an unknown id is -32004")
    func finishedAndUnknown() async throws {
        try await withTaskDaemon { daemon in
            let connection = try daemon.connect()
            let succeeded = try connection.submitTask(["kind": "sidecar.noop"])
            try await connection.waitForTask(succeeded, status: "succeeded")
            let error = try connection.error("tasks.cancel", ["id": .string(succeeded)], code: -32005)
            #expect(error["data"]?["status"] == "succeeded", "\(error)")
            #expect(try connection.task(succeeded)["status"] == "succeeded", "nothing changed")

            let cancelled = try connection.submitTask(["kind": "test.never", "delay": 60])
            #expect(try connection.result("tasks.cancel", ["id": .string(cancelled)])["status"] == "cancelled")
            try connection.error("tasks.cancel", ["id": .string(cancelled)], code: -32005)

            try connection.error("tasks.cancel", ["id": "t0000000000000000"], code: -32004)
            try connection.error("tasks.get", ["id": "t0000000000000000"], code: -32004)
        }
    }
}
