import CSystemd
import Logging
import ServiceLifecycle
import SidecarServer

/// Tells the service manager how the daemon is doing (`sd_notify`): `READY=1` once requests
/// are accepted, `STATUS=` lines, `WATCHDOG=1` keep-alives, `STOPPING=1`. Every call is a
/// no-op when `NOTIFY_SOCKET` is unset (not started by systemd).
struct SystemdNotifier: Sendable {
    func notify(_ state: String) {
        _ = sd_notify(0, state)
    }

    /// The watchdog interval systemd asked for (`WATCHDOG_USEC`), if any.
    var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds))
    }
}

/// Sends `WATCHDOG=1` every half watchdog interval and refreshes the `STATUS=` line, until
/// the daemon shuts down.
struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let server: SidecarServer

    func run() async throws {
        let interval = notifier.watchdogInterval.map { $0 / 2 } ?? .seconds(5)
        let sendsWatchdog = notifier.watchdogInterval != nil
        // The sleep is cancelled as soon as a graceful shutdown begins.
        try? await cancelWhenGracefulShutdown {
            var lastStatus = ""
            while !Task.isCancelled {
                let status = "STATUS=serving \(server.connectionCount) connection(s)"
                if status != lastStatus {
                    notifier.notify(status)
                    lastStatus = status
                }
                if sendsWatchdog { notifier.notify("WATCHDOG=1") }
                try await Task.sleep(for: min(interval, .seconds(5)))
            }
        }
    }
}
