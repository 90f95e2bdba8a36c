import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

/// Graceful shutdown on SIGTERM/SIGINT with requests in flight.
@Suite("Shutdown", .timeLimit(.minutes(1)))
struct ShutdownTests {
    @Test("SIGTERM: the in-flight echo is still answered, then the connection closes, exit 0, socket removed")
    func inFlightRequestFinishes() throws {
        try withDaemon { daemon in
            let connection = try daemon.connect()
            try connection.send(RPC.echo("survives", delayMs: 1000, id: "slow"))
            // The ping's answer proves the echo before it was read and is in flight.
            expectResult(try connection.call("sidecar.ping", id: "ping"), "pong", id: "ping")
            let signalled = ContinuousClock.now
            daemon.terminate(SIGTERM)
            expectResult(try connection.readMessage(timeout: 5), "survives", id: "slow")
            #expect(connection.next(timeout: 3) == .closed)
            #expect(daemon.waitForExit(timeout: 5) == .exited(0), "\(daemon.standardError)")
            #expect(ContinuousClock.now - signalled < .seconds(4))
            #expect(access(daemon.socketPath, F_OK) != 0, "the socket file is still there")
        }
    }

    @Test("once shutdown has begun, a new request on an open connection is not started, so it cannot delay the exit")
    func noNewRequestsDuringShutdown() throws {
        try withTemporaryDirectory { directory in
            let notify = try NotifySocket(path: directory.file("notify.sock"))
            let daemon = try DaemonProcess(in: directory, environment: ["NOTIFY_SOCKET": directory.file("notify.sock")])
            defer { daemon.kill() }
            try #require(notify.waitFor("READY=1", timeout: 15), "\(daemon.standardError)")
            let connection = try daemon.connect()
            try connection.send(RPC.echo("in flight", delayMs: 1000, id: "first"))
            expectResult(try connection.call("sidecar.ping", id: "ping"), "pong", id: "ping")

            let signalled = ContinuousClock.now
            daemon.terminate(SIGTERM)
            try #require(notify.waitFor("STOPPING=1", timeout: 5))
            // Shutdown is under way: PROTOCOL.md says new requests are no longer read.
            try connection.send(RPC.echo("too late", delayMs: 5000, id: "late"))

            expectResult(try connection.readMessage(timeout: 5), "in flight", id: "first")
            let after = connection.next(timeout: 6)
            #expect(after == .closed, "a request sent after shutdown began was read and answered: \(after)")
            let status = daemon.waitForExit(timeout: 6)
            #expect(status == .exited(0), "\(daemon.standardError)")
            #expect(ContinuousClock.now - signalled < .seconds(3), "the exit waited for a request sent after SIGTERM")
        }
    }

    @Test("SIGINT shuts down the same way; an idle connection is closed at once, not after the timeout")
    func sigint() throws {
        try withDaemon { daemon in
            let idle = try daemon.connect()
            expectResult(try idle.call("sidecar.ping"), "pong", id: 1)
            let signalled = ContinuousClock.now
            daemon.terminate(SIGINT)
            #expect(idle.next(timeout: 3) == .closed)
            #expect(daemon.waitForExit(timeout: 5) == .exited(0), "\(daemon.standardError)")
            // The default --shutdown-timeout is 10 s: nothing was in flight, so no waiting.
            #expect(ContinuousClock.now - signalled < .seconds(3))
            #expect(access(daemon.socketPath, F_OK) != 0, "the socket file is still there")
        }
    }

    @Test("--idle-exit without socket activation: exits 0 after the idle period and removes its socket")
    func idleExitWithoutActivation() throws {
        try withDaemon(["--idle-exit", "0.5"]) { daemon in
            let connection = try daemon.connect()
            expectResult(try connection.call("sidecar.ping"), "pong", id: 1)
            // An open connection keeps the daemon up, even when quiet.
            #expect(daemon.waitForExit(timeout: 1.5) == nil, "exited with a connection open")
            connection.close()
            #expect(daemon.waitForExit(timeout: 8) == .exited(0), "\(daemon.standardError)")
            #expect(access(daemon.socketPath, F_OK) != 0, "the socket file is still there")
        }
    }

    @Test("--shutdown-timeout 1 bounds the wait for a 10 s echo: exit 0 within about 3 s")
    func shutdownTimeout() throws {
        try withDaemon(["--shutdown-timeout", "1"]) { daemon in
            let connection = try daemon.connect()
            try connection.send(RPC.echo("never", delayMs: 10_000, id: "slow"))
            expectResult(try connection.call("sidecar.ping", id: "ping"), "pong", id: "ping")
            let signalled = ContinuousClock.now
            daemon.terminate(SIGTERM)
            #expect(daemon.waitForExit(timeout: 3) == .exited(0), "\(daemon.standardError)")
            #expect(ContinuousClock.now - signalled < .seconds(3))
            #expect(connection.next(timeout: 1) == .closed, "the unfinished echo must not be answered")
            #expect(access(daemon.socketPath, F_OK) != 0, "the socket file is still there")
        }
    }
}
