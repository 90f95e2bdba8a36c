import SidecarProtocol
import SidecarTestSupport
import Testing

/// `tasks.subscribe` against a real daemon: which changes a watching connection is sent, and
/// how each `tasks.changed` names the subscriptions it is for.
@Suite("Task subscriptions", .timeLimit(.minutes(1)))
struct TaskSubscriptionTests {
    @Test("one tasks.changed per change, naming each of the connection's subscriptions that watch the task; unsubscribed ones drop out")
    func notificationsNameTheirSubscriptions() async throws {
        try await withTaskDaemon { daemon in
            let client = try daemon.connect()
            let worker = try daemon.connect()
            let watcher = try daemon.connect()
            let everything = try subscription(watcher, [:])
            let ofKind = try subscription(watcher, ["kind": "test.watched"])
            #expect(everything != ofKind)

            let id = try client.submitTask(["kind": "test.watched"])
            let queued = try await change(on: watcher)
            #expect(queued.subscriptions == [everything, ofKind].sorted())
            #expect(queued.task["id"] == .string(id) && queued.task["status"] == "queued", "\(queued.task)")

            let other = try client.submitTask(["kind": "test.other"])
            let otherQueued = try await change(on: watcher)
            #expect(otherQueued.subscriptions == [everything], "a task of another kind: only the subscription to every task")
            #expect(otherQueued.task["id"] == .string(other))

            let ofTask = try subscription(watcher, ["id": .string(id)])
            let claimed = try #require(try worker.result("tasks.claim", ["kinds": ["test.watched"], "lease": 30])["tasks"]?.arrayValue)
            #expect(claimed.count == 1)
            let running = try await change(on: watcher)
            #expect(running.subscriptions == [everything, ofKind, ofTask].sorted(), "once per change, not once per subscription")
            #expect(running.task["status"] == "running" && running.task["attempt"] == 1, "\(running.task)")

            #expect(try watcher.result("tasks.unsubscribe", ["subscription": .int(Int64(ofKind))]) == ["unsubscribed": true])
            _ = try worker.result("tasks.heartbeat", ["id": .string(id), "progress": ["fraction": 0.5, "message": "halfway"]])
            let progress = try await change(on: watcher)
            #expect(progress.subscriptions == [everything, ofTask].sorted())
            #expect(progress.task["progress"] == ["fraction": 0.5, "message": "halfway"], "\(progress.task)")

            #expect(try watcher.result("tasks.unsubscribe", ["subscription": .int(Int64(everything))]) == ["unsubscribed": true])
            _ = try worker.result("tasks.complete", ["id": .string(id), "result": "done"])
            let finished = try await change(on: watcher)
            #expect(finished.subscriptions == [ofTask])
            #expect(finished.task["status"] == "succeeded" && finished.task["result"] == "done", "\(finished.task)")

            _ = try client.submitTask(["kind": "test.watched"])
            await #expect(throws: NoMessage.self, "no subscription watches a new task any more") {
                try await watcher.nextMessage(within: 0.3)
            }
        }
    }

    @Test("a subscription is the connection's own: another connection cannot end it, and it ends with its connection")
    func subscriptionsBelongToTheirConnection() async throws {
        try await withTaskDaemon { daemon in
            let client = try daemon.connect()
            let watcher = try daemon.connect()
            let stranger = try daemon.connect()
            let watching = try subscription(watcher, ["kind": "test.owned"])
            #expect(try stranger.result("tasks.unsubscribe", ["subscription": .int(Int64(watching))]) == ["unsubscribed": false])

            let id = try client.submitTask(["kind": "test.owned"])
            let queued = try await change(on: watcher)
            #expect(queued.subscriptions == [watching] && queued.task["id"] == .string(id))
            await #expect(throws: NoMessage.self, "the stranger subscribed to nothing") {
                try await stranger.nextMessage(within: 0.2)
            }

            watcher.close()
            // The daemon forgets the closed connection's subscription: a task submitted after it
            // is still taken and reported normally, and the subscription cannot be ended again.
            let later = try client.submitTask(["kind": "test.owned"])
            #expect(try client.task(later)["status"] == "queued")
            let again = try daemon.connect()
            #expect(try again.result("tasks.unsubscribe", ["subscription": .int(Int64(watching))]) == ["unsubscribed": false])
        }
    }

    @Test("a watcher of every task that never reads is disconnected once its held notifications pass --max-outbound-bytes")
    func unreadWatcherIsDisconnected() async throws {
        // Above the channel's high-water mark (256 KiB), so that the responses' own cap does
        // not end the connection first: past that mark notifications are held, not written.
        try await withTaskDaemon(["--max-outbound-bytes", "1048576"]) { daemon in
            let watcher = try daemon.connect()
            _ = try watcher.result("tasks.subscribe", [:])
            // From here on the watcher reads nothing. Each task changes three times and is a key
            // of its own, so holding the newest per key does not bound it; the bytes do.
            let submitter = try daemon.connect()
            let payload = JSONValue.string(String(repeating: "x", count: 2_000))
            for _ in 0..<10 {
                _ = try await submitter.submitTasks(Array(repeating: ["kind": "sidecar.noop", "payload": payload], count: 200))
            }
            let closed = await pollUntil(timeout: 10) { daemon.standardError.contains("not reading its notifications") }
            #expect(closed, "\(daemon.standardError)")
            var event = watcher.next(timeout: 5)
            while case .frame = event { event = watcher.next(timeout: 5) }
            #expect(event == .closed, "\(event)")
            #expect(!daemon.standardError.contains("not reading its responses"), "\(daemon.standardError)")
            #expect(try submitter.result("sidecar.ping", [:]) == "pong")
        }
    }

    @Test("tasks.subscribe refuses an id or kind that is not a string, naming the field")
    func invalidParams() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            let byID = try connection.error("tasks.subscribe", ["id": 7], code: -32602)
            #expect(byID["data"]?["field"] == "id", "\(byID)")
            let byKind = try connection.error("tasks.subscribe", ["kind": ["a"]], code: -32602)
            #expect(byKind["data"]?["field"] == "kind", "\(byKind)")
        }
    }

    // MARK: - Helpers

    private func subscription(_ connection: RawConnection, _ params: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) throws -> Int64 {
        let result = try connection.result("tasks.subscribe", params, sourceLocation: sourceLocation)
        return try #require(result["subscription"]?.intValue, "tasks.subscribe \(params): \(result)", sourceLocation: sourceLocation)
    }

    /// The next message on `connection`, which must be a `tasks.changed`.
    private func change(on connection: RawConnection, sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> (subscriptions: [Int64], task: JSONValue)
    {
        let message = try await connection.nextMessage(within: 5)
        #expect(message["method"] == "tasks.changed" && message["id"] == .none, "\(message)", sourceLocation: sourceLocation)
        let subscriptions = try #require(message["params"]?["subscriptions"]?.arrayValue, "\(message)", sourceLocation: sourceLocation)
        return (subscriptions.compactMap(\.intValue), message["params"]?["task"] ?? .null)
    }
}
