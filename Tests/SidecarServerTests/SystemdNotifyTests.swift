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
}
