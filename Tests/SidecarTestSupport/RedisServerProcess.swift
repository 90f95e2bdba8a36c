import Foundation
import Glibc

/// A real `redis-server` in a temporary directory of its own, listening on a Unix socket (and,
/// if asked, on a loopback TCP port), persisting nothing. Killed and its directory removed by
/// ``stop()`` or when it is released.
///
/// Tests use it to see what users see: a server that answers, one that is killed
/// (`kill(signal: SIGKILL)`), one that hangs (`SIGSTOP`, then `SIGCONT`), one that comes back
/// (``restart(timeout:)``, on the same socket path and port).
///
/// ```swift
/// let redis = try await RedisServerProcess.start()
/// let client = RedisClient(endpoint: try RedisEndpoint(url: redis.url), logger: logger)
/// redis.kill(signal: SIGKILL)
/// try await redis.restart()
/// ```
public final class RedisServerProcess {
    /// The server's own temporary directory (its logs are there too).
    public let directory: TemporaryDirectory
    /// The server's Unix socket.
    public let socketPath: String
    /// The loopback TCP port, if it was started with `tcp: true`.
    public let tcpPort: Int?
    /// The current process: a new one after each ``restart(timeout:)``.
    public private(set) var process: ChildProcess

    /// `unix://` and the socket path.
    public var url: String { "unix://" + socketPath }
    /// `redis://127.0.0.1:<port>`, if it was started with `tcp: true`.
    public var tcpURL: String? { tcpPort.map { "redis://127.0.0.1:\($0)" } }
    /// The current process's pid.
    public var pid: pid_t { process.pid }
    /// What the current process has logged so far.
    public var log: String { process.standardOutput + process.standardError }

    private let executable: String
    private let arguments: [String]
    private var launchCount = 0

    /// Starts `redis-server`; it does not answer until ``waitUntilReady(timeout:)`` returns.
    /// Prefer ``start(tcp:arguments:timeout:)``, which also waits (and retries a taken port).
    /// - Parameters:
    ///   - tcp: also listen on a free loopback TCP port.
    ///   - arguments: further configuration, such as `["--requirepass", "secret"]`.
    /// - Throws: ``RedisServerError`` if `redis-server` is not installed; ``SystemCallError``
    ///   if it cannot be started.
    public init(tcp: Bool = false, arguments: [String] = []) throws {
        guard let executable = PackageLocation.executable(named: "redis-server") else {
            throw RedisServerError(
                "redis-server is not installed, and the Redis tests need a real server: install it "
                    + "(apt-get install redis-server, or brew install redis) and run the tests again")
        }
        directory = try TemporaryDirectory()
        socketPath = directory.file("redis.sock")
        do {
            tcpPort = tcp ? try Self.freeLoopbackPort() : nil
        } catch {
            directory.remove()
            throw error
        }
        self.executable = executable
        let listening = tcpPort.map { ["--port", String($0), "--bind", "127.0.0.1"] } ?? ["--port", "0"]
        self.arguments = listening + [
            "--unixsocket", socketPath, "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", directory.path,
        ] + arguments
        do {
            launchCount = 1
            process = try Self.spawn(executable, self.arguments, in: directory, number: 1)
        } catch {
            directory.remove()
            throw error
        }
    }

    deinit {
        stop()
        directory.remove()
    }

    /// Starts `redis-server` and waits until it answers `PING`. A TCP port taken by someone
    /// else between choosing it and the server binding it is replaced by another, up to 5 times.
    /// - Parameters:
    ///   - tcp: also listen on a free loopback TCP port.
    ///   - arguments: further configuration, such as `["--requirepass", "secret"]`.
    ///   - timeout: seconds to wait for the server to answer.
    /// - Throws: ``RedisServerError`` (with the server's log) if it is not installed, exits, or
    ///   does not answer in time.
    public static func start(tcp: Bool = false, arguments: [String] = [], timeout: Double = 10) async throws
        -> RedisServerProcess
    {
        var attempt = 1
        while true {
            let server = try RedisServerProcess(tcp: tcp, arguments: arguments)
            do {
                try await server.waitUntilReady(timeout: timeout)
                return server
            } catch let error as RedisServerError where tcp && attempt < 5 && error.description.contains("in use") {
                attempt += 1
            }
        }
    }

    /// Waits until the server answers `PING` on its socket (`-NOAUTH` counts as an answer).
    /// - Throws: ``RedisServerError`` (with the server's log) if it exits or does not answer in
    ///   time; `CancellationError` if the task is cancelled.
    public func waitUntilReady(timeout: Double = 10) async throws {
        let deadline = Deadline(seconds: timeout)
        while !answersPing() {
            if let status = process.poll() {
                throw RedisServerError("redis-server \(status) before answering PING; log:\n\(log)")
            }
            if deadline.hasPassed {
                throw RedisServerError("redis-server did not answer PING on \(socketPath) within \(timeout) s; log:\n\(log)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Sends `signal` to the server: `SIGKILL` (a crash; the process is also reaped, so its
    /// sockets are closed when this returns), `SIGSTOP` (a hang), `SIGCONT` (the end of one).
    public func kill(signal: Int32) {
        if signal == SIGKILL {
            process.kill()
        } else {
            process.send(signal: signal)
        }
    }

    /// Kills the server if it still runs (even if stopped), starts a new one with the same
    /// configuration (socket path, port), and waits until it answers. Its data is gone.
    /// - Throws: as ``waitUntilReady(timeout:)``; ``SystemCallError`` if it cannot be started.
    public func restart(timeout: Double = 10) async throws {
        process.kill()
        launchCount += 1
        process = try Self.spawn(executable, arguments, in: directory, number: launchCount)
        try await waitUntilReady(timeout: timeout)
    }

    /// Kills the server (SIGKILL) if it still runs, and reaps it. Its directory stays until the
    /// object is released.
    public func stop() {
        process.kill()
    }

    // MARK: - Private

    private static func spawn(_ executable: String, _ arguments: [String], in directory: TemporaryDirectory,
                              number: Int) throws -> ChildProcess {
        try ChildProcess(
            executable: executable,
            arguments: arguments,
            environment: ProcessInfo.processInfo.environment,
            standardOutputPath: directory.file("redis-\(number).out"),
            standardErrorPath: directory.file("redis-\(number).err")
        )
    }

    /// One `PING` over a fresh connection to the socket, answered within 1 s.
    private func answersPing() -> Bool {
        guard let descriptor = try? UnixSocket.connect(to: socketPath) else { return false }
        defer { close(descriptor) }
        let request = Array("PING\r\n".utf8)
        guard write(descriptor, request, request.count) == request.count,
              UnixSocket.waitReadable(descriptor, timeout: 1)
        else { return false }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(descriptor, &buffer, buffer.count)
        guard count > 0 else { return false }
        let answer = String(decoding: buffer.prefix(count), as: UTF8.self)
        return answer.hasPrefix("+PONG") || answer.hasPrefix("-NOAUTH")
    }

    /// A loopback TCP port nobody listened on a moment ago (the kernel's pick for port 0).
    private static func freeLoopbackPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw SystemCallError("socket") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else { throw SystemCallError("bind 127.0.0.1:0") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { throw SystemCallError("getsockname") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A `redis-server` that is not installed, did not start, or did not answer.
public struct RedisServerError: Error, CustomStringConvertible {
    /// What went wrong, with the server's log where there is one.
    public var description: String

    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}

/// Runs `body` with a `redis-server` that answers `PING`; afterwards the server is killed and
/// its directory removed, whatever happened.
///
/// ```swift
/// try await withRedisServer { redis in
///     let client = RedisClient(endpoint: try RedisEndpoint(url: redis.url), logger: logger)
///     try await client.ping()
/// }
/// ```
/// - Parameters:
///   - tcp: also listen on a free loopback TCP port (``RedisServerProcess/tcpURL``).
///   - arguments: further configuration, such as `["--requirepass", "secret"]`.
///   - body: the test.
/// - Throws: what starting the server or `body` throws.
public func withRedisServer<T>(
    tcp: Bool = false,
    arguments: [String] = [],
    _ body: (RedisServerProcess) async throws -> T
) async throws -> T {
    let server = try await RedisServerProcess.start(tcp: tcp, arguments: arguments)
    defer { server.stop() }
    return try await body(server)
}
