import Foundation
import Logging
import SidecarRedis
import SidecarTestSupport

/// Warnings of the code under test are expected in outage tests; only errors are worth showing.
let testLogger: Logger = {
    var logger = Logger(label: "sidecar.redis.tests")
    logger.logLevel = .error
    return logger
}()

/// A client of `server`'s Unix socket. Tests of behaviour use a generous timeout (a loaded
/// machine must not fail them); tests of outages pass the daemon's default, 100 ms.
func makeClient(_ server: RedisServerProcess, timeout: Duration = .seconds(2), connectionCount: Int = 2) throws
    -> RedisClient
{
    RedisClient(endpoint: try RedisEndpoint(url: server.url), timeout: timeout, connectionCount: connectionCount,
                logger: testLogger)
}

/// What `body` throws, or `nil` if it succeeds. (The client's methods throw only `RedisError`;
/// anything else is reported as a protocol error so that the test fails visibly.)
func redisError(_ body: () async throws -> Void) async -> RedisError? {
    do {
        try await body()
        return nil
    } catch let error as RedisError {
        return error
    } catch {
        return .protocol("not a RedisError: \(error)")
    }
}

/// How long `body` takes.
func measure(_ body: () async -> Void) async -> Duration {
    let start = ContinuousClock.now
    await body()
    return ContinuousClock.now - start
}

extension RedisError {
    /// What a call to a dead Redis may fail with: no connection, or a connection that broke.
    var isConnectionLoss: Bool {
        switch self {
        case .connectionFailed, .io: return true
        default: return false
        }
    }
}

/// Collects a subscriber's events as they come, for tests to wait on with a deadline.
final class EventRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [RedisSubscriber.Event] = []
    private var isFinished = false

    init(_ events: AsyncStream<RedisSubscriber.Event>) {
        Task {
            for await event in events {
                lock.withLock { recorded.append(event) }
            }
            lock.withLock { isFinished = true }
        }
    }

    /// The events so far.
    var events: [RedisSubscriber.Event] { lock.withLock { recorded } }
    /// Whether the stream has finished.
    var finished: Bool { lock.withLock { isFinished } }

    /// Polls until `condition` holds for the events so far, or `timeout` seconds pass.
    /// - Returns: whether it held in time.
    func wait(timeout: Double = 10, until condition: ([RedisSubscriber.Event]) -> Bool) async -> Bool {
        let deadline = Deadline(seconds: timeout)
        while !condition(events) {
            if deadline.hasPassed { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    /// Polls until the stream has finished, or `timeout` seconds pass.
    func waitUntilFinished(timeout: Double) async -> Bool {
        let deadline = Deadline(seconds: timeout)
        while !finished {
            if deadline.hasPassed { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }
}

extension Array where Element == RedisSubscriber.Event {
    /// How many `.connected` events there are.
    var connectedCount: Int { filter { $0 == .connected }.count }
    /// Whether there is a `.disconnected` event.
    var hasDisconnected: Bool { contains { if case .disconnected = $0 { true } else { false } } }
}
