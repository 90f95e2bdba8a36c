import Foundation
import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

/// The socket file, a second daemon, the connection limit, and what the daemon says about itself.
@Suite("Socket and process", .timeLimit(.minutes(1)))
struct SocketAndProcessTests {
    @Test("the daemon creates the socket directory 0700 and the socket 0600")
    func socketModes() throws {
        try withTemporaryDirectory { directory in
            let socketDirectory = directory.file("run/sidecar")
            let daemon = try DaemonProcess(in: directory, socketPath: socketDirectory + "/sidecar.sock")
            defer { daemon.kill() }
            try daemon.waitUntilReady()
            var status = stat()
            #expect(stat(socketDirectory, &status) == 0)
            #expect(status.st_mode & S_IFMT == S_IFDIR)
            #expect(status.st_mode & 0o7777 == 0o700, "directory mode \(String(status.st_mode & 0o7777, radix: 8))")
            #expect(stat(directory.file("run"), &status) == 0)
            #expect(status.st_mode & 0o7777 == 0o700, "parent mode \(String(status.st_mode & 0o7777, radix: 8))")
            #expect(lstat(daemon.socketPath, &status) == 0)
            #expect(status.st_mode & S_IFMT == S_IFSOCK)
            #expect(status.st_mode & 0o7777 == 0o600, "socket mode \(String(status.st_mode & 0o7777, radix: 8))")
        }
    }

    @Test("a stale socket file left by a dead daemon is replaced")
    func staleSocketReplaced() throws {
        try withTemporaryDirectory { directory in
            let path = directory.file("s.sock")
            close(try UnixSocket.bound(SOCK_STREAM, to: path))  // the file stays, nobody listens
            #expect(access(path, F_OK) == 0)
            let daemon = try DaemonProcess(in: directory, socketPath: path)
            defer { daemon.kill() }
            try daemon.waitUntilReady()
            expectResult(try daemon.connect().call("sidecar.ping"), "pong", id: 1)
        }
    }

    @Test("a path that is not a socket is not removed: the daemon exits 1 and says why")
    func regularFileNotReplaced() throws {
        try withTemporaryDirectory { directory in
            let path = directory.file("s.sock")
            #expect(FileManager.default.createFile(atPath: path, contents: Data("keep me".utf8)))
            let daemon = try DaemonProcess(in: directory, socketPath: path)
            defer { daemon.kill() }
            #expect(daemon.waitForExit(timeout: 10) == .exited(1), "\(daemon.standardError)")
            #expect(daemon.standardError.contains("not a socket"), "\(daemon.standardError)")
            #expect((try? String(contentsOfFile: path, encoding: .utf8)) == "keep me")
        }
    }

    @Test("a second daemon on the same path exits 1 saying another is already listening; the first goes on")
    func secondDaemonRefused() throws {
        try withDaemon { first in
            let second = try DaemonProcess(in: first.directory, socketPath: first.socketPath)
            defer { second.kill() }
            #expect(second.waitForExit(timeout: 10) == .exited(1))
            #expect(second.standardError.contains("already listening"), "\(second.standardError)")
            expectResult(try first.connect().call("sidecar.ping"), "pong", id: 1)
            #expect(access(first.socketPath, F_OK) == 0)
        }
    }

    @Test("--max-connections 2: the third connection gets -32002 with id null and is closed")
    func connectionLimit() throws {
        try withDaemon(["--max-connections", "2"]) { daemon in
            let first = try daemon.connectAdmitted()
            let second = try daemon.connectAdmitted()
            let third = try daemon.connect()
            let refusal = try third.readMessage()
            expectError(refusal, code: -32002, id: nil)
            #expect(refusal["error"]?["data"]?["maximumConnections"] == 2)
            #expect(third.next(timeout: 3) == .closed)
            // The admitted ones are unaffected.
            expectResult(try first.call("sidecar.ping", id: 2), "pong", id: 2)
            expectResult(try second.call("sidecar.ping", id: 2), "pong", id: 2)
            let metrics = try first.call("sidecar.metrics", id: 3)
            #expect((metrics["result"]?["connections"]?["refused"]?.intValue ?? 0) >= 1, "\(metrics)")
            // Once one closes, a new connection is served again.
            first.close()
            let fourth = try daemon.connectAdmitted()
            expectResult(try fourth.call("sidecar.ping", id: 4), "pong", id: 4)
        }
    }

    @Test("--max-connections holds when many connections arrive at once")
    func connectionLimitUnderBurst() throws {
        try withDaemon(["--max-connections", "5"]) { daemon in
            let first = try daemon.connectAdmitted()
            // Wait until only this connection counts (the readiness probe is gone).
            let settled = try waitUntil(timeout: 5) {
                try first.call("sidecar.status", id: "count")["result"]?["connections"] == 1
            }
            try #require(settled)
            let burst = try (0..<40).map { _ in try daemon.connect() }
            var admitted = 0
            var refused = 0
            for (index, connection) in burst.enumerated() {
                try? connection.send(RPC.request("sidecar.ping", id: .int(Int64(index))))
            }
            for (index, connection) in burst.enumerated() {
                let reply = try connection.readMessage()
                if reply["result"] == "pong" {
                    #expect(reply["id"] == .int(Int64(index)))
                    admitted += 1
                } else {
                    expectError(reply, code: -32002, id: nil)
                    refused += 1
                }
            }
            #expect(admitted == 4, "with 1 open and a limit of 5, \(admitted) of the burst were admitted")
            #expect(refused == 36)
        }
    }

    @Test("sidecar.status connections goes down again when clients leave")
    func connectionsCountDown() throws {
        try withDaemon { daemon in
            let kept = try daemon.connect()
            var others = try (0..<3).map { _ in try daemon.connect() }
            for other in others { expectResult(try other.call("sidecar.ping"), "pong", id: 1) }
            let four = try waitUntil(timeout: 5) { try kept.call("sidecar.status")["result"]?["connections"] == 4 }
            #expect(four)
            others.forEach { $0.close() }
            others.removeAll()
            let one = try waitUntil(timeout: 5) { try kept.call("sidecar.status")["result"]?["connections"] == 1 }
            #expect(one, "\((try? kept.call("sidecar.status")) ?? nil)")
        }
    }

    @Test("sidecar.status reports the version, the pid, the socket, not activated, and the connections")
    func status() throws {
        try withDaemon { daemon in
            let version = try runCommand(PackageLocation.daemonExecutable, ["--version"], in: daemon.directory)
            #expect(version.status == .exited(0))
            let connection = try daemon.connect()
            let reply = try connection.call("sidecar.status", id: "s")
            let status = try #require(reply["result"], "\(reply)")
            #expect(status["version"] == .string(version.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(status["version"] == "0.1.0")
            #expect(status["pid"] == .int(Int64(daemon.pid)))
            #expect(status["socket"] == .string(daemon.socketPath))
            #expect(status["socketActivated"] == false)
            #expect((status["connections"]?.intValue ?? 0) >= 1)
            #expect((status["uptimeSeconds"]?.doubleValue ?? -1) >= 0)
            expectError(try connection.call("sidecar.status", params: ["verbose": true], id: 2), code: -32602, id: 2)
        }
    }

    @Test("sidecar.metrics counts pings by method and unknown methods under errors.byCode -32601")
    func metrics() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            let pings = 25
            var bytes: [UInt8] = []
            for id in 0..<pings { bytes += WireFrame.bytes(RPC.request("sidecar.ping", id: .int(Int64(id)))) }
            try connection.write(bytes)
            for _ in 0..<pings { _ = try connection.readMessage() }
            expectError(try connection.call("no.such.method", id: "x"), code: -32601, id: "x")
            try connection.send(#"{"jsonrpc":"2.0","id":"bad","method":7}"#)
            expectError(try connection.readMessage(), code: -32600, id: "bad")

            let reply = try connection.call("sidecar.metrics", id: "m")
            let metrics = try #require(reply["result"], "\(reply)")
            let ping = metrics["requests"]?["byMethod"]?["sidecar.ping"]
            #expect((ping?["count"]?.intValue ?? 0) >= Int64(pings), "\(metrics)")
            #expect(ping?["errors"] == 0)
            #expect((ping?["latencyMicros"]?["max"]?.intValue ?? -1) >= 0)
            #expect((metrics["errors"]?["byCode"]?["-32601"]?.intValue ?? 0) >= 1, "\(metrics)")
            #expect((metrics["errors"]?["byCode"]?["-32600"]?.intValue ?? 0) >= 1, "\(metrics)")
            #expect(metrics["requests"]?["byMethod"]?["no.such.method"] == nil, "unknown names must not grow the table")
            #expect((metrics["requests"]?["byMethod"]?["(unknown)"]?["count"]?.intValue ?? 0) >= 1)
            #expect((metrics["requests"]?["total"]?.intValue ?? 0) >= Int64(pings + 1))
            #expect((metrics["connections"]?["current"]?.intValue ?? 0) >= 1)
            #expect((metrics["connections"]?["total"]?.intValue ?? 0) >= 1)
            #expect((metrics["bytes"]?["in"]?.intValue ?? 0) >= Int64(bytes.count))
            #expect((metrics["bytes"]?["out"]?.intValue ?? 0) > 0)
            #expect(metrics["notifications"]?["sent"] == 0)
        }
    }
}
