import Foundation
import SidecarProtocol

/// One `client.tasks.watch` stream: subscribes with `tasks.subscribe`, yields each task that
/// `tasks.changed` brings for its subscription, and subscribes again after each reconnect.
///
/// Watching one task, it yields the task as it is when the subscription begins (which the
/// daemon returns with the subscription, so nothing yielded after it is older), then each
/// change, and ends after a final status.
final class TaskWatch: RoutedSubscription, @unchecked Sendable {
    private let lock = NSLock()
    private let continuation: AsyncThrowingStream<TaskInfo, any Error>.Continuation
    /// Only this task, when set; the stream then ends at its final status.
    private let taskID: String?
    /// The last task JSON yielded: after a reconnect the same state is not yielded twice.
    private var lastYielded: JSONValue?
    private var isFinished = false
    /// The epoch after each lost connection (newest only).
    private let lost: AsyncStream<Int>
    private let lostSink: AsyncStream<Int>.Continuation

    init(taskID: String?, continuation: AsyncThrowingStream<TaskInfo, any Error>.Continuation) {
        self.taskID = taskID
        self.continuation = continuation
        (lost, lostSink) = AsyncStream.makeStream(of: Int.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// A `tasks.changed` for this subscription (params `{subscriptions, task}`).
    func deliver(_ params: JSONValue) {
        guard let task = params["task"] else { return }
        lock.withLock { yieldLocked(task) }
    }

    func connectionLost(newEpoch: Int) {
        lostSink.yield(newEpoch)
    }

    /// Yields `task` unless it is the last one yielded; ends the stream after a final status of
    /// the watched task. Call it holding `lock`.
    private func yieldLocked(_ task: JSONValue) {
        guard !isFinished, task != lastYielded else { return }
        lastYielded = task
        let info: TaskInfo
        do {
            info = try TaskInfo(json: task, method: "tasks.changed")
        } catch {
            isFinished = true
            continuation.finish(throwing: error)
            return
        }
        continuation.yield(info)
        if taskID != nil, info.status.isFinal {
            isFinished = true
            continuation.finish()
        }
    }

    private var hasFinished: Bool { lock.withLock { isFinished } }

    /// Subscribes and follows the tasks until the task is cancelled (the consumer stopped),
    /// the client closes, the watched task finishes, or subscribing fails.
    func run(client: SidecarClient, kind: String?) async {
        let registry = client.subscriptions
        registry.add(self)
        var lostSignals = lost.makeAsyncIterator()
        var currentKey: SubscriptionRegistry.Key?
        var registeredEpoch = -1
        defer {
            registry.remove(self, key: currentKey)
            lostSink.finish()
        }
        var params: JSONObject = [:]
        if let taskID { params["id"] = .string(taskID) }
        if let kind { params["kind"] = .string(kind) }
        while !Task.isCancelled, !hasFinished {
            let epoch = registry.currentEpoch
            let result: JSONValue
            do {
                // Not cancelled with this task: a subscription the daemon made must be known
                // here, to be ended below, rather than leak on the connection.
                result = try await Task { [params] in try await client.call("tasks.subscribe", params: .object(params)) }.value
            } catch SidecarClientError.clientClosed {
                finish(throwing: nil)
                return
            } catch SidecarClientError.connectionClosed where client.configuration.reconnect.isEnabled {
                // Sent on a connection that then dropped (a daemon that died just after
                // accepting it): the client reconnects, and the next call waits for that.
                continue
            } catch {
                if Task.isCancelled { break }
                finish(throwing: error)
                return
            }
            guard let id = result["subscription"]?.intValue else {
                finish(throwing: SidecarClientError.decodingFailed(
                    method: "tasks.subscribe", reason: "result: expected {subscription}, got \(result)"))
                return
            }
            currentKey = nil
            let key = SubscriptionRegistry.Key(service: .tasks, id: id)
            // The task as the subscription began, then what arrived before this response, in
            // order, before anything routed from now on: under the lock that `deliver` takes.
            let registered: Bool = lock.withLock {
                guard let early = registry.register(self, key: key, epoch: epoch) else { return false }
                if taskID != nil {
                    guard let task = result["task"], !task.isNull else {
                        isFinished = true
                        continuation.finish(throwing: SidecarClientError.rpc(RPCError(
                            code: .notFound, message: "Not found: no task '\(taskID ?? "")'",
                            data: ["id": .string(taskID ?? "")])))
                        return true
                    }
                    yieldLocked(task)
                }
                for params in early {
                    if let task = params["task"] { yieldLocked(task) }
                }
                return true
            }
            guard registered else { continue }  // made on a connection that has since gone: subscribe again
            currentKey = key
            registeredEpoch = epoch
            if Task.isCancelled || hasFinished { break }
            // Wait for this connection to go, or for the consumer to stop (`next` returns nil)
            // or the watched task to finish; a signal left from an older connection is stale.
            var gone = false
            while let newEpoch = await lostSignals.next() {
                if newEpoch > epoch { gone = true; break }
            }
            guard gone, !Task.isCancelled else { break }
        }
        // End the subscription on the daemon (in a task of its own, as this one may be
        // cancelled); an id from a connection that is gone means nothing now.
        if let currentKey, registry.currentEpoch == registeredEpoch {
            await Task {
                _ = try? await client.call("tasks.unsubscribe", params: ["subscription": .int(currentKey.id)], timeout: .seconds(2))
            }.value
        }
        finish(throwing: nil)
    }

    private func finish(throwing error: (any Error)?) {
        lock.withLock {
            guard !isFinished else { return }
            isFinished = true
            continuation.finish(throwing: error)
        }
    }
}
