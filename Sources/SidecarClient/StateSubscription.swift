import Foundation
import SidecarProtocol

/// One `client.state.subscribe(_:)` stream: subscribes, yields the slice, follows
/// `state.changed`, and subscribes again after each reconnect (see ``SubscriptionDriver``).
///
/// Values are yielded in revision order: a value whose revision is older than one already
/// yielded is dropped, so the stream always ends on the latest slice it has heard of.
final class StateSubscription: DrivenSubscription, @unchecked Sendable {
    private let lock = NSLock()
    private let continuation: AsyncThrowingStream<JSONValue, any Error>.Continuation
    private let selector: String
    let driver = SubscriptionDriver()
    /// The revision of the last value yielded.
    private var lastRevision: Int64 = .min
    private var isFinished = false

    init(selector: String, continuation: AsyncThrowingStream<JSONValue, any Error>.Continuation) {
        self.selector = selector
        self.continuation = continuation
    }

    // MARK: - DrivenSubscription

    var service: SubscriptionRegistry.Service { .state }
    var subscribeCall: (method: String, params: JSONValue) {
        ("state.subscribe", ["selector": .string(selector), "fireImmediately": true])
    }
    var unsubscribeMethod: String { "state.unsubscribe" }
    var hasFinished: Bool { lock.withLock { isFinished } }

    /// A `state.changed` for this subscription (params `{subscription, value, revision, action}`).
    func deliver(_ params: JSONValue) {
        guard let revision = params["revision"]?.intValue else { return }
        deliver(params["value"] ?? .null, revision: revision)
    }

    /// The result `{subscription, value, revision}`: the slice now, then whatever came early
    /// and is newer.
    func subscribed(_ result: JSONValue, register: () -> [JSONValue]?) throws -> Bool {
        guard let revision = result["revision"]?.intValue else {
            throw SidecarClientError.decodingFailed(
                method: "state.subscribe", reason: "result: expected {subscription, revision, value}, got \(result)")
        }
        guard let early = register() else { return false }
        deliverCurrent(result["value"] ?? .null, revision: revision)
        for params in early { deliver(params) }
        return true
    }

    func finish(throwing error: (any Error)?) {
        lock.withLock {
            guard !isFinished else { return }
            isFinished = true
            continuation.finish(throwing: error)
        }
    }

    // MARK: - Yielding

    private func deliver(_ value: JSONValue, revision: Int64) {
        lock.withLock {
            guard !isFinished, revision > lastRevision else { return }
            lastRevision = revision
            continuation.yield(value)
        }
    }

    /// The slice a `state.subscribe` answered with. It is yielded even when its revision is
    /// the last one seen: after a daemon restart ephemeral paths are empty at the same revision.
    private func deliverCurrent(_ value: JSONValue, revision: Int64) {
        lock.withLock {
            guard !isFinished, revision >= lastRevision else { return }
            lastRevision = revision
            continuation.yield(value)
        }
    }
}
