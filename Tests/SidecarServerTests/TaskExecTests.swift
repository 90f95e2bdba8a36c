import Foundation
import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

/// The built-in `exec` kind against a real daemon: a timeout stops the task's whole process
/// group, and what ignores SIGTERM is killed once `--kill-grace` has passed.
@Suite("Exec tasks: timeouts and the process group", .timeLimit(.minutes(2)))
struct TaskExecTests {
    @Test("a timed-out exec fails with a timeout error and its background child is gone within the grace")
    func timeoutKillsProcessGroup() async throws {
        try await withTaskDaemon(["--kill-grace", "0.5"]) { daemon in
            let connection = try daemon.connect()
            let pidFile = daemon.directory.file("child.pid")
            let id = try connection.submitTask(shellTask("sleep 100 & echo $! > '\(pidFile)'; wait", ["timeout": 0.5, "maxRetries": 0]))

            var child: pid_t?
            #expect(await pollUntil(timeout: 5) { child = pidWritten(to: pidFile); return child != nil }, "the task started its child")
            let pid = try #require(child)

            let task = try await connection.waitForTask(id, status: "failed", timeout: 5)
            #expect(task["error"]?.stringValue?.contains("timed out") == true, "\(task)")
            #expect(task["errors"]?.arrayValue?.count == 1, "\(task)")
            let ran = try #require(secondsBetween(task["startedAt"], task["finishedAt"]), "\(task)")
            #expect(ran >= 0.49 && ran < 0.5 + 0.5 + 1.5, "stopped after \(ran) s (timeout 0.5 s, grace 0.5 s)")
            #expect(await pollUntil(timeout: 1) { processIsGone(pid) }, "background child \(pid) outlived its timed-out task")
        }
    }

    @Test("a process group that ignores SIGTERM is killed with SIGKILL once --kill-grace has passed")
    func sigtermIgnoredIsKilledAfterGrace() async throws {
        try await withTaskDaemon(["--kill-grace", "0.5"]) { daemon in
            let connection = try daemon.connect()
            let pidFile = daemon.directory.file("stubborn.pid")
            let id = try connection.submitTask(
                shellTask("trap '' TERM; sleep 100 & echo $! > '\(pidFile)'; wait", ["timeout": 0.5, "maxRetries": 0]))

            var child: pid_t?
            #expect(await pollUntil(timeout: 5) { child = pidWritten(to: pidFile); return child != nil }, "the task started its child")
            let pid = try #require(child)

            let task = try await connection.waitForTask(id, status: "failed", timeout: 6)
            let ran = try #require(secondsBetween(task["startedAt"], task["finishedAt"]), "\(task)")
            #expect(ran >= 0.99, "SIGTERM is ignored, so the task lasts the timeout and the grace: \(ran) s")
            #expect(ran < 0.5 + 0.5 + 1.5, "killed after the grace: \(ran) s")
            #expect(task["result"]?["signal"] == .int(Int64(SIGKILL)), "\(task)")
            #expect(task["error"]?.stringValue?.contains("timed out") == true, "\(task)")
            #expect(await pollUntil(timeout: 1) { processIsGone(pid) }, "the child that ignored SIGTERM (\(pid)) still runs")
        }
    }
}
