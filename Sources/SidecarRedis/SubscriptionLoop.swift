import Foundation
import Glibc
import Logging

/// The thread behind a ``RedisSubscriber``: connect, `SUBSCRIBE`, then read messages in a
/// `poll` loop that also watches a wake-up pipe (so that a stop is noticed at once) and sends
/// a `PING` after `healthCheckInterval` of silence (so that a hung Redis is noticed too).
/// When the connection fails it waits out the backoff, on the same pipe, and starts over.
final class SubscriptionLoop: @unchecked Sendable {
    private let endpoint: RedisEndpoint
    private let channel: String
    private let timeout: Duration
    private let healthCheckInterval: Duration
    private let logger: Logger
    private let continuation: AsyncStream<RedisSubscriber.Event>.Continuation
    /// The wake-up pipe: readable once a stop is requested. -1 if `pipe` failed; the loop then
    /// checks for a stop every 100 ms instead.
    private let wakeReader: CInt
    private let wakeWriter: CInt

    private let lock = NSLock()
    private var stopRequested = false  // guarded by lock

    // Touched only by the loop's thread.
    private var backoff: ReconnectBackoff
    private var failuresInARow = 0

    init(endpoint: RedisEndpoint, channel: String, timeout: Duration, healthCheckInterval: Duration,
         backoff: ReconnectBackoff, logger: Logger, continuation: AsyncStream<RedisSubscriber.Event>.Continuation) {
        self.endpoint = endpoint
        self.channel = channel
        self.timeout = timeout
        self.healthCheckInterval = healthCheckInterval
        self.backoff = backoff
        self.logger = logger
        self.continuation = continuation
        var descriptors: [CInt] = [-1, -1]
        if pipe(&descriptors) == 0 {
            for descriptor in descriptors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
            _ = fcntl(descriptors[1], F_SETFL, O_NONBLOCK)
        } else {
            descriptors = [-1, -1]
        }
        wakeReader = descriptors[0]
        wakeWriter = descriptors[1]
    }

    deinit {
        if wakeReader >= 0 { close(wakeReader) }
        if wakeWriter >= 0 { close(wakeWriter) }
    }

    /// Starts the thread; it finishes the event stream when it ends.
    func start(name: String) {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Asks the thread to end; it closes its connection and finishes the stream promptly.
    func requestStop() {
        let first = lock.withLock {
            defer { stopRequested = true }
            return !stopRequested
        }
        guard first, wakeWriter >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(wakeWriter, &byte, 1)
    }

    private var isStopRequested: Bool { lock.withLock { stopRequested } }

    // MARK: - The loop

    private enum SessionEnd {
        case stopped
        /// Connecting or subscribing failed: no `.connected` was reported.
        case notSubscribed(RedisError)
        /// A working subscription failed: `.connected` was reported.
        case lost(RedisError)
    }

    private func run() {
        blockBrokenPipeSignalOnCurrentThread()
        while !isStopRequested {
            switch session() {
            case .stopped:
                continue  // the loop's condition ends it
            case .notSubscribed(let error):
                failuresInARow += 1
                let metadata: Logger.Metadata = ["redis": "\(endpoint)", "channel": "\(channel)", "error": "\(error)"]
                if failuresInARow == 1 {
                    logger.warning("cannot subscribe to Redis; retrying with backoff", metadata: metadata)
                } else {
                    logger.debug("cannot subscribe to Redis", metadata: metadata)
                }
            case .lost(let error):
                failuresInARow = 0
                backoff.reset()
                continuation.yield(.disconnected(error))
                logger.warning("lost the Redis subscription; reconnecting",
                               metadata: ["redis": "\(endpoint)", "channel": "\(channel)", "error": "\(error)"])
            }
            guard pauseUnlessStopped(backoff.next()) else { break }
        }
        continuation.finish()
    }

    /// One connection: connect, subscribe, deliver messages until it fails or a stop is requested.
    private func session() -> SessionEnd {
        let connection: RedisConnection
        do throws(RedisError) {
            connection = try RedisConnection.open(to: endpoint, timeout: timeout)
            try connection.append([Array("SUBSCRIBE".utf8), Array(channel.utf8)])
            try connection.flush()
            switch try waitForReply(on: connection, until: .now + timeout) {
            case .stopRequested:
                return .stopped
            case .deadlinePassed:
                return .notSubscribed(.timedOut)
            case .reply(let reply):
                guard let kind = reply.array?.first?.string, kind == "subscribe" else {
                    if case .error(let message) = reply { return .notSubscribed(.server(message)) }
                    return .notSubscribed(.protocol("SUBSCRIBE answered \(reply)"))
                }
            }
        } catch {
            return .notSubscribed(error)
        }

        failuresInARow = 0
        continuation.yield(.connected)
        logger.info("subscribed to Redis", metadata: ["redis": "\(endpoint)", "channel": "\(channel)"])

        do throws(RedisError) {
            var deadline = ContinuousClock.now + healthCheckInterval
            var pingSent = false
            while true {
                switch try waitForReply(on: connection, until: deadline) {
                case .stopRequested:
                    return .stopped
                case .reply(let reply):
                    deliver(reply)
                    deadline = .now + healthCheckInterval
                    pingSent = false
                case .deadlinePassed:
                    if pingSent {
                        return .lost(.timedOut)
                    }
                    try connection.append([Array("PING".utf8)])
                    try connection.flush()
                    pingSent = true
                    deadline = .now + timeout
                }
            }
        } catch {
            return .lost(error)
        }
    }

    private func deliver(_ reply: RedisReply) {
        guard let parts = reply.array, let kind = parts.first?.string else {
            if case .error(let message) = reply {
                logger.warning("Redis sent an error to the subscriber", metadata: ["error": "\(message)"])
            }
            return
        }
        // Other kinds: "pong" (health check), "subscribe" (a repeat confirmation).
        if kind == "message", parts.count == 3, let payload = parts[2].bytes {
            continuation.yield(.message(payload))
        }
    }

    // MARK: - Waiting

    private enum Wait {
        case reply(RedisReply)
        case deadlinePassed
        case stopRequested
    }

    /// The next reply on `connection`, unless `deadline` passes or a stop is requested first.
    private func waitForReply(on connection: RedisConnection, until deadline: ContinuousClock.Instant)
        throws(RedisError) -> Wait
    {
        while true {
            if let reply = try connection.bufferedReply() { return .reply(reply) }
            if isStopRequested { return .stopRequested }
            let now = ContinuousClock.now
            if now >= deadline { return .deadlinePassed }
            var descriptors = [
                pollfd(fd: connection.fileDescriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeReader, events: Int16(POLLIN), revents: 0),  // ignored by poll if -1
            ]
            let ready = poll(&descriptors, 2, pollMilliseconds(deadline - now))
            if ready < 0 {
                if errno == EINTR { continue }
                throw .io("poll on the Redis subscription failed: \(String(cString: strerror(errno)))")
            }
            if descriptors[1].revents != 0 { return .stopRequested }
            if descriptors[0].revents != 0 { try connection.readAvailable() }
        }
    }

    /// Waits `delay`; returns `false` as soon as a stop is requested.
    private func pauseUnlessStopped(_ delay: Duration) -> Bool {
        let deadline = ContinuousClock.now + delay
        while !isStopRequested {
            let now = ContinuousClock.now
            if now >= deadline { return true }
            var descriptor = pollfd(fd: wakeReader, events: Int16(POLLIN), revents: 0)
            _ = poll(&descriptor, 1, pollMilliseconds(deadline - now))
        }
        return false
    }

    /// `remaining` in whole milliseconds for `poll`, rounded up; at most 100 ms without a wake-up pipe.
    private func pollMilliseconds(_ remaining: Duration) -> Int32 {
        let milliseconds = remaining.components.seconds * 1000
            + (remaining.components.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: wakeReader >= 0 ? milliseconds : min(milliseconds, 100))
    }
}
