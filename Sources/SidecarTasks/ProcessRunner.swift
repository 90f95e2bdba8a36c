#if canImport(Glibc)
import Glibc
#endif
import SidecarStore

/// Runs an `exec` payload as a child process and collects what it prints: the I/O behind the
/// `exec` task kind, with no scheduling in it.
///
/// Each run has a thread of its own, which spawns the process, feeds its stdin, reads its
/// stdout and stderr with `poll(2)`, enforces the timeout and reaps it: the caller only
/// suspends, so no event loop or cooperative-pool thread ever blocks on a child.
///
/// The process:
/// - is started with `posix_spawn` in a new process group of its own (so everything it starts
///   can be signalled at once), with default signal dispositions and an empty signal mask;
/// - inherits only fds 0–2: stdin (a pipe carrying ``ExecPayload/stdin``, or `/dev/null`),
///   and stdout and stderr (pipes); every other descriptor is closed in the child;
/// - gets the daemon's environment with ``ExecPayload/env`` laid over it;
/// - is looked up like `execvp(3)` does, but in the `PATH` it will itself see.
///
/// Stopping it (timeout or cancellation) sends SIGTERM to its whole group, then SIGKILL to the
/// group once `killGrace` has passed. When the process exits on its own while members of its
/// group still hold its stdout or stderr open, they are stopped the same way, since the run
/// cannot end while its output is still open; members that hold nothing are stopped the same
/// way after the result is reported. A task's processes therefore never outlive it, except
/// those that leave the group themselves (`setsid`).
///
/// Each output stream keeps its first `outputLimit` bytes; the rest is read and counted but
/// discarded, so a run's memory is bounded whatever the process writes.
///
/// ```swift
/// let cancellation = ProcessCancellation()   // kept so that tasks.cancel can stop the run
/// let output = try await ProcessRunner.run(
///     ExecPayload(argv: ["sh", "-c", "echo hi"]),
///     timeout: .seconds(30), killGrace: .seconds(5), cancellation: cancellation)
/// output.succeeded        // true
/// output.stdout.text      // "hi\n"
/// ```
public enum ProcessRunner {
    /// How many bytes of each output stream a run keeps by default (1 MiB).
    public static let defaultOutputLimit = 1 << 20

    /// How long a process has between SIGTERM and SIGKILL by default (`--kill-grace`).
    public static let defaultKillGrace: Duration = .seconds(5)

    /// Runs `payload` to its end.
    ///
    /// Cancelling the calling task stops the process exactly as `cancellation.cancel()` does.
    /// - Parameters:
    ///   - payload: what to run.
    ///   - timeout: how long the process may run before it is stopped (from its start).
    ///   - killGrace: how long a stopped process has between SIGTERM and SIGKILL.
    ///   - outputLimit: how many bytes of stdout and of stderr to keep (each).
    ///   - cancellation: a handle whose `cancel()` stops the run; use a fresh one per run.
    /// - Returns: how the process ended and what it printed. A process that fails, times out
    ///   or is cancelled is not an error: see ``ProcessOutput/succeeded`` and
    ///   ``ProcessOutput/reason``. A run cancelled before its process started returns
    ///   `.cancelled` with neither exit code nor signal.
    /// - Throws: ``SpawnError`` when the process could not be started (no such program, not
    ///   executable, no such working directory, out of descriptors).
    public static func run(
        _ payload: ExecPayload,
        timeout: Duration,
        killGrace: Duration = defaultKillGrace,
        outputLimit: Int = defaultOutputLimit,
        cancellation: ProcessCancellation = ProcessCancellation()
    ) async throws(SpawnError) -> ProcessOutput {
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<ProcessOutput, SpawnError>, Never>) in
                let limits = Supervision.Limits(timeout: timeout, killGrace: killGrace, outputLimit: max(0, outputLimit))
                let started = startThread {
                    Supervision.run(payload, limits: limits, cancellation: cancellation) { continuation.resume(returning: $0) }
                }
                if let code = started {
                    continuation.resume(returning: .failure(SpawnError(program: payload.argv.first ?? "", code: code, call: "pthread_create")))
                }
            }
        } onCancel: {
            cancellation.cancel()
        }
        return try result.get()
    }

    /// A process that could not be started.
    ///
    /// ```swift
    /// error.message  // "cannot run 'frobnicate': No such file or directory"
    /// ```
    public struct SpawnError: Error, Hashable, Sendable, CustomStringConvertible {
        /// `argv[0]` as given.
        public var program: String
        /// The `errno` value behind the failure.
        public var code: Int32
        /// "cannot run 'PROGRAM': REASON".
        public var message: String

        init(program: String, code: Int32, call: String? = nil) {
            self.program = program
            self.code = code
            let reason = String(cString: strerror(code))
            self.message = "cannot run '\(program)': " + (call.map { "\($0): \(reason)" } ?? reason)
        }

        init(program: String, code: Int32, detail: String) {
            self.program = program
            self.code = code
            self.message = "cannot run '\(program)': \(detail)"
        }

        public var description: String { message }
    }

    // MARK: - Thread

    private final class ThreadBody {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Runs `body` on a new detached thread.
    /// - Returns: `nil` when the thread started, else `pthread_create`'s error.
    private static func startThread(_ body: @escaping @Sendable () -> Void) -> Int32? {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        // The loop needs little stack; 256 KiB keeps many concurrent runs cheap.
        pthread_attr_setstacksize(&attributes, 256 * 1024)
        let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, &attributes, { context in
            guard let context else { return nil }
            Unmanaged<ThreadBody>.fromOpaque(context).takeRetainedValue().body()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(context).release()
            return result
        }
        return nil
    }
}

// MARK: - Cancellation

/// Stops a running ``ProcessRunner`` run from anywhere: a scheduler keeps one per running
/// `exec` task and calls ``cancel()`` for `tasks.cancel` or at shutdown.
///
/// Cancelling before the run starts its process makes the run return `.cancelled` without
/// starting it; cancelling after the run has ended does nothing.
///
/// ```swift
/// let cancellation = ProcessCancellation()
/// async let output = ProcessRunner.run(payload, timeout: .seconds(60), cancellation: cancellation)
/// cancellation.cancel()
/// try await output.reason  // .cancelled
/// ```
public final class ProcessCancellation: Sendable {
    private struct State {
        var isCancelled = false
        /// The write end of the running run's wake-up pipe.
        var wakeDescriptor: Int32?
    }

    private let state = Locked(State())

    public init() {}

    /// Asks the run to stop its process (SIGTERM to the group, SIGKILL after the grace).
    /// Safe from any thread, any number of times.
    public func cancel() {
        state.withLock { state in
            guard !state.isCancelled else { return }
            state.isCancelled = true
            if let descriptor = state.wakeDescriptor {
                // Non-blocking, and only ever one byte: this never waits while holding the lock.
                var byte: UInt8 = 1
                _ = write(descriptor, &byte, 1)
            }
        }
    }

    /// Whether ``cancel()`` has been called.
    public var isCancelled: Bool { state.withLock { $0.isCancelled } }

    /// Makes ``cancel()`` write to `descriptor`.
    /// - Returns: whether the handle was already cancelled.
    fileprivate func attach(wakeDescriptor descriptor: Int32) -> Bool {
        state.withLock { state in
            state.wakeDescriptor = descriptor
            return state.isCancelled
        }
    }

    /// Stops ``cancel()`` writing anywhere, so that the descriptor can be closed.
    fileprivate func detach() {
        state.withLock { $0.wakeDescriptor = nil }
    }
}

// MARK: - Supervision

/// One run, from spawn to reaping, on its own thread. Everything here blocks.
private struct Supervision {
    struct Limits {
        var timeout: Duration
        var killGrace: Duration
        var outputLimit: Int
    }

    /// How often a live process is checked for exit while nothing else happens; exit usually
    /// shows first as end-of-file on its pipes, and is then checked for much sooner.
    static let exitCheckInterval: Duration = .milliseconds(50)
    /// How long to keep reading after the group got SIGKILL: enough for the kernel to close
    /// the dead processes' pipes; a writer still there has left the group and is not waited for.
    static let drainAfterKill: Duration = .milliseconds(200)
    static let readChunk = 64 * 1024

    let pid: pid_t
    let limits: Limits
    let startedAt: ContinuousClock.Instant

    var stdinDescriptor: Int32?
    var stdoutDescriptor: Int32?
    var stderrDescriptor: Int32?
    /// The read end of the cancellation pipe while it is watched (owned by `run`).
    var wakeDescriptor: Int32?
    var stdinBytes: [UInt8]
    var stdinOffset = 0

    var stdout: Capture
    var stderr: Capture

    var reason: ProcessOutput.Reason = .exited
    /// Set when SIGTERM has gone to the group: when SIGKILL follows.
    var killAt: ContinuousClock.Instant?
    /// Set when SIGKILL has gone to the group.
    var killedAt: ContinuousClock.Instant?
    /// Set once the process (the group leader) has exited; it stays unreaped until the end so
    /// that its pid, the group's id, cannot be reused while the group is signalled.
    var exitedAt: ContinuousClock.Instant?
    /// Checks for exit in a row that found it alive after its pipes closed.
    var checksAfterEOF = 0

    /// Runs `payload` and calls `report` exactly once, then returns when the process's group
    /// has been dealt with.
    static func run(
        _ payload: ExecPayload,
        limits: Limits,
        cancellation: ProcessCancellation,
        report: (Result<ProcessOutput, ProcessRunner.SpawnError>) -> Void
    ) {
        // A write to a pipe whose reader has gone raises SIGPIPE in the writing thread; blocked
        // here, it stays pending on this thread (and dies with it) and the write fails with EPIPE.
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)

        let program = payload.argv.first ?? ""
        let wake: (read: Int32, write: Int32)
        do {
            wake = try makePipe(nonBlockingRead: true, nonBlockingWrite: true)
        } catch {
            report(.failure(ProcessRunner.SpawnError(program: program, code: error.code, call: "pipe")))
            return
        }
        // Detached before the read end closes: a cancel() writing into a pipe without a reader
        // would raise SIGPIPE in the canceller's thread.
        var wakeAttached = true
        func releaseWake() {
            guard wakeAttached else { return }
            wakeAttached = false
            cancellation.detach()
            close(wake.write)
            close(wake.read)
        }
        if cancellation.attach(wakeDescriptor: wake.write) {
            releaseWake()
            report(.success(ProcessOutput(reason: .cancelled, exitCode: nil, signal: nil)))
            return
        }

        let spawned: Spawned
        do {
            spawned = try Spawner.spawn(payload)
        } catch {
            releaseWake()
            report(.failure(error))
            return
        }

        var supervision = Supervision(spawned: spawned, wakeDescriptor: wake.read, stdin: payload.stdin, limits: limits)
        supervision.superviseUntilExit()
        supervision.wakeDescriptor = nil  // closed by releaseWake
        releaseWake()
        let output = supervision.finish()
        let leftovers = supervision.signalLeftovers()
        report(.success(output))
        if leftovers { supervision.killLeftoversAfterGrace() }
    }

    private init(spawned: Spawned, wakeDescriptor: Int32, stdin: String?, limits: Limits) {
        pid = spawned.pid
        self.limits = limits
        startedAt = ContinuousClock.now
        stdinDescriptor = spawned.stdin
        stdoutDescriptor = spawned.stdout
        stderrDescriptor = spawned.stderr
        self.wakeDescriptor = wakeDescriptor
        stdinBytes = stdin.map { Array($0.utf8) } ?? []
        stdout = Capture(limit: limits.outputLimit)
        stderr = Capture(limit: limits.outputLimit)
    }

    // MARK: Loop

    /// Feeds stdin, reads the outputs and applies the timeout until the process has exited
    /// and its outputs are closed (or given up on after SIGKILL).
    private mutating func superviseUntilExit() {
        var pollDescriptors: [pollfd] = []
        var buffer = [UInt8](repeating: 0, count: Self.readChunk)
        let timeoutAt = startedAt + limits.timeout

        while true {
            let now = ContinuousClock.now
            if exitedAt == nil, Self.hasExited(pid) {
                exitedAt = now
                closeDescriptor(&stdinDescriptor)
                // Others in the group hold the output open: the run cannot end until they go.
                if stdoutDescriptor != nil || stderrDescriptor != nil { stop(now: now) }
            }
            if exitedAt == nil, killAt == nil, now >= timeoutAt {
                reason = .timedOut
                stop(now: now)
            }
            if let killAt, killedAt == nil, now >= killAt {
                kill(-pid, SIGKILL)
                // The leader too, should it have moved to another group (it is unreaped, so
                // its pid is still its own).
                if exitedAt == nil { kill(pid, SIGKILL) }
                killedAt = now
            }
            if exitedAt != nil {
                if stdoutDescriptor == nil, stderrDescriptor == nil { return }
                if let killedAt, now >= killedAt + Self.drainAfterKill { return }
            }

            // Sleep until something happens or the next deadline.
            var wait = Self.exitCheckInterval
            if exitedAt == nil, stdoutDescriptor == nil, stderrDescriptor == nil {
                // The outputs closed, so the process is most likely exiting right now.
                wait = min(wait, .microseconds(500) * (1 << min(checksAfterEOF, 7)))
                checksAfterEOF += 1
            }
            if exitedAt == nil, killAt == nil { wait = min(wait, timeoutAt - now) }
            if let killAt, killedAt == nil { wait = min(wait, killAt - now) }
            if let killedAt, exitedAt != nil { wait = min(wait, killedAt + Self.drainAfterKill - now) }

            pollDescriptors.removeAll(keepingCapacity: true)
            if let wakeDescriptor { pollDescriptors.append(pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)) }
            if let stdinDescriptor { pollDescriptors.append(pollfd(fd: stdinDescriptor, events: Int16(POLLOUT), revents: 0)) }
            if let stdoutDescriptor { pollDescriptors.append(pollfd(fd: stdoutDescriptor, events: Int16(POLLIN), revents: 0)) }
            if let stderrDescriptor { pollDescriptors.append(pollfd(fd: stderrDescriptor, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&pollDescriptors, nfds_t(pollDescriptors.count), Self.milliseconds(roundingUp: wait))
            guard ready > 0 else { continue }  // timed out, or EINTR

            for descriptor in pollDescriptors where descriptor.revents != 0 {
                switch descriptor.fd {
                case wakeDescriptor:
                    // Cancellation is final: stop watching (the pipe is closed with the run).
                    wakeDescriptor = nil
                    if exitedAt == nil, killAt == nil {
                        reason = .cancelled
                        stop(now: ContinuousClock.now)
                    }
                case stdinDescriptor:
                    writeStdin()
                case stdoutDescriptor:
                    if !Self.read(descriptor.fd, into: &stdout, buffer: &buffer) { closeDescriptor(&stdoutDescriptor) }
                case stderrDescriptor:
                    if !Self.read(descriptor.fd, into: &stderr, buffer: &buffer) { closeDescriptor(&stderrDescriptor) }
                default:
                    break
                }
            }
        }
    }

    /// Sends SIGTERM to the group and sets when SIGKILL follows (once).
    private mutating func stop(now: ContinuousClock.Instant) {
        guard killAt == nil else { return }
        kill(-pid, SIGTERM)
        killAt = now + limits.killGrace
    }

    private mutating func writeStdin() {
        guard let descriptor = stdinDescriptor else { return }
        if stdinOffset < stdinBytes.count {
            let count = min(stdinBytes.count - stdinOffset, Self.readChunk)
            let written = stdinBytes.withUnsafeBytes { bytes in
                write(descriptor, bytes.baseAddress.map { $0 + stdinOffset }, count)
            }
            if written > 0 {
                stdinOffset += written
            } else if written < 0, errno != EAGAIN, errno != EINTR {
                // EPIPE: the process closed its stdin without reading it all; that is its choice.
                stdinOffset = stdinBytes.count
            }
        }
        if stdinOffset >= stdinBytes.count {
            closeDescriptor(&stdinDescriptor)
            stdinBytes = []
        }
    }

    /// Reads one chunk from `descriptor`.
    /// - Returns: `false` at end of file or on an error, when the descriptor is done with.
    private static func read(_ descriptor: Int32, into capture: inout Capture, buffer: inout [UInt8]) -> Bool {
        let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        if count > 0 {
            capture.append(buffer[..<count])
            return true
        }
        return count < 0 && (errno == EAGAIN || errno == EINTR)
    }

    // MARK: End

    /// Closes what is still open and reaps the process.
    private mutating func finish() -> ProcessOutput {
        closeDescriptor(&stdinDescriptor)
        closeDescriptor(&stdoutDescriptor)
        closeDescriptor(&stderrDescriptor)

        var exitCode: Int32?
        var signal: Int32?
        var status: Int32 = 0
        var reaped: pid_t
        repeat { reaped = waitpid(pid, &status, 0) } while reaped < 0 && errno == EINTR
        // Not reaped (ECHILD) only if the daemon ignores SIGCHLD, so the kernel reaps for it;
        // the status is then unknown.
        if reaped == pid {
            // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift cannot import.
            let terminatingSignal = status & 0x7f
            if terminatingSignal == 0 { exitCode = (status >> 8) & 0xff } else { signal = terminatingSignal }
        }
        return ProcessOutput(
            reason: reason,
            exitCode: exitCode,
            signal: signal,
            stdout: stdout.stream,
            stderr: stderr.stream,
            duration: startedAt.duration(to: ContinuousClock.now)
        )
    }

    /// Sends SIGTERM to what is left of the group, if anything (and SIGKILL was not sent yet).
    /// - Returns: whether SIGKILL should follow after the grace.
    private mutating func signalLeftovers() -> Bool {
        // The leader is reaped: a group id stays allocated while any member lives, so a
        // successful kill(0) here means members remain (or, after a full pid wrap-around in
        // these few microseconds, never in practice, an unrelated group).
        guard killedAt == nil, kill(-pid, 0) == 0 else { return false }
        stop(now: ContinuousClock.now)
        return true
    }

    /// Waits out the grace, then SIGKILLs the group if anything is left of it.
    private func killLeftoversAfterGrace() {
        guard let killAt else { return }
        while true {
            if kill(-pid, 0) != 0 { return }
            let now = ContinuousClock.now
            if now >= killAt { break }
            _ = poll(nil, 0, Self.milliseconds(roundingUp: min(Self.exitCheckInterval, killAt - now)))
        }
        kill(-pid, SIGKILL)
    }

    // MARK: Helpers

    private func closeDescriptor(_ descriptor: inout Int32?) {
        if let open = descriptor { close(open) }
        descriptor = nil
    }

    /// Whether the process has exited, without reaping it.
    private static func hasExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        let result = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
        if result < 0 { return errno == ECHILD }  // reaped by the kernel: SIGCHLD is ignored
        return info._sifields._sigchld.si_pid == pid
    }

    /// `duration` in whole milliseconds, rounded up so that a wait never ends early, for `poll(2)`.
    static func milliseconds(roundingUp duration: Duration) -> Int32 {
        guard duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }
}

// MARK: - Capture

/// One output stream: the first `limit` bytes kept, all of them counted.
private struct Capture {
    let limit: Int
    var bytes: [UInt8] = []
    var total = 0

    init(limit: Int) { self.limit = limit }

    mutating func append(_ chunk: ArraySlice<UInt8>) {
        total += chunk.count
        let room = limit - bytes.count
        if room > 0 { bytes.append(contentsOf: chunk.prefix(room)) }
    }

    var stream: ProcessOutput.Stream { ProcessOutput.Stream(bytes: bytes, totalByteCount: total) }
}

// MARK: - Spawning

/// The started process and the parent's ends of its pipes (non-blocking, close-on-exec).
private struct Spawned {
    var pid: pid_t
    var stdin: Int32?
    var stdout: Int32
    var stderr: Int32
}

private struct SystemCallError: Error {
    var code: Int32
}

/// Creates a pipe whose ends are close-on-exec and numbered 3 or above (so that placing the
/// child's end onto 0, 1 or 2 never lands on itself, which would keep close-on-exec set).
private func makePipe(nonBlockingRead: Bool, nonBlockingWrite: Bool) throws(SystemCallError) -> (read: Int32, write: Int32) {
    var descriptors: [Int32] = [-1, -1]
    if let pipe2 = GlibcExtensions.pipe2 {
        guard pipe2(&descriptors, O_CLOEXEC) == 0 else { throw SystemCallError(code: errno) }
    } else {
        // Without pipe2 another thread's spawn could catch the pipe before close-on-exec is
        // set; our own spawns close everything above 2 anyway.
        guard pipe(&descriptors) == 0 else { throw SystemCallError(code: errno) }
        descriptors.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
    }
    for index in descriptors.indices where descriptors[index] < 3 {
        let moved = fcntl(descriptors[index], F_DUPFD_CLOEXEC, 3)
        let code = errno
        close(descriptors[index])
        descriptors[index] = moved
        if moved < 0 {
            descriptors.filter { $0 >= 0 }.forEach { close($0) }
            throw SystemCallError(code: code)
        }
    }
    if nonBlockingRead { _ = fcntl(descriptors[0], F_SETFL, fcntl(descriptors[0], F_GETFL) | O_NONBLOCK) }
    if nonBlockingWrite { _ = fcntl(descriptors[1], F_SETFL, fcntl(descriptors[1], F_GETFL) | O_NONBLOCK) }
    return (descriptors[0], descriptors[1])
}

private enum Spawner {
    /// Starts the process of `payload` with its pipes.
    static func spawn(_ payload: ExecPayload) throws(ProcessRunner.SpawnError) -> Spawned {
        let program = payload.argv.first ?? ""
        guard !program.isEmpty else {
            throw ProcessRunner.SpawnError(program: program, code: ENOENT, detail: "argv is empty")
        }
        if let cwd = payload.cwd { try checkDirectory(cwd, program: program) }

        var descriptors: [Int32] = []
        defer { descriptors.forEach { close($0) } }
        func pipe(nonBlockingRead: Bool, nonBlockingWrite: Bool) throws(ProcessRunner.SpawnError) -> (read: Int32, write: Int32) {
            do {
                let made = try makePipe(nonBlockingRead: nonBlockingRead, nonBlockingWrite: nonBlockingWrite)
                descriptors += [made.read, made.write]
                return made
            } catch {
                throw ProcessRunner.SpawnError(program: program, code: error.code, call: "pipe")
            }
        }
        // An empty stdin is the same as none: the process reads end-of-file at once.
        let stdinPipe = (payload.stdin?.isEmpty ?? true) ? nil : try pipe(nonBlockingRead: false, nonBlockingWrite: true)
        let stdoutPipe = try pipe(nonBlockingRead: true, nonBlockingWrite: false)
        let stderrPipe = try pipe(nonBlockingRead: true, nonBlockingWrite: false)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdinPipe {
            posix_spawn_file_actions_adddup2(&actions, stdinPipe.read, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe.write, 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe.write, 2)
        // Descriptors the daemon opened without close-on-exec must not reach the task either.
        if let addCloseFrom = GlibcExtensions.addCloseFrom { _ = addCloseFrom(&actions, 3) }
        if let cwd = payload.cwd {
            guard let addChdir = GlibcExtensions.addChdir else {
                throw ProcessRunner.SpawnError(program: program, code: ENOSYS, detail: "a working directory (cwd) needs glibc 2.29 or later")
            }
            _ = cwd.withCString { addChdir(&actions, $0) }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        // Ignored signals stay ignored across exec: give the task the defaults whatever the daemon does.
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        for signal: Int32 in 1..<32 where signal != SIGKILL && signal != SIGSTOP { sigaddset(&defaultSignals, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let environment = childEnvironment(overrides: payload.env)
        let argv = payload.argv.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }

        var pid: pid_t = 0
        // Like execvp: a name with a slash is a path; otherwise try each PATH entry in turn,
        // going on past entries where it is missing, and reporting EACCES if that was all seen.
        var sawAccessDenied = false
        var failure = ENOENT
        var spawned = false
        candidates: for candidate in executableCandidates(program, path: searchPath(environment)) {
            let result = candidate.withCString { posix_spawn(&pid, $0, &actions, &attributes, argv, envp) }
            switch result {
            case 0:
                spawned = true
                break candidates
            case EACCES:
                sawAccessDenied = true
            case ENOENT, ENOTDIR, ESTALE, ENODEV, ETIMEDOUT, ELOOP, ENAMETOOLONG:
                failure = program.contains("/") ? result : ENOENT
            default:
                throw ProcessRunner.SpawnError(program: program, code: result)
            }
        }
        guard spawned else { throw ProcessRunner.SpawnError(program: program, code: sawAccessDenied ? EACCES : failure) }

        // The child has its copies; keep only the parent's ends open (the defer closes the rest).
        descriptors.removeAll { [stdinPipe?.write, stdoutPipe.read, stderrPipe.read].contains($0) }
        return Spawned(pid: pid, stdin: stdinPipe?.write, stdout: stdoutPipe.read, stderr: stderrPipe.read)
    }

    /// Fails with a clear message when `path` is not a directory the daemon can enter; the
    /// child's own chdir failing would otherwise read as "no such program".
    private static func checkDirectory(_ path: String, program: String) throws(ProcessRunner.SpawnError) {
        var status = stat()
        guard stat(path, &status) == 0 else {
            let code = errno
            let detail = code == ENOENT ? "working directory '\(path)' does not exist" : "working directory '\(path)': \(String(cString: strerror(code)))"
            throw ProcessRunner.SpawnError(program: program, code: code, detail: detail)
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw ProcessRunner.SpawnError(program: program, code: ENOTDIR, detail: "working directory '\(path)' is not a directory")
        }
        guard access(path, X_OK) == 0 else {
            let code = errno
            throw ProcessRunner.SpawnError(program: program, code: code, detail: "working directory '\(path)': \(String(cString: strerror(code)))")
        }
    }

    /// The daemon's environment (read now) with `overrides` replacing or adding variables.
    static func childEnvironment(overrides: [String: String]) -> [String] {
        var entries: [String] = []
        var names = Set<String>()
        let inherited: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ
        if var entry = inherited {
            while let pointer = entry.pointee {
                let text = String(cString: pointer)
                let name = String(text.prefix { $0 != "=" })
                if names.insert(name).inserted {
                    entries.append(overrides[name].map { "\(name)=\($0)" } ?? text)
                }
                entry += 1
            }
        }
        for (name, value) in overrides.sorted(by: { $0.key < $1.key }) where !names.contains(name) {
            entries.append("\(name)=\(value)")
        }
        return entries
    }

    /// The `PATH` of `environment`, or the default `execvp` uses without one.
    private static func searchPath(_ environment: [String]) -> String {
        environment.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/bin:/usr/bin"
    }

    private static func executableCandidates(_ program: String, path: String) -> [String] {
        if program.contains("/") { return [program] }
        // An empty entry means the current directory, as for the shell.
        return path.split(separator: ":", omittingEmptySubsequences: false).map { $0.isEmpty ? program : "\($0)/\(program)" }
    }
}

/// glibc's `posix_spawn_file_actions_addchdir_np` (2.29), `…_addclosefrom_np` (2.34) and
/// `pipe2`, GNU extensions the Swift Glibc module does not import; looked up at run time.
private enum GlibcExtensions {
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    static let addChdir: AddChdir? = dlsym(nil, "posix_spawn_file_actions_addchdir_np").map { unsafeBitCast($0, to: AddChdir.self) }
    static let pipe2: Pipe2? = dlsym(nil, "pipe2").map { unsafeBitCast($0, to: Pipe2.self) }
    static let addCloseFrom: AddCloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: AddCloseFrom.self) }
}
