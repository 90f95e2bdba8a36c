import Logging

/// A Redis client that never blocks its callers' threads: each call suspends the calling task
/// while one of the client's own threads (each with a blocking hiredis connection) runs it.
///
/// Every connect, read and write is bounded by `timeout`, and a call that waited longer than
/// `timeout` for a free connection fails without being sent; so a hung Redis (stopped,
/// overloaded) costs a caller about one to two timeouts, then ``RedisError/timedOut``. A dead
/// Redis fails at once with ``RedisError/connectionFailed(_:)`` or ``RedisError/io(_:)``. After
/// a failure the connection is dropped and opened again by the next call, and one that Redis
/// closed while it was idle (a restart) is replaced before a call is sent on it.
///
/// ```swift
/// let redis = RedisClient(endpoint: try RedisEndpoint(url: "unix:///run/redis.sock"), logger: logger)
/// try await redis.set("greeting", to: Array("hello".utf8), ttlMilliseconds: 60_000)
/// let value = try await redis.get("greeting")  // the bytes of "hello"
/// ```
///
/// A cancelled caller still waits for its call to finish or time out.
public final class RedisClient: Sendable {
    /// The server this client talks to.
    public let endpoint: RedisEndpoint
    /// The bound on connecting, on each read and write, and on waiting for a free connection.
    public let timeout: Duration
    private let queue = CommandQueue()

    /// Creates the client and starts its threads; nothing connects until the first call.
    /// - Parameters:
    ///   - endpoint: the server.
    ///   - timeout: the bound on connecting, on each read and write, and on waiting for a free
    ///     connection; 100 ms by default.
    ///   - connectionCount: how many threads (each with one connection) run calls, from 1 to 8;
    ///     2 by default.
    ///   - logger: receives a warning when Redis starts failing and a notice when it answers again.
    public init(endpoint: RedisEndpoint, timeout: Duration = .milliseconds(100), connectionCount: Int = 2,
                logger: Logger) {
        self.endpoint = endpoint
        self.timeout = timeout
        for number in 1...min(max(connectionCount, 1), 8) {
            ConnectionWorker(queue: queue, endpoint: endpoint, timeout: timeout, logger: logger,
                             name: "redis-\(number)").start()
        }
    }

    deinit { close() }

    /// Fails the calls still waiting with ``RedisError/closed``, as well as every later call,
    /// and lets the threads end (each after finishing the call it is running, if any) and close
    /// their connections. Calling it again does nothing.
    public func close() {
        for entry in queue.close() {
            entry.continuation.resume(returning: .failure(.closed))
        }
    }

    /// Sends `commands` in one write on one connection and returns their replies in order.
    ///
    /// Error replies come back as ``RedisReply/error(_:)``, since the other commands may have
    /// succeeded. Arguments are sent as they are (no format strings, binary-safe).
    ///
    /// ```swift
    /// let replies = try await redis.pipeline([["GET", "k"], ["PTTL", "k"]].map { $0.map { Array($0.utf8) } })
    /// ```
    /// - Parameter commands: the commands, each its name and arguments.
    /// - Returns: one reply per command.
    /// - Throws: ``RedisError`` if a command is empty, the connection failed or timed out, or the
    ///   client is closed.
    public func pipeline(_ commands: [[[UInt8]]]) async throws(RedisError) -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        guard !commands.contains(where: \.isEmpty) else {
            throw .protocol("a Redis command needs at least its name")
        }
        let result = await withCheckedContinuation { continuation in
            let entry = CommandQueue.Entry(commands: commands, enqueuedAt: .now, continuation: continuation)
            if !queue.push(entry) {
                continuation.resume(returning: .failure(.closed))
            }
        }
        return try result.get()
    }

    /// Sends one command and returns its reply.
    /// - Parameter arguments: the command's name and arguments, sent as they are (binary-safe).
    /// - Returns: the reply; never ``RedisReply/error(_:)``, which is thrown instead.
    /// - Throws: ``RedisError/server(_:)`` for an error reply; another ``RedisError`` if the
    ///   connection failed or timed out, or the client is closed.
    public func command(_ arguments: [[UInt8]]) async throws(RedisError) -> RedisReply {
        let replies = try await pipeline([arguments])
        guard let reply = replies.first else { throw .protocol("no reply") }
        if case .error(let message) = reply { throw .server(message) }
        return reply
    }

    /// Sends one command given as text and returns its reply.
    /// - Parameter arguments: the command's name and arguments, such as `["INCR", "counter"]`.
    /// - Returns: the reply; never ``RedisReply/error(_:)``, which is thrown instead.
    /// - Throws: ``RedisError/server(_:)`` for an error reply; another ``RedisError`` if the
    ///   connection failed or timed out, or the client is closed.
    public func command(_ arguments: [String]) async throws(RedisError) -> RedisReply {
        try await command(arguments.map { Array($0.utf8) })
    }
}
