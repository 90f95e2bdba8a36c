import Foundation
import Glibc
import SidecarProtocol

/// A real `sidecard` process on a real Unix socket, in a temporary directory of the test.
///
/// Prefer ``withDaemon(_:environment:_:)``, which always kills the
/// process and removes the directory. A daemon can also be socket-activated: given a listening
/// descriptor it is started with it on fd 3 and `LISTEN_FDS=1`, `LISTEN_PID=<its own pid>`, as
/// systemd does.
///
/// ```swift
/// try withDaemon(["--max-connections", "2"]) { daemon in
///     let connection = try daemon.connect()
///     #expect(try connection.call("sidecar.ping")["result"] == "pong")
/// }
/// ```
public final class DaemonProcess {
    /// The test's temporary directory; the daemon's logs are there too.
    public let directory: TemporaryDirectory
    /// The path clients connect to.
    public let socketPath: String
    /// The current process: a new one after each ``restart()``.
    public private(set) var process: ChildProcess

    /// The pid of the current process.
    public var pid: pid_t { process.pid }
    /// What the current process has logged so far.
    public var standardError: String { process.standardError }

    /// What ``restart()`` starts again.
    private let executable: String
    private let arguments: [String]
    private let environment: [String: String]
    private let activationSocket: CInt?

    private static let launchCount = LaunchCounter()

    /// Starts `sidecard`; it is not ready until ``waitUntilReady(timeout:)`` returns.
    /// - Parameters:
    ///   - directory: the test's temporary directory (logs go there too).
    ///   - socketPath: passed as `--socket`; default `<directory>/s.sock`.
    ///   - arguments: further flags.
    ///   - environment: variables added to (or replacing) the test process's environment.
    ///   - activationSocket: a listening socket to pass as fd 3 with `LISTEN_FDS=1`.
    /// - Throws: ``SystemCallError`` when the process cannot be started.
    public init(
        in directory: TemporaryDirectory,
        socketPath: String? = nil,
        arguments: [String] = [],
        environment: [String: String] = [:],
        activationSocket: CInt? = nil
    ) throws {
        self.directory = directory
        let socketPath = socketPath ?? directory.file("s.sock")
        self.socketPath = socketPath
        let daemonArguments = ["--socket", socketPath] + arguments
        if activationSocket != nil {
            // LISTEN_PID must be the daemon's own pid: the shell learns its pid ($$) and
            // exec keeps it.
            executable = "/bin/sh"
            self.arguments = ["-c", #"export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" "$@""#, PackageLocation.daemonExecutable]
                + daemonArguments
        } else {
            executable = PackageLocation.daemonExecutable
            self.arguments = daemonArguments
        }
        self.environment = Self.environment(directory: directory, adding: environment)
        self.activationSocket = activationSocket
        process = try Self.spawn(executable, self.arguments, environment: self.environment, in: directory,
                                 activationSocket: activationSocket)
    }

    private static func spawn(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String],
        in directory: TemporaryDirectory,
        activationSocket: CInt?
    ) throws -> ChildProcess {
        let number = launchCount.next()
        return try ChildProcess(
            executable: executable,
            arguments: arguments,
            environment: environment,
            standardOutputPath: directory.file("sidecard-\(number).out"),
            standardErrorPath: directory.file("sidecard-\(number).log"),
            descriptorForFD3: activationSocket
        )
    }

    /// Starts the daemon again on the same socket path, with the same arguments and environment
    /// (and the same activation socket, which must still be open), once the previous process has
    /// ended: after ``stop(signal:timeout:)`` or ``kill()``, or to recover from a crash.
    /// Like ``init(in:socketPath:arguments:environment:activationSocket:)`` it does not wait
    /// for the daemon to be ready. The new process logs to a new file.
    /// - Throws: ``DaemonError`` if the previous process still runs; ``SystemCallError`` when
    ///   the new one cannot be started.
    public func restart() throws {
        guard process.poll() != nil else {
            throw DaemonError("cannot restart sidecard (pid \(pid)): it is still running")
        }
        process = try Self.spawn(executable, arguments, environment: environment, in: directory,
                                 activationSocket: activationSocket)
    }

    /// The test process's environment without anything that would change how a daemon
    /// starts (systemd variables, a configured socket, the user's config file and state
    /// database, which live in the daemon's own directory instead), plus `adding`.
    public static func environment(directory: TemporaryDirectory, adding: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for name in ["NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID",
                     "JOURNAL_STREAM", SocketPath.environmentVariable] {
            environment[name] = nil
        }
        environment["XDG_CONFIG_HOME"] = directory.file("config-home")
        environment["XDG_STATE_HOME"] = directory.file("state-home")
        environment.merge(adding) { _, new in new }
        return environment
    }

    // MARK: - Readiness

    /// Waits until the daemon says it listens and its socket accepts connections, failing early if the
    /// process exits.
    /// - Throws: ``DaemonError``, with the daemon's log, if it exits or does not listen in time.
    public func waitUntilReady(timeout: Double = 15) throws {
        let deadline = Deadline(seconds: timeout)
        while try !isReady(deadline: deadline, timeout: timeout) {
            pause(seconds: 0.01)
        }
    }

    /// Waits until the daemon says it listens and its socket accepts connections, suspending rather than
    /// blocking between attempts; fails early if the process exits.
    /// - Throws: ``DaemonError``, with the daemon's log, if it exits or does not listen in time;
    ///   `CancellationError` if the task is cancelled.
    public func waitUntilReady(timeout: Double = 15) async throws {
        let deadline = Deadline(seconds: timeout)
        while try !isReady(deadline: deadline, timeout: timeout) {
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// One readiness probe: `true` once the daemon has said it listens (its "listening on"
    /// line comes after the socket's mode is set, which a bare `connect` can beat) and a
    /// connection succeeds.
    private func isReady(deadline: Deadline, timeout: Double) throws -> Bool {
        if standardError.contains("listening on"), let descriptor = try? UnixSocket.connect(to: socketPath) {
            close(descriptor)
            return true
        }
        if let status = process.poll() {
            throw DaemonError("sidecard \(status) before listening; stderr:\n\(standardError)")
        }
        if deadline.hasPassed {
            throw DaemonError("sidecard did not listen on \(socketPath) within \(timeout) s; stderr:\n\(standardError)")
        }
        return false
    }

    // MARK: - Connections

    /// A new raw connection to the daemon.
    /// - Throws: ``SystemCallError`` when the connection is refused.
    public func connect() throws -> RawConnection {
        try RawConnection(path: socketPath)
    }

    /// A connection the daemon has admitted: retried while the daemon answers `-32002`
    /// (a just-closed connection, such as the readiness probe, may still count for a moment).
    /// - Throws: ``DaemonError`` when the daemon answers anything else, or still refuses at the timeout.
    public func connectAdmitted(timeout: Double = 5) throws -> RawConnection {
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

    // MARK: - Stopping

    /// Sends `signal` (by default SIGTERM, a graceful shutdown) to the current process.
    public func terminate(_ signal: Int32 = SIGTERM) {
        process.send(signal: signal)
    }

    /// Waits up to `timeout` seconds for the current process to end.
    /// - Returns: how it ended, or `nil` if it is still running.
    public func waitForExit(timeout: Double) -> ExitStatus? {
        process.waitForExit(timeout: timeout)
    }

    /// Waits up to `timeout` seconds for the current process to end, suspending rather than blocking.
    /// - Returns: how it ended, or `nil` if it is still running.
    public func waitForExit(timeout: Double) async -> ExitStatus? {
        await process.waitForExit(timeout: timeout)
    }

    /// Sends `signal` (SIGTERM: graceful; SIGKILL: a crash) and waits for the process to end.
    /// Does nothing but report the status if it has already ended.
    /// - Returns: how it ended.
    /// - Throws: ``DaemonError`` if it still runs after `timeout` seconds (it is then killed).
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeout: Double = 15) throws -> ExitStatus {
        terminate(signal)
        return try stopped(waitForExit(timeout: timeout), signal: signal, timeout: timeout)
    }

    /// Sends `signal` (SIGTERM: graceful; SIGKILL: a crash) and waits, suspending, for the
    /// process to end. Does nothing but report the status if it has already ended.
    /// - Returns: how it ended.
    /// - Throws: ``DaemonError`` if it still runs after `timeout` seconds (it is then killed).
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeout: Double = 15) async throws -> ExitStatus {
        terminate(signal)
        return try await stopped(waitForExit(timeout: timeout), signal: signal, timeout: timeout)
    }

    private func stopped(_ status: ExitStatus?, signal: Int32, timeout: Double) throws -> ExitStatus {
        if let status { return status }
        kill()
        throw DaemonError("sidecard did not exit within \(timeout) s of signal \(signal); stderr:\n\(standardError)")
    }

    /// Kills the daemon (SIGKILL) if it still runs, and reaps it.
    public func kill() {
        process.kill()
    }
}

/// Runs `body` with a ready daemon started with `arguments` in a fresh temporary directory;
/// afterwards the daemon is killed and the directory removed, whatever happened.
/// - Parameters:
///   - arguments: flags after `--socket <directory>/s.sock`.
///   - environment: variables added to the daemon's environment.
///   - body: the test.
/// - Throws: what starting the daemon or `body` throws.
public func withDaemon<T>(
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

/// Runs the asynchronous `body` with a ready daemon started with `arguments` in a fresh
/// temporary directory; afterwards the daemon is killed and the directory removed, whatever
/// happened. Waiting for the daemon suspends rather than blocks.
///
/// ```swift
/// try await withDaemon(["--threads", "1"]) { daemon in
///     let client = try await SidecarClient.connect(to: daemon.socketPath)
///     …
/// }
/// ```
/// - Parameters:
///   - arguments: flags after `--socket <directory>/s.sock`.
///   - environment: variables added to the daemon's environment.
///   - body: the test.
/// - Throws: what starting the daemon or `body` throws.
public func withDaemon<T>(
    _ arguments: [String] = [],
    environment: [String: String] = [:],
    _ body: (DaemonProcess) async throws -> T
) async throws -> T {
    try await withTemporaryDirectory { directory in
        let daemon = try DaemonProcess(in: directory, arguments: arguments, environment: environment)
        defer { daemon.kill() }
        try await daemon.waitUntilReady()
        return try await body(daemon)
    }
}

/// A daemon that did not start, listen, or stop as expected; the message includes its log.
public struct DaemonError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String

    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
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
