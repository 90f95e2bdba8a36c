import Foundation
import Glibc

/// A process started with `posix_spawn`: stdin from /dev/null, stdout and stderr to files,
/// optionally one inherited descriptor placed at fd 3 (the socket-activation slot). Every
/// other descriptor of the test process is closed in the child, so parallel tests never
/// leak sockets into each other's daemons.
final class ChildProcess {
    let pid: pid_t
    let standardOutputPath: String
    let standardErrorPath: String
    private(set) var exitStatus: ExitStatus?

    /// Starts `executable`.
    /// - Parameters:
    ///   - executable: an absolute path.
    ///   - arguments: the arguments after `argv[0]`.
    ///   - environment: the child's whole environment.
    ///   - standardOutputPath: a file that receives stdout (truncated first).
    ///   - standardErrorPath: a file that receives stderr (truncated first).
    ///   - descriptorForFD3: a descriptor the child receives as fd 3.
    /// - Throws: ``SystemCallError`` when the process cannot be started.
    init(
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
    func send(signal: Int32) {
        guard exitStatus == nil else { return }
        Glibc.kill(pid, signal)
    }

    /// Reaps the process if it has ended, without blocking.
    @discardableResult
    func poll() -> ExitStatus? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { exitStatus = ExitStatus(waitStatus: status) }
        return exitStatus
    }

    /// Waits up to `timeout` seconds for the process to end.
    /// - Returns: how it ended, or `nil` if it is still running.
    func waitForExit(timeout: Double) -> ExitStatus? {
        _ = waitUntil(timeout: timeout, interval: 0.005) { poll() != nil }
        return exitStatus
    }

    /// Kills the process (SIGKILL) if it still runs and reaps it.
    func kill() {
        guard poll() == nil else { return }
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        if waitpid(pid, &status, 0) == pid { exitStatus = ExitStatus(waitStatus: status) }
    }

    var standardOutput: String { (try? String(contentsOfFile: standardOutputPath, encoding: .utf8)) ?? "" }
    var standardError: String { (try? String(contentsOfFile: standardErrorPath, encoding: .utf8)) ?? "" }
}

/// What a finished command printed and how it ended.
struct CommandResult {
    var status: ExitStatus?
    var standardOutput: String
    var standardError: String
}

/// Runs a command to completion (killing it after `timeout` seconds) in `directory`.
func runCommand(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String] = ProcessInfo.processInfo.environment,
    in directory: TemporaryDirectory,
    timeout: Double = 30
) throws -> CommandResult {
    let name = UUID().uuidString.prefix(8)
    let child = try ChildProcess(
        executable: executable,
        arguments: arguments,
        environment: environment,
        standardOutputPath: directory.file("\(name).out"),
        standardErrorPath: directory.file("\(name).err")
    )
    defer { child.kill() }
    let status = child.waitForExit(timeout: timeout)
    return CommandResult(status: status, standardOutput: child.standardOutput, standardError: child.standardError)
}
