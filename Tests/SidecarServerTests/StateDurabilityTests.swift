import Glibc
import GRDB
import SidecarProtocol
import SidecarTestSupport
import Testing

/// The state survives `kill -9`; the history keeps what `--history-limit` says.
@Suite("State durability and history retention", .timeLimit(.minutes(2)))
struct StateDurabilityTests {
    @Test("every acknowledged write survives kill -9, and revisions continue after the restart")
    func survivesKill() throws {
        try withDaemon { daemon in
            let count = 200
            var expected: JSONObject = [:]
            do {
                let connection = try daemon.connect()
                // Half one by one, half pipelined (group commit): each acknowledged before the kill.
                for index in 0..<count / 2 {
                    let reply = try connection.result("state.set", ["path": .string("/items/k\(index)"), "value": .int(Int64(index))])
                    #expect(reply["revision"] == .int(Int64(index + 1)))
                    expected["k\(index)"] = .int(Int64(index))
                }
                var bytes: [UInt8] = []
                for index in count / 2..<count {
                    bytes += WireFrame.bytes(RPC.request("state.set", params: ["path": .string("/items/k\(index)"), "value": .int(Int64(index))],
                                                         id: .int(Int64(index))))
                    expected["k\(index)"] = .int(Int64(index))
                }
                try connection.write(bytes)
                for _ in count / 2..<count {
                    #expect(try connection.readMessage()["result"]?["revision"] != nil)
                }
            }
            let status = try daemon.stop(signal: SIGKILL)
            #expect(status == .signaled(SIGKILL), "\(status)")

            try daemon.restart()
            try daemon.waitUntilReady()
            let connection = try daemon.connectAdmitted()
            let document = try connection.result("state.get", ["path": "/items"])
            #expect(document["revision"] == .int(Int64(count)))
            #expect(document["value"] == .object(expected), "lost writes after kill -9")
            #expect(try connection.result("state.set", ["path": "/after", "value": true]) == ["revision": .int(Int64(count + 1))])
            let newest = try connection.result("state.history", ["limit": 2])["changes"]?.arrayValue
            #expect(newest?.map { $0["revision"] } == [.int(Int64(count + 1)), .int(Int64(count))])
        }
    }

    @Test("a value nested as deep as the document may be is stored and read back after restarts; one level more, or a pointer of 50,000 tokens, is -32602 and changes nothing")
    func nestingLimit() throws {
        // 10 levels of path and 500 of value: the 510 a document may nest.
        let path = String(repeating: "/deep", count: 10)
        var deepest: JSONValue = "bottom"
        for _ in 0..<500 { deepest = ["d": deepest] }
        try withDaemon { daemon in
            do {
                let connection = try daemon.connect()
                #expect(try connection.result("state.set", ["path": .string(path), "value": deepest])["revision"] == 1)
                let tooDeep = try connection.error("state.set", ["path": .string(path), "value": ["d": deepest]], code: -32602)
                #expect(tooDeep["message"]?.stringValue?.contains("more than 510 levels deep under /deep") == true, "\(tooDeep)")
                let tooLong = try connection.error("state.set", ["path": .string(String(repeating: "/a", count: 50_000)), "value": 1], code: -32602)
                #expect(tooLong["message"]?.stringValue?.contains("50000 reference tokens; at most 512") == true, "\(tooLong)")
                #expect(try connection.result("state.get", ["path": ""])["revision"] == 1, "nothing changed")
                // Past 100 changes the document is stored whole (a snapshot) as well as in the log.
                for index in 0..<120 {
                    _ = try connection.result("state.set", ["path": "/count", "value": .int(Int64(index))])
                }
            }
            #expect(try daemon.stop(signal: SIGKILL) == .signaled(SIGKILL))
            try daemon.restart()
            try daemon.waitUntilReady()
            let connection = try daemon.connectAdmitted()
            let stored = try connection.result("state.get", ["path": .string(path)])
            #expect(stored["value"] == deepest)
            #expect(stored["revision"] == 121)
        }
    }

    @Test("a revert made before kill -9 is there after the restart")
    func revertSurvivesKill() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            _ = try connection.result("state.set", ["path": "/a", "value": 1])
            _ = try connection.result("state.set", ["path": "/a", "value": 2])
            #expect(try connection.result("state.revert", ["toRevision": 1]) == ["revision": 3])
            try daemon.stop(signal: SIGKILL)
            try daemon.restart()
            try daemon.waitUntilReady()
            let again = try daemon.connectAdmitted()
            #expect(try again.result("state.get", ["path": ""]) == ["value": ["a": 1], "revision": 3, "exists": true])
            #expect(try again.result("state.revert", ["toRevision": 2]) == ["revision": 4])
            #expect(try again.result("state.get", ["path": "/a"])["value"] == 2)
        }
    }

    @Test("a change the disk refuses fails with every change queued behind it; later changes are refused until a restart")
    func storageFailureStopsChanges() throws {
        try withDaemon { daemon in
            _ = try daemon.connect().result("state.set", ["path": "/a", "value": 1])
            try daemon.stop()
            // The fault: a trigger that makes SQLite refuse the change log row of one path.
            let database = try DatabaseQueue(path: daemon.directory.file("state-home/sidecar/sidecar.sqlite"))
            try database.write { db in
                try db.execute(sql: """
                    CREATE TRIGGER poison BEFORE INSERT ON state_change WHEN NEW.path = '/poison'
                    BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
                    """)
            }
            try database.close()
            try daemon.restart()
            try daemon.waitUntilReady()

            let connection = try daemon.connectAdmitted()
            // Three changes in one read: one transaction, so all three fail.
            var bytes: [UInt8] = []
            for (index, path) in ["/b", "/poison", "/c"].enumerated() {
                bytes += WireFrame.bytes(RPC.request("state.set", params: ["path": .string(path), "value": true], id: .int(Int64(index))))
            }
            try connection.write(bytes)
            for _ in 0..<3 {
                let reply = try connection.readMessage()
                #expect(reply["error"]?["code"] == -32603, "\(reply)")
            }
            // Whether it went in that transaction or the next, a change behind the failure is not stored.
            try connection.write(WireFrame.bytes(RPC.request("state.set", params: ["path": "/d", "value": true], id: 3)))
            #expect(try connection.readMessage()["error"]?["code"] == -32603)
            let refused = try connection.error("state.set", ["path": "/e", "value": true], code: -32603)
            #expect(refused["message"]?.stringValue?.contains("restart the daemon") == true, "\(refused)")

            try daemon.stop(signal: SIGKILL)
            try daemon.restart()
            try daemon.waitUntilReady()
            #expect(try daemon.connectAdmitted().result("state.get", ["path": ""]) == ["value": ["a": 1], "revision": 1, "exists": true])
        }
    }

    @Test("--ephemeral: the subtree behaves the same over RPC but starts empty after a restart; revisions go on")
    func ephemeralPaths() throws {
        try withDaemon(["--ephemeral", "/ui/hover"]) { daemon in
            let connection = try daemon.connect()
            _ = try connection.result("state.set", ["path": "/ui/hover", "value": ["x": 1]])
            _ = try connection.result("state.set", ["path": "/ui", "value": ["theme": "light", "hover": ["x": 2]]])
            #expect(try connection.result("state.get", ["path": "/ui"])["value"] == ["theme": "light", "hover": ["x": 2]])
            try daemon.stop(signal: SIGKILL)
            try daemon.restart()
            try daemon.waitUntilReady()
            let again = try daemon.connectAdmitted()
            #expect(try again.result("state.get", ["path": "/ui"]) == ["value": ["theme": "light"], "revision": 2, "exists": true])
            #expect(try again.result("state.set", ["path": "/ui/hover", "value": 3]) == ["revision": 3])
        }
    }

    @Test("[state] ephemeral in config.toml marks ephemeral paths; a bad pointer there stops the daemon")
    func ephemeralFromConfig() throws {
        try withTemporaryDirectory { directory in
            try directory.write("[state]\nephemeral = [\"/progress\"]\n", to: "config.toml")
            try withDaemon(["--config", directory.file("config.toml")]) { daemon in
                let connection = try daemon.connect()
                _ = try connection.result("state.set", ["path": "/progress", "value": 0.5])
                _ = try connection.result("state.set", ["path": "/kept", "value": true])
                try daemon.stop(signal: SIGKILL)
                try daemon.restart()
                try daemon.waitUntilReady()
                let again = try daemon.connectAdmitted()
                #expect(try again.result("state.get", ["path": ""])["value"] == ["kept": true])
            }
            try directory.write("[state]\nephemeral = [\"no-slash\"]\n", to: "bad.toml")
            let bad = try DaemonProcess(in: directory, socketPath: directory.file("bad.sock"), arguments: ["--config", directory.file("bad.toml")])
            #expect(bad.waitForExit(timeout: 10) == .exited(1))
            #expect(bad.standardError.contains("ephemeral"), "\(bad.standardError)")
        }
    }

    @Test("--history-limit 5: after 150 changes the history is trimmed, newest first, and revert to 1 is -32004")
    func historyRetention() throws {
        try withDaemon(["--history-limit", "5"]) { daemon in
            let connection = try daemon.connect()
            for index in 1...150 {
                _ = try connection.result("state.set", ["path": "/counter", "value": .int(Int64(index))])
            }
            let changes = try #require(try connection.result("state.history", ["limit": 10_000])["changes"]?.arrayValue)
            let revisions = changes.compactMap { $0["revision"]?.intValue }
            #expect(revisions.count == changes.count)
            #expect(revisions.count >= 5 && revisions.count < 100, "\(revisions.count) changes kept with --history-limit 5")
            #expect(revisions.first == 150)
            #expect(revisions == revisions.sorted(by: >), "not newest first: \(revisions)")
            #expect(revisions == Array((151 - Int64(revisions.count)...150).reversed()), "trimmed from the oldest: \(revisions)")

            let error = try connection.error("state.revert", ["toRevision": 1], code: -32004)
            #expect(error["message"]?.stringValue?.isEmpty == false)
            #expect(try connection.result("state.get", ["path": "/counter"]) == ["value": 150, "revision": 150, "exists": true])
            // A revision still in the history can be reached.
            #expect(try connection.result("state.revert", ["toRevision": 148]) == ["revision": 151])
            #expect(try connection.result("state.get", ["path": "/counter"])["value"] == 148)
        }
    }
}
