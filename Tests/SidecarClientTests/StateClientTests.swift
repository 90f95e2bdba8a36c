import Foundation
import SidecarProtocol
import SidecarTestSupport
import Testing

@testable import SidecarClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `client.state` and the state commands of `sidecarctl`, against a real daemon with its own
/// SQLite file in a temporary directory.
@Suite("State client and commands", .timeLimit(.minutes(2)))
struct StateClientTests {
    // MARK: - Typed calls

    @Test func typedStateCallsRoundTrip() async throws {
        try await withTestDaemon { daemon in
            try await SidecarClient.withClient(to: daemon.socketPath) { client in
                let state = client.state
                let first = try await state.set("/settings/llm", ["model": "large", "temperature": 0.2], action: "init")
                #expect(try await state.get("/settings/llm/model") == ("large", first))

                let missing = try await state.get("/settings/nothing")
                #expect(missing.value == .none && missing.revision == first)
                let storedNull = try await state.set("/settings/empty", nil)
                #expect(try await state.get("/settings/empty").value == .null)

                let merged = try await state.merge("/settings/llm", ["model": "small", "temperature": nil])
                #expect(merged == storedNull + 1)
                #expect(try await state.get("/settings/llm").value == ["model": "small"])

                try await state.set("/executions/e1", ["status": "running", "progress": 0.5])
                try await state.set("/executions/e2", ["status": "done"])
                let patched = try await state.patch(
                    ops: [["op": "test", "path": "/status", "value": "running"], ["op": "remove", "path": "/progress"]],
                    at: "/executions/e1"
                )
                #expect(try await state.get("/executions/e1") == (["status": "running"], patched))

                let running = try await state.query("$.executions[?@.status=='running']")
                #expect(running.map(\.path) == ["$['executions']['e1']"])
                #expect(running.map(\.value) == [["status": "running"]])

                let deleted = try await state.delete("/executions/e2")
                #expect(deleted == (patched + 1, true))
                #expect(try await state.delete("/executions/e2") == (patched + 1, false))

                // Compare-and-set: the daemon's -32005 with the current revision comes through.
                let error = await #expect(throws: SidecarClientError.self) {
                    try await state.set("/settings/llm/model", "x", ifRevision: first)
                }
                #expect(error?.rpcError?.code == .conflict)
                #expect(error?.rpcError?.data?["revision"] == .int(patched + 1))

                let history = try await state.history(path: "/settings/llm", limit: 10)
                #expect(history.first?["revision"] == .int(merged))
                #expect(history.last?["action"] == "init")
                let reverted = try await state.revert(to: first)
                #expect(try await state.get("") == (["settings": ["llm": ["model": "large", "temperature": 0.2]]], reverted))
            }
        }
    }

    // MARK: - Subscriptions

    @Test func subscribeYieldsTheCurrentValueThenChangesInOrder() async throws {
        try await withTestDaemon { daemon in
            try await SidecarClient.withClient(to: daemon.socketPath) { client in
                try await client.state.set("/settings/llm/model", "large")
                var values = client.state.subscribe("/settings/llm/model").makeAsyncIterator()
                #expect(try await values.next() == "large")

                try await client.state.set("/settings/app/theme", "dark")  // elsewhere: nothing
                try await client.state.set("/settings/llm/model", "large")  // unchanged: nothing
                try await client.state.set("/settings/llm/model", "small")
                try await client.state.merge("/settings", ["memory": ["on": true]])  // elsewhere
                try await client.state.set("/settings/llm/model", "medium")
                #expect(try await values.next() == "small")
                #expect(try await values.next() == "medium")

                // A JSONPath selector yields the node list; the changes of other streams on the
                // same client do not leak into it.
                var running = client.state.subscribe("$.executions[?@.status=='running']").makeAsyncIterator()
                #expect(try await running.next() == [])
                try await client.state.set("/executions/e1", ["status": "running"])
                #expect(try await running.next() == [["status": "running"]])
                try await client.state.set("/settings/llm/model", "tiny")
                #expect(try await values.next() == "tiny")
                try await client.state.set("/executions/e1/status", "done")
                #expect(try await running.next() == [])
            }
        }
    }

    @Test func subscribeRejectsAnInvalidSelector() async throws {
        try await withTestDaemon { daemon in
            try await SidecarClient.withClient(to: daemon.socketPath) { client in
                var values = client.state.subscribe("/a/~2").makeAsyncIterator()
                let error = await #expect(throws: SidecarClientError.self) { try await values.next() }
                #expect(error?.rpcError?.code == .invalidParams)
            }
        }
    }

    @Test func stoppingTheIterationUnsubscribes() async throws {
        try await withTestDaemon { daemon in
            try await SidecarClient.withClient(to: daemon.socketPath) { client in
                let consumer = Task {
                    for try await _ in client.state.subscribe("/x") {}
                }
                try await waitUntil { client.subscriptions.liveCount == 1 }
                consumer.cancel()
                _ = try? await consumer.value
                try await waitUntil { client.subscriptions.liveCount == 0 }
                // The daemon no longer sends state.changed for it: nothing reaches the raw stream.
                try await client.state.set("/x", 1)
                _ = try await client.call("sidecar.ping")
                let metrics = try await client.call("sidecar.metrics")
                #expect(metrics["notifications"]?["sent"] == 0)
            }
        }
    }

    @Test func resubscribesAfterTheDaemonIsKilledAndRestarted() async throws {
        try await withWatchedFileAcrossACrash { daemon in
            try daemon.restart()
        } then: { client, values in
            try await client.state.set("/workspace/file", "c.md")
            #expect(try await values.next() == "c.md")
        }
    }

    /// A daemon that dies after accepting the reconnect but before answering (a crash during
    /// a restart): the subscription's call fails with the connection, and the stream must
    /// subscribe again on the next connection rather than end with that error. The dying
    /// daemon is a bare listener: it takes the connection, reads the request, and closes.
    @Test func aSubscriptionSurvivesAReconnectThatClosesBeforeTheReply() async throws {
        try await withWatchedFileAcrossACrash { daemon in
            _ = unlink(daemon.socketPath)
            let dying = try UnixSocket.listening(on: daemon.socketPath)
            #expect(UnixSocket.waitReadable(dying, timeout: 10), "the client reconnects")
            let accepted = accept(dying, nil, nil)
            #expect(UnixSocket.waitReadable(accepted, timeout: 10), "and sends its request")
            var request = [UInt8](repeating: 0, count: 4096)
            let count = read(accepted, &request, request.count)
            #expect(String(decoding: request.prefix(max(count, 0)), as: UTF8.self).contains("state.subscribe"))
            close(accepted)
            close(dying)
            _ = unlink(daemon.socketPath)
            try daemon.restart()
        } then: { _, _ in }
    }

    /// A client that reconnects quickly watches `/workspace/file` ("a.md"); the daemon is
    /// killed, `restart` brings it back, and another process writes "b.md": the stream must end
    /// on "b.md". Then `then` runs with the client and the stream.
    private func withWatchedFileAcrossACrash(
        restart: (DaemonProcess) async throws -> Void,
        then: (SidecarClient, inout AsyncThrowingStream<JSONValue, any Error>.Iterator) async throws -> Void
    ) async throws {
        try await withDaemon(clientTestDaemonArguments) { daemon in
            var configuration = SidecarClient.Configuration()
            configuration.reconnect = ReconnectPolicy(
                initialDelay: .milliseconds(20), maximumDelay: .milliseconds(200), maximumAttempts: nil, giveUpAfter: .seconds(60))
            try await SidecarClient.withClient(to: daemon.socketPath, configuration: configuration) { client in
                try await client.state.set("/workspace/file", "a.md")
                var values = client.state.subscribe("/workspace/file").makeAsyncIterator()
                #expect(try await values.next() == "a.md")

                try await daemon.stop(signal: SIGKILL)
                try await restart(daemon)
                try await daemon.waitUntilReady()
                // Written by another process while this client reconnects.
                try await SidecarClient.withClient(to: daemon.socketPath) { other in
                    _ = try await other.state.set("/workspace/file", "b.md")
                }
                // The stream subscribes again and ends on the latest value.
                var latest = try await values.next()
                if latest == "a.md" { latest = try await values.next() }
                #expect(latest == "b.md")
                try await then(client, &values)
            }
            try await daemon.stop()
        }
    }

    @Test func sidecarctlReadsAJSONArgumentFromStandardInput() async throws {
        try await withTestDaemon { daemon in
            // Larger than Linux lets one command-line argument be (128 KiB).
            let workspace: JSONValue = .object(JSONObject(uniqueKeysWithValues: (0..<20_000).map { ("file\($0).md", .int(Int64($0))) }))
            try daemon.directory.write(JSONWriter.string(workspace), to: "workspace.json")
            try daemon.directory.write(#"{"unfinished": "#, to: "broken.json")
            func sidecarctl(_ arguments: [String], input: String) async throws -> CommandResult {
                var environment = ProcessInfo.processInfo.environment
                environment["SIDECAR_SOCKET"] = daemon.socketPath
                environment["INPUT"] = daemon.directory.file(input)
                return try await runCommand(
                    "/bin/sh", ["-c", #"exec "$0" "$@" < "$INPUT""#, PackageLocation.controlExecutable] + arguments,
                    environment: environment, in: daemon.directory)
            }
            let set = try await sidecarctl(["set", "/workspace", "-"], input: "workspace.json")
            #expect(set.status == .exited(0), "\(set.standardError)")
            #expect(set.standardOutput == #"{"revision":1}"# + "\n")
            let client = try await SidecarClient.connect(to: daemon.socketPath)
            #expect(try await client.state.get("/workspace").value == workspace)

            let broken = try await sidecarctl(["set", "/x", "-"], input: "broken.json")
            #expect(broken.status == .exited(64))
            #expect(broken.standardError.contains("JSON (read from standard input) is not valid JSON"), "\(broken.standardError)")
            #expect(try await client.state.get("/x").value == nil)
            await client.close()
        }
    }

    // MARK: - sidecarctl

    private func sidecarctl(_ arguments: [String], _ daemon: DaemonProcess) async throws -> CommandResult {
        var environment = ProcessInfo.processInfo.environment
        environment["SIDECAR_SOCKET"] = daemon.socketPath
        return try await runCommand(PackageLocation.controlExecutable, arguments, environment: environment, in: daemon.directory)
    }

    @Test func sidecarctlSetGetDeleteQuery() async throws {
        try await withTestDaemon { daemon in
            let set = try await sidecarctl(["set", "/executions/e1", #"{"status": "running"}"#, "--action", "start"], daemon)
            #expect(set.status == .exited(0))
            #expect(set.standardOutput == #"{"revision":1}"# + "\n")

            let get = try await sidecarctl(["get", "/executions"], daemon)
            #expect(get.standardOutput == #"{"e1":{"status":"running"}}"# + "\n")

            let merge = try await sidecarctl(["merge", "/executions/e1", #"{"progress": 0.5}"#], daemon)
            #expect(merge.standardOutput == #"{"revision":2}"# + "\n")
            let patch = try await sidecarctl(
                ["patch", "--path", "/executions/e1", #"[{"op":"test","path":"/status","value":"done"}]"#], daemon)
            #expect(patch.status == .exited(1))
            #expect(patch.standardError.hasPrefix("error -32005: "))

            let query = try await sidecarctl(["query", #"$.executions[?@.status=="running"]"#], daemon)
            #expect(query.standardOutput == #"[{"status":"running","progress":0.5}]"# + "\n")
            let paths = try await sidecarctl(["query", "--paths", "$.executions.*"], daemon)
            #expect(paths.standardOutput == #"{"$['executions']['e1']":{"status":"running","progress":0.5}}"# + "\n")

            let history = try await sidecarctl(["history", "--limit", "1"], daemon)
            #expect(history.standardOutput.hasPrefix(#"[{"revision":2,"#))

            let del = try await sidecarctl(["del", "/executions/e1"], daemon)
            #expect(del.standardOutput == #"{"revision":3,"existed":true}"# + "\n")
            let gone = try await sidecarctl(["get", "/executions/e1"], daemon)
            #expect(gone.status == .exited(0) && gone.standardOutput == "null\n")
            let exists = try await sidecarctl(["get", "--exists", "/executions/e1"], daemon)
            #expect(exists.status == .exited(3) && exists.standardOutput.isEmpty)

            let revert = try await sidecarctl(["revert", "1"], daemon)
            #expect(revert.standardOutput == #"{"revision":4}"# + "\n")
            let restored = try await sidecarctl(["get", ""], daemon)
            #expect(restored.standardOutput == #"{"executions":{"e1":{"status":"running"}}}"# + "\n")

            let bad = try await sidecarctl(["set", "/a", "{not json"], daemon)
            #expect(bad.status == .exited(64))
            let badPointer = try await sidecarctl(["get", "/a/~2"], daemon)
            #expect(badPointer.status == .exited(1) && badPointer.standardError.hasPrefix("error -32602: "))
        }
    }

    @Test func sidecarctlWatchPrintsOneLinePerValue() async throws {
        try await withTestDaemon { daemon in
            _ = try await sidecarctl(["set", "/settings/llm/model", #""large""#], daemon)
            var environment = ProcessInfo.processInfo.environment
            environment["SIDECAR_SOCKET"] = daemon.socketPath
            let watch = try ChildProcess(
                executable: PackageLocation.controlExecutable,
                arguments: ["watch", "/settings/llm"],
                environment: environment,
                standardOutputPath: daemon.directory.file("watch.out"),
                standardErrorPath: daemon.directory.file("watch.err")
            )
            defer { watch.kill() }
            try await waitUntil { watch.standardOutput == #"{"model":"large"}"# + "\n" }

            _ = try await sidecarctl(["set", "/settings/llm/model", #""small""#], daemon)
            _ = try await sidecarctl(["set", "/settings/app/theme", #""dark""#], daemon)  // elsewhere
            _ = try await sidecarctl(["merge", "/settings/llm", #"{"temperature": 0.5}"#], daemon)
            let expected = [#"{"model":"large"}"#, #"{"model":"small"}"#, #"{"model":"small","temperature":0.5}"#]
            try await waitUntil { watch.standardOutput.split(separator: "\n").count >= 3 }
            #expect(watch.standardOutput == expected.joined(separator: "\n") + "\n")
            #expect(watch.poll() == nil, "still watching")
            watch.send(signal: SIGTERM)
            #expect(await watch.waitForExit(timeout: 10) != nil)
        }
    }
}

extension SubscriptionRegistry {
    /// How many subscription streams are live (for tests).
    var liveCount: Int { countLive() }
    var routeCount: Int { countRoutes() }
}
