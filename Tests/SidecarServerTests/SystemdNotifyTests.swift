import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

/// `sd_notify`: the daemon tells the service manager when it is ready and when it stops.
@Suite("sd_notify", .timeLimit(.minutes(1)))
struct SystemdNotifyTests {
    @Test("READY=1 arrives once the socket accepts requests; STOPPING=1 after SIGTERM")
    func readyAndStopping() throws {
        try withTemporaryDirectory { directory in
            let notify = try NotifySocket(path: directory.file("notify.sock"))
            let daemon = try DaemonProcess(in: directory, environment: ["NOTIFY_SOCKET": directory.file("notify.sock")])
            defer { daemon.kill() }
            #expect(notify.waitFor("READY=1", timeout: 15), "got \(notify.messages); stderr: \(daemon.standardError)")
            // Ready means ready: no polling, the first connection is served.
            expectResult(try daemon.connect().call("sidecar.ping"), "pong", id: 1)
            #expect(notify.messages.contains { $0.contains("STATUS=") }, "\(notify.messages)")

            daemon.terminate(SIGTERM)
            #expect(notify.waitFor("STOPPING=1", timeout: 5), "got \(notify.messages)")
            #expect(daemon.waitForExit(timeout: 5) == .exited(0))
            #expect(!notify.messages.contains { $0.contains("WATCHDOG=1") }, "no watchdog was asked for")
        }
    }

    @Test("WATCHDOG=1 is sent every half of WATCHDOG_USEC, and STATUS= counts connections")
    func watchdogKeepAlives() throws {
        try withTemporaryDirectory { directory in
            let notify = try NotifySocket(path: directory.file("notify.sock"))
            let daemon = try DaemonProcess(
                in: directory,
                environment: ["NOTIFY_SOCKET": directory.file("notify.sock"), "WATCHDOG_USEC": "400000"]
            )
            defer { daemon.kill() }
            #expect(notify.waitFor("READY=1", timeout: 15), "got \(notify.messages)")
            let connection = try daemon.connect()
            expectResult(try connection.call("sidecar.ping"), "pong", id: 1)
            // A 400 ms watchdog wants a keep-alive every 200 ms: four arrive well within 5 s,
            // and the status line follows the open connection.
            let received = notify.receive(until: { messages in
                messages.filter { $0.contains("WATCHDOG=1") }.count >= 4
                    && messages.contains { $0.contains("STATUS=serving 1 connection(s)") }
            }, timeout: 5)
            #expect(received, "got \(notify.messages)")
        }
    }

    @Test("under journald (JOURNAL_STREAM set) log lines carry a syslog priority and no timestamp")
    func journalLogFormat() throws {
        try withDaemon(environment: ["JOURNAL_STREAM": "8:12345"]) { daemon in
            let line = try #require(daemon.standardError.split(separator: "\n").first { $0.contains("listening on") })
            #expect(line.hasPrefix("<6>listening on \(daemon.socketPath)"), "\(line)")
        }
    }
}
