import Foundation
import SidecarProtocol

/// One `client.tasks.watch` stream: subscribes with `tasks.subscribe`, yields each task that
/// `tasks.changed` brings for its subscription, and subscribes again after each reconnect
/// (see ``SubscriptionDriver``).
///
/// Watching one task, it yields the task as it is when the subscription begins (which the
/// daemon returns with the subscription, so nothing yielded after it is older), then each
/// change, and ends after a final status.
final class TaskWatch: DrivenSubscription, @unchecked Sendable {
    private let lock = NSLock()
    private let continuation: AsyncThrowingStream<TaskInfo, any Error>.Continuation
    /// Only this task, when set; the stream then ends at its final status.
    private let taskID: String?
    /// Only tasks of this kind, when set.
    private let kind: String?
    let driver = SubscriptionDriver()
    /// The last task JSON yielded: after a reconnect the same state is not yielded twice.
    private var lastYielded: JSONValue?
    private var isFinished = false

    init(taskID: String?, kind: String?, continuation: AsyncThrowingStream<TaskInfo, any Error>.Continuation) {
        self.taskID = taskID
        self.kind = kind
        self.continuation = continuation
    }

    // MARK: - DrivenSubscription

    var service: SubscriptionRegistry.Service { .tasks }
    var subscribeCall: (method: String, params: JSONValue) {
        var params: JSONObject = [:]
        if let taskID { params["id"] = .string(taskID) }
        if let kind { params["kind"] = .string(kind) }
        return ("tasks.subscribe", .object(params))
    }
    var unsubscribeMethod: String { "tasks.unsubscribe" }
    var hasFinished: Bool { lock.withLock { isFinished } }

    /// A `tasks.changed` for this subscription (params `{subscriptions, task}`).
    func deliver(_ params: JSONValue) {
        guard let task = params["task"] else { return }
        lock.withLock { yieldLocked(task) }
    }

    /// The result `{subscription, task?}`: the watched task as the subscription began, then
    /// what came early, in order, before anything routed from now on (all under the lock
    /// that ``deliver(_:)`` takes).
    func subscribed(_ result: JSONValue, register: () -> [JSONValue]?) throws -> Bool {
        lock.withLock {
            guard let early = register() else { return false }
            if let taskID {
                guard let task = result["task"], !task.isNull else {
                    // The daemon's own words for an unknown id (`tasks.get`).
                    finishLocked(throwing: SidecarClientError.rpc(RPCError(
                        code: .notFound, message: "Not found: no task with id '\(taskID)' (it may have been purged)",
                        data: ["id": .string(taskID)])))
                    return true
                }
                yieldLocked(task)
            }
            for params in early {
                if let task = params["task"] { yieldLocked(task) }
            }
            return true
        }
    }

    func finish(throwing error: (any Error)?) {
        lock.withLock { finishLocked(throwing: error) }
    }

    // MARK: - Yielding (holding `lock`)

    /// Yields `task` unless it is the last one yielded; ends the stream after a final status of
    /// the watched task.
    private func yieldLocked(_ task: JSONValue) {
        guard !isFinished, task != lastYielded else { return }
        lastYielded = task
        let info: TaskInfo
        do {
            info = try TaskInfo(json: task, method: "tasks.changed")
        } catch {
            finishLocked(throwing: error)
            return
        }
        continuation.yield(info)
        if taskID != nil, info.status.isFinal { finishLocked(throwing: nil) }
    }

    private func finishLocked(throwing error: (any Error)?) {
        guard !isFinished else { return }
        isFinished = true
        continuation.finish(throwing: error)
    }
}
