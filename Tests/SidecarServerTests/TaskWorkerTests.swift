import Foundation
import SidecarProtocol
import SidecarTestSupport
import Testing

/// External workers against a real daemon: claims, leases, heartbeats, completion, and what
/// happens when a worker goes quiet or goes away.
@Suite("External task workers", .timeLimit(.minutes(2)))
struct TaskWorkerTests {
    /// A task of `kind` that retries after 0.1 s, so that a lost lease comes back quickly.
    private func quickRetry(_ kind: String) -> JSONValue {
        ["kind": .string(kind), "payload": ["page": 7], "backoff": ["base": 0.1, "jitter": false]]
    }

    @Test("claim leases the task (running, attempt 1); heartbeat progress shows in tasks.get; complete succeeds with the result")
    func claimHeartbeatComplete() async throws {
        try await withTaskDaemon { daemon in
            let client = try daemon.connect()
            let worker = try daemon.connect()
            let id = try client.submitTask(quickRetry("test.thumbnail"))
            #expect(try worker.result("tasks.claim", ["kinds": ["test.other"]]) == ["tasks": []], "nothing of other kinds")

            let claimed = try #require(try worker.result("tasks.claim", ["kinds": ["test.other", "test.thumbnail"], "lease": 10])["tasks"]?.arrayValue)
            try #require(claimed.count == 1)
            #expect(claimed[0]["id"] == .string(id))
            #expect(claimed[0]["status"] == "running" && claimed[0]["attempt"] == 1, "\(claimed[0])")
            #expect(claimed[0]["payload"] == ["page": 7])
            #expect(try worker.result("tasks.claim", ["kinds": ["test.thumbnail"]]) == ["tasks": []], "a leased task is not handed out twice")

            let beat = try worker.result("tasks.heartbeat", ["id": .string(id), "progress": ["fraction": 0.4, "message": "resizing"]])
            #expect(beat["status"] == "running")
            #expect(try client.task(id)["progress"] == ["fraction": 0.4, "message": "resizing"])

            let done = try worker.result("tasks.complete", ["id": .string(id), "result": ["width": 128]])
            #expect(done["status"] == "succeeded" && done["result"] == ["width": 128], "\(done)")
            let task = try client.task(id)
            #expect(task["status"] == "succeeded" && task["result"] == ["width": 128] && task["attempt"] == 1, "\(task)")
            #expect(task["finishedAt"]?.stringValue != nil)
        }
    }

    @Test("a lease that expires puts the task back (attempt 2 for the next claim); the first worker's late complete is -32005 and changes nothing")
    func leaseExpiry() async throws {
        try await withTaskDaemon { daemon in
            let client = try daemon.connect()
            let slow = try daemon.connect()
            let other = try daemon.connect()
            let id = try client.submitTask(quickRetry("test.lease"))
            let first = try slow.result("tasks.claim", ["kinds": ["test.lease"], "lease": 0.5])["tasks"]?[0]
            #expect(first?["id"] == .string(id) && first?["attempt"] == 1)

            // No heartbeat: within the lease plus the backoff, another worker gets it.
            let second = try await other.awaitResult("tasks.claim", ["kinds": ["test.lease"], "wait": 5, "lease": 30], within: 7)
            let retaken = try #require(second["tasks"]?[0], "\(second)")
            #expect(retaken["id"] == .string(id))
            #expect(retaken["attempt"] == 2, "\(retaken)")
            let note = retaken["errors"]?[0]?["message"]?.stringValue ?? ""
            #expect(note.contains("lease expired"), "\(retaken)")

            let late = try slow.error("tasks.complete", ["id": .string(id), "result": "from the slow worker"], code: -32005)
            #expect(late["message"]?.stringValue?.isEmpty == false)
            try slow.error("tasks.heartbeat", ["id": .string(id)], code: -32005)
            let task = try client.task(id)
            #expect(task["status"] == "running" && task["attempt"] == 2 && task["result"] == .null, "unchanged: \(task)")

            #expect(try other.result("tasks.complete", ["id": .string(id), "result": "from the new holder"])["status"] == "succeeded")
            #expect(try client.task(id)["result"] == "from the new holder")
        }
    }

    @Test("a failure with the longest backoff, 366 days, schedules the retry that far ahead; the daemon carries on")
    func longestBackoff() async throws {
        try await withTaskDaemon { daemon in
            let client = try daemon.connect()
            let backoff: JSONValue = ["base": 31_622_400, "max": 31_622_400, "jitter": false]
            let id = try client.submitTask(["kind": "test.far", "maxRetries": 5, "backoff": backoff])
            #expect(try client.result("tasks.claim", ["kinds": ["test.far"]])["tasks"]?[0]?["id"] == .string(id))
            let failedAt = Date()
            let failed = try client.result("tasks.fail", ["id": .string(id), "error": "boom"])
            #expect(failed["status"] == "scheduled", "\(failed)")
            let runAt = try #require(taskTime(failed["runAt"]), "\(failed)")
            #expect(abs(runAt.timeIntervalSince(failedAt) - 31_622_400) < 60, "retry at \(runAt)")
            #expect(try client.result("sidecar.ping", [:]) == "pong")
        }
    }

    @Test("heartbeats keep a task leased well past its first lease")
    func heartbeatsExtendTheLease() async throws {
        try await withTaskDaemon { daemon in
            let client = try daemon.connect()
            let worker = try daemon.connect()
            let rival = try daemon.connect()
            let id = try client.submitTask(quickRetry("test.long"))

            // The claim, heartbeats every 0.15 s for 1.5 s, then a rival's claim and the completion,
            // from a thread of their own so that their pace does not depend on the other tests.
            let (claim, beats, rivalClaim, done) = try await onOwnThread {
                [worker = Handoff(worker), rival = Handoff(rival)] () throws -> (JSONValue, [JSONValue], JSONValue, JSONValue) in
                let claim = try worker.value.call("tasks.claim", params: ["kinds": ["test.long"], "lease": 0.5])
                var beats: [JSONValue] = []
                let started = ContinuousClock.now
                while ContinuousClock.now - started < .milliseconds(1500) {
                    pause(seconds: 0.15)
                    beats.append(try worker.value.call("tasks.heartbeat", params: ["id": .string(id)]))
                }
                let rivalClaim = try rival.value.call("tasks.claim", params: ["kinds": ["test.long"]])
                let done = try worker.value.call("tasks.complete", params: ["id": .string(id), "result": 1])
                return (claim, beats, rivalClaim, done)
            }
            #expect(claim["result"]?["tasks"]?[0]?["id"] == .string(id), "\(claim)")
            #expect(beats.count >= 5)
            for beat in beats {
                #expect(beat["result"]?["status"] == "running" && beat["result"]?["attempt"] == 1, "\(beat)")
            }
            #expect(rivalClaim["result"] == ["tasks": []], "still leased after 1.5 s (lease 0.5 s): \(rivalClaim)")
            let task = try #require(done["result"], "\(done)")
            #expect(task["status"] == "succeeded" && task["attempt"] == 1 && task["errors"] == [], "\(task)")
        }
    }

    @Test("a worker that closes its connection releases its task at once: another claim gets it")
    func closedConnectionReleases() async throws {
        try await withTaskDaemon { daemon in
            let client = try daemon.connect()
            let id = try client.submitTask(quickRetry("test.release"))
            let leaving = try daemon.connect()
            #expect(try leaving.result("tasks.claim", ["kinds": ["test.release"], "lease": 60])["tasks"]?[0]?["id"] == .string(id))
            leaving.close()
            let closedAt = Date()

            let other = try daemon.connect()
            let reply = try await other.awaitResult("tasks.claim", ["kinds": ["test.release"], "wait": 20], within: 22)
            let task = try #require(reply["tasks"]?[0], "\(reply)")
            #expect(task["id"] == .string(id) && task["attempt"] == 2, "\(task)")
            let release = try #require(task["errors"]?[0], "the release is noted: \(task)")
            #expect(release["message"]?.stringValue?.contains("connection closed") == true, "\(task)")
            let releasedAt = try #require(taskTime(release["at"]))
            #expect(releasedAt.timeIntervalSince(closedAt) < 2, "released at once, not after the 60 s lease: \(releasedAt) vs \(closedAt)")
        }
    }

    @Test("claim with wait long-polls and returns a task submitted meanwhile")
    func claimLongPoll() async throws {
        try await withTaskDaemon { daemon in
            let worker = try daemon.connect()
            let client = try daemon.connect()
            try worker.send(RPC.request("tasks.claim", params: ["kinds": ["test.poll"], "wait": 60], id: "claim"))
            await letTimePass(0.3)
            #expect(worker.next(timeout: 0) == .timedOut, "the claim waits while there is no work")
            let id = try client.submitTask(["kind": "test.poll", "payload": "x"])
            let reply = try await worker.nextMessage(within: 5)
            #expect(reply["id"] == "claim")
            let task = try #require(reply["result"]?["tasks"]?[0], "\(reply)")
            #expect(task["id"] == .string(id) && task["status"] == "running" && task["attempt"] == 1, "\(task)")
            let handedOver = try #require(secondsBetween(task["createdAt"], task["startedAt"]), "\(task)")
            #expect(handedOver < 0.5, "handed to the waiting claim as soon as it was submitted: after \(handedOver) s")

            // With nothing to hand out, a wait ends empty when it runs out.
            let empty = try await worker.reply("tasks.claim", ["kinds": ["test.poll"], "wait": 0.3])
            #expect(empty["result"] == ["tasks": []], "\(empty)")
        }
    }
}
