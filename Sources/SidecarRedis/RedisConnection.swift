import CHiredis
import Glibc

/// One blocking hiredis connection, used by one thread only (a ``RedisClient`` worker or a
/// ``RedisSubscriber``). Every read and write is bounded by the timeout given to
/// ``open(to:timeout:)`` (`SO_RCVTIMEO`/`SO_SNDTIMEO`). A thrown error means the connection is
/// broken: drop it and open a new one.
final class RedisConnection {
    let endpoint: RedisEndpoint
    private let context: UnsafeMutablePointer<redisContext>

    private init(endpoint: RedisEndpoint, context: UnsafeMutablePointer<redisContext>) {
        self.endpoint = endpoint
        self.context = context
    }

    deinit { redisFree(context) }

    /// Connects (within `timeout`), sets `timeout` on every later read and write, then
    /// authenticates and selects the database of `endpoint` if it names them.
    /// Host names are resolved by the system first, which the timeout does not bound.
    /// - Throws: ``RedisError/connectionFailed(_:)`` when Redis cannot be reached or refuses
    ///   the password or database; ``RedisError/timedOut`` or ``RedisError/io(_:)`` when it
    ///   stops answering during the handshake.
    static func open(to endpoint: RedisEndpoint, timeout: Duration) throws(RedisError) -> RedisConnection {
        let limit = timeval(timeout)
        let made: UnsafeMutablePointer<redisContext>?
        switch endpoint.address {
        case .tcp(let host, let port): made = redisConnectWithTimeout(host, Int32(port), limit)
        case .unix(let path): made = redisConnectUnixWithTimeout(path, limit)
        }
        guard let context = made else {
            throw .connectionFailed("cannot connect to Redis at \(endpoint): out of memory")
        }
        if context.pointee.err != 0 {
            let reason = errorText(context)
            redisFree(context)
            throw .connectionFailed("cannot connect to Redis at \(endpoint): \(reason); is redis-server running there?")
        }
        let connection = RedisConnection(endpoint: endpoint, context: context)
        guard redisSetTimeout(context, limit) == REDIS_OK else {
            throw .connectionFailed("cannot set the timeout on the Redis connection to \(endpoint): \(errorText(context))")
        }
        try connection.handshake()
        return connection
    }

    /// The connection's socket, for `poll`.
    var fileDescriptor: CInt { context.pointee.fd }

    /// Whether the connection can no longer be used although no call has failed on it yet:
    /// Redis closed it (stopped, restarted, `CLIENT KILL`, its idle `timeout`) or sent bytes
    /// nobody asked for. One non-blocking peek at the socket; nothing is read.
    var isBrokenWhileIdle: Bool {
        var byte: UInt8 = 0
        let received = recv(fileDescriptor, &byte, 1, CInt(MSG_PEEK | MSG_DONTWAIT))
        if received < 0 { return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR }
        return true  // 0: the peer closed it; 1: an unexpected byte, so the stream is out of step
    }

    // MARK: - Commands

    /// Sends `commands` in one write and reads their replies in order (a pipeline).
    /// Error replies are returned as ``RedisReply/error(_:)``, not thrown.
    /// - Throws: ``RedisError`` when the connection failed; it must then be dropped.
    func send(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisReply] {
        for command in commands { try append(command) }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands { replies.append(try nextReply()) }
        return replies
    }

    /// Adds a command to the output buffer, unsent (binary-safe: `redisAppendCommandArgv`).
    func append(_ arguments: [[UInt8]]) throws(RedisError) {
        let status = Self.withArgv(arguments) { count, values, lengths in
            redisAppendCommandArgv(context, count, values, lengths)
        }
        guard status == REDIS_OK else { throw failure(errno: errno) }
    }

    /// Writes the output buffer, then blocks until a whole reply has arrived.
    func nextReply() throws(RedisError) -> RedisReply {
        var raw: UnsafeMutableRawPointer?
        let status = redisGetReply(context, &raw)
        let savedErrno = errno
        guard status == REDIS_OK else { throw failure(errno: savedErrno) }
        guard let raw else { throw .protocol("hiredis returned no reply from \(endpoint)") }
        defer { freeReplyObject(raw) }
        return RedisReply(raw.assumingMemoryBound(to: redisReply.self))
    }

    // MARK: - Non-blocking steps, for a poll loop

    /// Writes the whole output buffer.
    func flush() throws(RedisError) {
        var done: Int32 = 0
        repeat {
            guard redisBufferWrite(context, &done) == REDIS_OK else { throw failure(errno: errno) }
        } while done == 0
    }

    /// Reads what the socket has (one `read`; call it when `poll` says the socket is readable).
    func readAvailable() throws(RedisError) {
        guard redisBufferRead(context) == REDIS_OK else { throw failure(errno: errno) }
    }

    /// A whole reply already read from the socket, if there is one; never reads.
    func bufferedReply() throws(RedisError) -> RedisReply? {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReplyFromReader(context, &raw) == REDIS_OK else { throw failure(errno: errno) }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return RedisReply(raw.assumingMemoryBound(to: redisReply.self))
    }

    // MARK: - Private

    private func handshake() throws(RedisError) {
        var commands: [[[UInt8]]] = []
        var names: [String] = []
        if let password = endpoint.password {
            let user = endpoint.username.map { [Array($0.utf8)] } ?? []
            commands.append([Array("AUTH".utf8)] + user + [Array(password.utf8)])
            names.append("the password (AUTH)")
        }
        if endpoint.database != 0 {
            commands.append([Array("SELECT".utf8), Array(String(endpoint.database).utf8)])
            names.append("database \(endpoint.database) (SELECT)")
        }
        guard !commands.isEmpty else { return }
        let replies = try send(commands)
        for (name, reply) in zip(names, replies) {
            if case .error(let message) = reply {
                throw .connectionFailed("Redis at \(endpoint) refused \(name): \(message); check the Redis URL")
            }
        }
    }

    /// The error hiredis recorded on the context; `savedErrno` is `errno` right after the call.
    private func failure(errno savedErrno: Int32) -> RedisError {
        let reason = Self.errorText(context)
        switch context.pointee.err {
        case REDIS_ERR_IO where savedErrno == EAGAIN || savedErrno == EWOULDBLOCK:
            // A read or write that hit SO_RCVTIMEO/SO_SNDTIMEO.
            return .timedOut
        case REDIS_ERR_EOF:
            return .io("Redis at \(endpoint) closed the connection (it may have been stopped or restarted)")
        case REDIS_ERR_PROTOCOL:
            return .protocol("\(reason) (from \(endpoint))")
        default:
            return .io("I/O error with Redis at \(endpoint): \(reason)")
        }
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return bytes.isEmpty ? "unknown error" : String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Calls `body` with C argument vectors for `arguments`, all pointing into one buffer.
    private static func withArgv<R>(
        _ arguments: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        var storage: [UInt8] = []
        storage.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
        var offsets: [Int] = []
        var lengths: [Int] = []
        for argument in arguments {
            offsets.append(storage.count)
            lengths.append(argument.count)
            storage.append(contentsOf: argument)
        }
        storage.append(0)  // never empty, so every pointer (even of an empty argument) is valid
        return storage.withUnsafeBytes { buffer in
            let base = buffer.baseAddress.unsafelyUnwrapped
            var pointers: [UnsafePointer<CChar>?] = offsets.map {
                base.advanced(by: $0).assumingMemoryBound(to: CChar.self)
            }
            return pointers.withUnsafeMutableBufferPointer { values in
                lengths.withUnsafeBufferPointer { lengths in
                    body(Int32(arguments.count), values.baseAddress.unsafelyUnwrapped, lengths.baseAddress.unsafelyUnwrapped)
                }
            }
        }
    }
}

// MARK: - Conversions

extension RedisReply {
    /// Copies a hiredis reply (and its elements); the caller still frees `reply`.
    init(_ reply: UnsafePointer<redisReply>) {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_STRING:
            self = .bulkString(Self.bytes(value.str, value.len))
        case REDIS_REPLY_STATUS:
            self = .status(String(decoding: Self.bytes(value.str, value.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            self = .error(String(decoding: Self.bytes(value.str, value.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            self = .integer(value.integer)
        case REDIS_REPLY_ARRAY:
            var elements: [RedisReply] = []
            elements.reserveCapacity(value.elements)
            for index in 0..<value.elements {
                if let element = value.element?[index] {
                    elements.append(RedisReply(element))
                } else {
                    elements.append(.null)
                }
            }
            self = .array(elements)
        default:
            // REDIS_REPLY_NIL; hiredis 0.14 has no other types (RESP3 needs hiredis 1.x).
            self = .null
        }
    }

    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> [UInt8] {
        guard let pointer, count > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}

extension timeval {
    /// A `timeval` of `duration` (at least 1 ms: a zero `timeval` means "no timeout").
    init(_ duration: Duration) {
        let microseconds = max(1000, duration.components.seconds * 1_000_000
            + duration.components.attoseconds / 1_000_000_000_000)
        self.init(tv_sec: Int(microseconds / 1_000_000), tv_usec: Int(microseconds % 1_000_000))
    }
}
