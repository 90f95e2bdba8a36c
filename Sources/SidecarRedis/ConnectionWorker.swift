import Foundation
import Logging

/// A dedicated thread with its own blocking ``RedisConnection``, running the pipelines of a
/// ``CommandQueue`` one at a time. The connection is opened on the first pipeline, dropped on
/// any failure and opened again, lazily, by the next pipeline. One that Redis closed while it
/// sat idle (a restart) is noticed before it is used, so the pipeline goes out on a new one.
final class ConnectionWorker: @unchecked Sendable {
    private let queue: CommandQueue
    private let endpoint: RedisEndpoint
    private let timeout: Duration
    private let logger: Logger
    private let name: String

    // Touched only by the worker's thread.
    private var connection: RedisConnection?
    /// Whether the last pipeline succeeded: a failure is logged as a warning once per outage.
    private var isHealthy = true

    init(queue: CommandQueue, endpoint: RedisEndpoint, timeout: Duration, logger: Logger, name: String) {
        self.queue = queue
        self.endpoint = endpoint
        self.timeout = timeout
        self.logger = logger
        self.name = name
    }

    /// Starts the thread; it ends (closing its connection) once the queue is closed.
    func start() {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    private func run() {
        blockBrokenPipeSignalOnCurrentThread()
        while let entry = queue.pop() {
            entry.continuation.resume(returning: execute(entry))
        }
        connection = nil
    }

    private func execute(_ entry: CommandQueue.Entry) -> Result<[RedisReply], RedisError> {
        if ContinuousClock.now - entry.enqueuedAt >= timeout {
            return .failure(.timedOut)
        }
        do throws(RedisError) {
            let connection: RedisConnection
            if let open = self.connection, !open.isBrokenWhileIdle {
                connection = open
            } else {
                connection = try RedisConnection.open(to: endpoint, timeout: timeout)
                self.connection = connection
            }
            let replies = try connection.send(entry.commands)
            if !isHealthy {
                isHealthy = true
                logger.notice("Redis answers again", metadata: ["redis": "\(endpoint)", "thread": "\(name)"])
            }
            return .success(replies)
        } catch {
            // A reply the next pipeline might read belongs to this one: never reuse the connection.
            connection = nil
            if isHealthy {
                isHealthy = false
                logger.warning("Redis call failed; the connection is dropped and reopened on the next call",
                               metadata: ["redis": "\(endpoint)", "thread": "\(name)", "error": "\(error)"])
            } else {
                logger.debug("Redis call failed", metadata: ["redis": "\(endpoint)", "error": "\(error)"])
            }
            return .failure(error)
        }
    }
}
