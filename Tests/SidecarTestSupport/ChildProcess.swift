import Foundation
import Glibc

/// A process started with `posix_spawn`: stdin from /dev/null, stdout and stderr to files,
/// optionally one inherited descriptor placed at fd 3 (the socket-activation slot). Every
/// other descriptor of the test process is closed in the child, so parallel tests never
/// leak sockets into each other's daemons.
///
/// ```swift
/// let child = try ChildProcess(executable: "/bin/true", arguments: [], environment: [:],
///                              standardOutputPath: directory.file("out"), standardErrorPath: directory.file("err"))
/// defer { child.kill() }
/// #expect(child.waitForExit(timeout: 5) == .exited(0))
/// ```
public final class ChildProcess {
    /// The process id.
    public let pid: pid_t
    /// The file that receives the process's stdout.
    public let standardOutputPath: String
    /// The file that receives the process's stderr.
    public let standardErrorPath: String
    /// How the process ended, once it has been reaped (by ``poll()``, ``waitForExit(timeout:)``
    /// or ``kill()``).
    public private(set) var exitStatus: ExitStatus?

    /// Starts `executable`.
    /// - Parameters:
    ///   - executable: an absolute path.
    ///   - arguments: the arguments after `argv[0]`.
    ///   - environment: the child's whole environment.
    ///   - standardOutputPath: a file that receives stdout (truncated first).
    ///   - standardErrorPath: a file that receives stderr (truncated first).
    ///   - descriptorForFD3: a descriptor the child receives as fd 3.
    /// - Throws: ``SystemCallError`` when the process cannot be started.
    public init(
        executable: String,
        arguments: [String],
        environment: [String: String],
        standardOutputPath: String,
        standardErrorPath: String,
        descriptorForFD3: CInt? = nil
    ) throws {
        self.standardOutputPath = standardOutputPath
        self.standardErrorPath = standardErrorPath

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, standardOutputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, standardErrorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var duplicate: CInt = -1
        if let descriptorForFD3 {
            // dup2 onto 3 clears close-on-exec, unless source and target are the same number:
            // so take a copy numbered above 3 first.
            duplicate = fcntl(descriptorForFD3, F_DUPFD_CLOEXEC, 10)
            guard duplicate >= 0 else { throw SystemCallError("fcntl(F_DUPFD_CLOEXEC)") }
            posix_spawn_file_actions_adddup2(&actions, duplicate, 3)
        }
        defer { if duplicate >= 0 { close(duplicate) } }
        if let closeFrom = Self.addCloseFrom {
            _ = closeFrom(&actions, descriptorForFD3 == nil ? 3 : 4)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        // Dispositions the test process may have changed (an ignored SIGPIPE survives exec).
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaultSignals, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw SystemCallError("posix_spawn \(executable)", code: result) }
        self.pid = pid
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which the Swift Glibc
    /// module does not import; looked up at run time. Without it, only the test's own
    /// descriptors (all close-on-exec) are kept from the child.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, CInt) -> CInt
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// Sends `signal` to the process, unless it has already been reaped.
    public func send(signal: Int32) {
        guard exitStatus == nil else { return }
        Glibc.kill(pid, signal)
    }

    /// Reaps the process if it has ended, without blocking.
    /// - Returns: how it ended, or `nil` if it is still running.
    @discardableResult
    public func poll() -> ExitStatus? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { exitStatus = ExitStatus(waitStatus: status) }
        return exitStatus
    }

    /// Waits up to `timeout` seconds for the process to end.
    /// - Returns: how it ended, or `nil` if it is still running.
    public func waitForExit(timeout: Double) -> ExitStatus? {
        _ = waitUntil(timeout: timeout, interval: 0.005) { poll() != nil }
        return exitStatus
    }

    /// Waits up to `timeout` seconds for the process to end, suspending (not blocking) between checks.
    /// - Returns: how it ended, or `nil` if it is still running.
    public func waitForExit(timeout: Double) async -> ExitStatus? {
        let deadline = Deadline(seconds: timeout)
        while poll() == nil, !deadline.hasPassed {
            do { try await Task.sleep(for: .milliseconds(5)) } catch { break }  // cancelled
        }
        return exitStatus
    }

    /// Kills the process (SIGKILL) if it still runs and reaps it.
    public func kill() {
        guard poll() == nil else { return }
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        if waitpid(pid, &status, 0) == pid { exitStatus = ExitStatus(waitStatus: status) }
    }

    /// What the process has written to stdout so far (empty if unreadable).
    public var standardOutput: String { (try? String(contentsOfFile: standardOutputPath, encoding: .utf8)) ?? "" }
    /// What the process has written to stderr so far (empty if unreadable).
    public var standardError: String { (try? String(contentsOfFile: standardErrorPath, encoding: .utf8)) ?? "" }
}

/// What a finished command printed and how it ended.
public struct CommandResult: Sendable {
    /// How it ended; `nil` if it was still running at the timeout (it was then killed).
    public var status: ExitStatus?
    /// Everything it wrote to stdout.
    public var standardOutput: String
    /// Everything it wrote to stderr.
    public var standardError: String
}

/// Runs a command to completion (killing it after `timeout` seconds), its output captured in
/// files in `directory`.
/// - Parameters:
///   - executable: an absolute path.
///   - arguments: the arguments after `argv[0]`.
///   - environment: the command's whole environment; by default the test process's.
///   - directory: where its output files go.
///   - timeout: seconds to wait before killing it.
/// - Throws: ``SystemCallError`` when it cannot be started.
public func runCommand(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String] = ProcessInfo.processInfo.environment,
    in directory: TemporaryDirectory,
    timeout: Double = 30
) throws -> CommandResult {
    let child = try startCommand(executable, arguments, environment: environment, in: directory)
    defer { child.kill() }
    let status = child.waitForExit(timeout: timeout)
    return CommandResult(status: status, standardOutput: child.standardOutput, standardError: child.standardError)
}

/// Runs a command to completion (killing it after `timeout` seconds), suspending rather than
/// blocking while it runs; its output is captured in files in `directory`.
/// - Parameters:
///   - executable: an absolute path.
///   - arguments: the arguments after `argv[0]`.
///   - environment: the command's whole environment; by default the test process's.
///   - directory: where its output files go.
///   - timeout: seconds to wait before killing it.
/// - Throws: ``SystemCallError`` when it cannot be started.
public func runCommand(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String] = ProcessInfo.processInfo.environment,
    in directory: TemporaryDirectory,
    timeout: Double = 30
) async throws -> CommandResult {
    let child = try startCommand(executable, arguments, environment: environment, in: directory)
    defer { child.kill() }
    let status = await child.waitForExit(timeout: timeout)
    return CommandResult(status: status, standardOutput: child.standardOutput, standardError: child.standardError)
}

private func startCommand(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String],
    in directory: TemporaryDirectory
) throws -> ChildProcess {
    let name = UUID().uuidString.prefix(8)
    return try ChildProcess(
        executable: executable,
        arguments: arguments,
        environment: environment,
        standardOutputPath: directory.file("\(name).out"),
        standardErrorPath: directory.file("\(name).err")
    )
}
