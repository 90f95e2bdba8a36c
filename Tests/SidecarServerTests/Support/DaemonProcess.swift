import Foundation
import Glibc
import SidecarProtocol

/// A real `sidecard` process on a real Unix socket, in a temporary directory of the test.
///
/// Prefer ``withDaemon(_:environment:_:)``, which always kills the process and removes the
/// directory. A daemon can also be socket-activated: given a listening descriptor it is
/// started with it on fd 3 and `LISTEN_FDS=1`, `LISTEN_PID=<its own pid>`, as systemd does.
final class DaemonProcess {
    let directory: TemporaryDirectory
    /// The path clients connect to.
    let socketPath: String
    let process: ChildProcess

    var pid: pid_t { process.pid }
    var standardError: String { process.standardError }

    private static let launchCount = LaunchCounter()

    /// Starts `sidecard`.
    /// - Parameters:
    ///   - directory: the test's temporary directory (logs go there too).
    ///   - socketPath: passed as `--socket`; default `<directory>/s.sock`.
    ///   - arguments: further flags.
    ///   - environment: variables added to (or replacing) the test process's environment.
    ///   - activationSocket: a listening socket to pass as fd 3 with `LISTEN_FDS=1`.
    init(
        in directory: TemporaryDirectory,
        socketPath: String? = nil,
        arguments: [String] = [],
        environment: [String: String] = [:],
        activationSocket: CInt? = nil
    ) throws {
        self.directory = directory
        let socketPath = socketPath ?? directory.file("s.sock")
        self.socketPath = socketPath
        let number = Self.launchCount.next()
        let daemonArguments = ["--socket", socketPath] + arguments
        let executable: String
        let spawnArguments: [String]
        if activationSocket != nil {
            // LISTEN_PID must be the daemon's own pid: the shell learns its pid ($$) and
            // exec keeps it.
            executable = "/bin/sh"
            spawnArguments = ["-c", #"export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" "$@""#, PackageLocation.daemonExecutable]
                + daemonArguments
        } else {
            executable = PackageLocation.daemonExecutable
            spawnArguments = daemonArguments
        }
        process = try ChildProcess(
            executable: executable,
            arguments: spawnArguments,
            environment: Self.environment(directory: directory, adding: environment),
            standardOutputPath: directory.file("sidecard-\(number).out"),
            standardErrorPath: directory.file("sidecard-\(number).log"),
            descriptorForFD3: activationSocket
        )
    }

    /// The test process's environment without anything that would change how a daemon
    /// starts (systemd variables, a configured socket, the user's config file), plus `adding`.
    static func environment(directory: TemporaryDirectory, adding: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for name in ["NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID",
                     "JOURNAL_STREAM", SocketPath.environmentVariable] {
            environment[name] = nil
        }
        environment["XDG_CONFIG_HOME"] = directory.file("config-home")
        environment.merge(adding) { _, new in new }
        return environment
    }

    /// Waits until the socket accepts connections (polling `connect`), failing early if the
    /// process exits.
    func waitUntilReady(timeout: Double = 15) throws {
        let deadline = Deadline(seconds: timeout)
        while true {
            if let descriptor = try? UnixSocket.connect(to: socketPath) {
                close(descriptor)
                return
            }
            if let status = process.poll() {
                throw DaemonError("sidecard \(status) before listening; stderr:\n\(standardError)")
            }
            if deadline.hasPassed {
                throw DaemonError("sidecard did not listen on \(socketPath) within \(timeout) s; stderr:\n\(standardError)")
            }
            pause(seconds: 0.01)
        }
    }

    /// A new raw connection to the daemon.
    func connect() throws -> RawConnection {
        try RawConnection(path: socketPath)
    }

    /// A connection the daemon has admitted: retried while the daemon answers `-32002`
    /// (a just-closed connection, such as the readiness probe, may still count for a moment).
    func connectAdmitted(timeout: Double = 5) throws -> RawConnection {
        let deadline = Deadline(seconds: timeout)
        while true {
            let connection = try connect()
            let reply: JSONValue
            do {
                reply = try connection.call("sidecar.ping", id: "admitted?")
            } catch {
                // A refused connection may be closed before the ping is even written.
                guard !deadline.hasPassed else { throw error }
                pause(seconds: 0.02)
                continue
            }
            if reply["result"] == "pong" { return connection }
            guard reply["error"]?["code"] == -32002, !deadline.hasPassed else {
                throw DaemonError("connection not admitted: \(reply)")
            }
            connection.close()
            pause(seconds: 0.02)
        }
    }

    func terminate(_ signal: Int32 = SIGTERM) {
        process.send(signal: signal)
    }

    func waitForExit(timeout: Double) -> ExitStatus? {
        process.waitForExit(timeout: timeout)
    }

    /// Kills the daemon if it still runs.
    func kill() {
        process.kill()
    }
}

/// Runs `body` with a ready daemon started with `arguments` in a fresh temporary directory;
/// afterwards the daemon is killed and the directory removed, whatever happened.
func withDaemon<T>(
    _ arguments: [String] = [],
    environment: [String: String] = [:],
    _ body: (DaemonProcess) throws -> T
) throws -> T {
    try withTemporaryDirectory { directory in
        let daemon = try DaemonProcess(in: directory, arguments: arguments, environment: environment)
        defer { daemon.kill() }
        try daemon.waitUntilReady()
        return try body(daemon)
    }
}

struct DaemonError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Numbers the daemons a test run starts, so that each gets its own log file.
private final class LaunchCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func next() -> Int {
        lock.withLock {
            count += 1
            return count
        }
    }
}
