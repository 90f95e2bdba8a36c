import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

/// Socket activation: the daemon serves a listening socket it was given on fd 3.
@Suite("Socket activation", .timeLimit(.minutes(1)))
struct SocketActivationTests {
    @Test(
        "systemd-socket-activate starts the daemon on the first connection; status says socketActivated",
        .enabled(if: PackageLocation.executable(named: "systemd-socket-activate") != nil, "systemd-socket-activate is not installed")
    )
    func systemdSocketActivate() throws {
        let tool = try #require(PackageLocation.executable(named: "systemd-socket-activate"))
        try withTemporaryDirectory { directory in
            let path = directory.file("act.sock")
            // It passes on only -E variables (and PATH, HOME, ...): keep the user's config file out.
            let child = try ChildProcess(
                executable: tool,
                arguments: ["-l", path, "-E", "XDG_CONFIG_HOME=\(directory.file("config-home"))",
                            PackageLocation.daemonExecutable, "--socket", directory.file("ignored.sock")],
                environment: DaemonProcess.environment(directory: directory, adding: [:]),
                standardOutputPath: directory.file("activate.out"),
                standardErrorPath: directory.file("activate.log")
            )
            defer { child.kill() }
            let listening = try waitUntil(timeout: 10) {
                guard child.poll() == nil else { throw DaemonError("systemd-socket-activate exited: \(child.standardError)") }
                guard let descriptor = try? UnixSocket.connect(to: path) else { return false }
                close(descriptor)
                return true
            }
            try #require(listening, "nothing listens on \(path): \(child.standardError)")

            let connection = try RawConnection(path: path)
            expectResult(try connection.call("sidecar.ping", id: 1, timeout: 15), "pong", id: 1)
            let status = try #require(try connection.call("sidecar.status", id: 2)["result"])
            #expect(status["socketActivated"] == true, "\(status)")
            #expect(status["socket"] == .string(path), "\(status)")
            // systemd-socket-activate execs the daemon in its own process.
            #expect(status["pid"] == .int(Int64(child.pid)), "\(status)")
            #expect(access(directory.file("ignored.sock"), F_OK) != 0, "--socket must be ignored when activated")
        }
    }

    @Test("idle exit under activation: the daemon exits 0 when idle, and a connection queued meanwhile is served by the next start")
    func idleExitLosesNoConnection() throws {
        try withTemporaryDirectory { directory in
            let path = directory.file("act.sock")
            // The test plays systemd: it owns the listening socket for the whole test.
            let listener = try UnixSocket.listening(on: path)
            defer { close(listener) }

            let first = try DaemonProcess(in: directory, arguments: ["--idle-exit", "1"], activationSocket: listener)
            defer { first.kill() }
            let connection = try RawConnection(path: path)
            expectResult(try connection.call("sidecar.ping", id: 1, timeout: 15), "pong", id: 1)
            let status = try #require(try connection.call("sidecar.status", id: 2)["result"])
            #expect(status["socketActivated"] == true, "\(status)")
            #expect(status["socket"] == .string(path), "\(status)")
            #expect(status["pid"] == .int(Int64(first.pid)), "LISTEN_PID must be the daemon's pid: \(status)")
            // Busy is not idle: a request in flight keeps the daemon up past the idle period.
            expectResult(try connection.call("sidecar.echo", params: ["value": "busy", "delayMs": 1500], id: 3), "busy", id: 3)
            #expect(first.process.poll() == nil, "exited while a request was in flight")
            connection.close()

            let exitStatus = first.waitForExit(timeout: 8)
            #expect(exitStatus == .exited(0), "\(exitStatus.map { "\($0)" } ?? "still running"): \(first.standardError)")
            #expect(first.standardError.contains("idle"), "\(first.standardError)")
            #expect(access(path, F_OK) == 0, "an activated daemon must not remove the socket it was given")

            // No daemon runs now; this connection waits in the socket's backlog.
            let queued = try RawConnection(path: path)
            try queued.send(RPC.request("sidecar.ping", id: "queued"))
            #expect(queued.next(timeout: 0.2) == .timedOut)

            let second = try DaemonProcess(in: directory, arguments: ["--idle-exit", "1"], activationSocket: listener)
            defer { second.kill() }
            expectResult(try queued.readMessage(timeout: 15), "pong", id: "queued")
            let secondStatus = try #require(try queued.call("sidecar.status", id: 2)["result"])
            #expect(secondStatus["pid"] == .int(Int64(second.pid)))
            queued.close()
            #expect(second.waitForExit(timeout: 8) == .exited(0), "\(second.standardError)")
        }
    }

    @Test("connections arriving while the daemon goes idle are all served, by it or by the next start")
    func connectionsAroundIdleExit() throws {
        try withTemporaryDirectory { directory in
            let path = directory.file("act.sock")
            let listener = try UnixSocket.listening(on: path)
            defer { close(listener) }
            var daemons: [DaemonProcess] = []
            defer { daemons.forEach { $0.kill() } }
            func startDaemon() throws {
                daemons.append(try DaemonProcess(in: directory, arguments: ["--idle-exit", "0.2"], activationSocket: listener))
            }
            try startDaemon()

            // Clients come at intervals around the idle period; each must get its answer,
            // restarting the daemon (as systemd would) whenever the last one has exited.
            var answered = 0
            for round in 0..<12 {
                let client = try RawConnection(path: path)
                try client.send(RPC.request("sidecar.ping", id: .int(Int64(round))))
                var reply: RawConnection.Event = .timedOut
                let deadline = Deadline(seconds: 15)
                while !deadline.hasPassed {
                    reply = client.next(timeout: 0.05)
                    if reply != .timedOut { break }
                    if let last = daemons.last, last.process.poll() != nil {
                        #expect(last.process.exitStatus == .exited(0), "\(last.standardError)")
                        try startDaemon()
                    }
                }
                if case .frame(let bytes) = reply, (try? JSONParser.parse(bytes: bytes))?["result"] == "pong" {
                    answered += 1
                } else {
                    Issue.record("client \(round) got \(reply)")
                }
                client.close()
                // From no gap to well past the idle period.
                pause(seconds: 0.1 * Double(round % 6))
            }
            #expect(answered == 12)
            #expect(daemons.count > 1, "the daemon never went idle, so no restart was exercised")
        }
    }
}
