import Foundation
import SidecarProtocol

// MARK: - Registry

/// The client's live state subscriptions: routes `state.changed` notifications to them by
/// subscription id, and tells them when the connection they subscribed on is gone.
///
/// Subscription ids are only meaningful on the connection that made them, so every
/// registration carries the *epoch* (the count of lost connections) it was made in; a
/// registration from an older epoch is refused and the subscription subscribes again.
/// `route` runs on the connection's event loop, everything else on callers' tasks: one lock.
final class StateSubscriptionRegistry: @unchecked Sendable {
    /// A notification that arrived before the response to the `state.subscribe` that made its
    /// subscription (the protocol allows it); claimed at registration.
    private struct Early {
        var value: JSONValue
        var revision: Int64
    }

    /// The most early notifications held: ids never registered (another caller's raw
    /// `state.subscribe`, or an abandoned one) must not pile up.
    private static let earlyLimit = 256

    private let lock = NSLock()
    private var epoch = 0
    private var routes: [Int64: StateSubscription] = [:]
    private var early: [Int64: Early] = [:]
    private var live: [ObjectIdentifier: StateSubscription] = [:]

    /// The current epoch; read it before sending `state.subscribe`.
    var currentEpoch: Int { lock.withLock { epoch } }

    /// Takes `state.changed` notifications of registered subscriptions; returns `false` for
    /// anything else, which then goes to ``SidecarClient/notifications``.
    @Sendable func route(_ notification: RPCNotification) -> Bool {
        guard notification.method == "state.changed",
            let params = notification.params,
            let id = params["subscription"]?.intValue,
            let revision = params["revision"]?.intValue
        else { return false }
        let value = params["value"] ?? .null
        let subscription: StateSubscription? = lock.withLock {
            if let subscription = routes[id] { return subscription }
            if early.count >= Self.earlyLimit, early[id] == nil { early.removeAll() }
            if (early[id]?.revision ?? .min) < revision { early[id] = Early(value: value, revision: revision) }
            return nil
        }
        guard let subscription else { return false }
        subscription.deliver(value, revision: revision)
        return true
    }

    /// How many subscription streams are live (for tests).
    func countLive() -> Int { lock.withLock { live.count } }

    /// Starts tracking `subscription`, so that it hears of lost connections.
    func add(_ subscription: StateSubscription) {
        lock.withLock { live[ObjectIdentifier(subscription)] = subscription }
    }

    /// Stops tracking `subscription` and routing to `id`.
    func remove(_ subscription: StateSubscription, id: Int64?) {
        lock.withLock {
            live[ObjectIdentifier(subscription)] = nil
            if let id, routes[id] === subscription { routes[id] = nil }
        }
    }

    /// Routes `id` to `subscription` if the connection has not changed since `epoch`.
    /// - Returns: the notification for `id` that arrived early, if any; `nil` when the epoch
    ///   is stale (the id belongs to a connection that is gone).
    func register(_ subscription: StateSubscription, id: Int64, epoch: Int) -> (value: JSONValue, revision: Int64)?? {
        lock.withLock {
            guard epoch == self.epoch else { return nil }
            routes[id] = subscription
            guard let held = early.removeValue(forKey: id) else { return .some(nil) }
            return .some((held.value, held.revision))
        }
    }

    /// The connection ended (or the client closed): every id is void; every live
    /// subscription subscribes again.
    func connectionLost() {
        let (subscriptions, newEpoch) = lock.withLock {
            epoch += 1
            routes.removeAll()
            early.removeAll()
            return (Array(live.values), epoch)
        }
        for subscription in subscriptions { subscription.connectionLost(newEpoch: newEpoch) }
    }
}

// MARK: - One subscription

/// One `client.state.subscribe(_:)` stream: subscribes, yields the slice, follows
/// `state.changed`, and subscribes again after each reconnect.
///
/// Values are yielded in revision order: a value whose revision is older than one already
/// yielded is dropped, so the stream always ends on the latest slice it has heard of.
final class StateSubscription: @unchecked Sendable {
    private let lock = NSLock()
    private let continuation: AsyncThrowingStream<JSONValue, any Error>.Continuation
    /// The revision of the last value yielded.
    private var lastRevision: Int64 = .min
    /// The epoch after each lost connection (newest only).
    private let lost: AsyncStream<Int>
    private let lostSink: AsyncStream<Int>.Continuation

    init(continuation: AsyncThrowingStream<JSONValue, any Error>.Continuation) {
        self.continuation = continuation
        (lost, lostSink) = AsyncStream.makeStream(of: Int.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// A `state.changed` for this subscription.
    func deliver(_ value: JSONValue, revision: Int64) {
        lock.withLock {
            guard revision > lastRevision else { return }
            lastRevision = revision
            continuation.yield(value)
        }
    }

    /// The slice a `state.subscribe` answered with. It is yielded even when its revision is
    /// the last one seen: after a daemon restart ephemeral paths are empty at the same revision.
    private func deliverCurrent(_ value: JSONValue, revision: Int64) {
        lock.withLock {
            guard revision >= lastRevision else { return }
            lastRevision = revision
            continuation.yield(value)
        }
    }

    /// The connection of epochs before `newEpoch` is gone.
    func connectionLost(newEpoch: Int) {
        lostSink.yield(newEpoch)
    }

    /// Subscribes and follows the slice until the task is cancelled (the consumer stopped),
    /// the client closes, or subscribing fails.
    func run(client: SidecarClient, selector: String) async {
        let registry = client.stateSubscriptions
        registry.add(self)
        var lostSignals = lost.makeAsyncIterator()
        var currentID: Int64?
        var registeredEpoch = -1
        defer {
            registry.remove(self, id: currentID)
            lostSink.finish()
        }
        while !Task.isCancelled {
            let epoch = registry.currentEpoch
            let result: JSONValue
            do {
                // Not cancelled with this task: a subscription the daemon made must be known
                // here, to be ended below, rather than leak on the connection.
                result = try await Task {
                    try await client.call("state.subscribe", params: ["selector": .string(selector), "fireImmediately": true])
                }.value
            } catch SidecarClientError.clientClosed {
                continuation.finish()
                return
            } catch {
                if Task.isCancelled { break }
                continuation.finish(throwing: error)
                return
            }
            guard let id = result["subscription"]?.intValue, let revision = result["revision"]?.intValue else {
                continuation.finish(throwing: SidecarClientError.decodingFailed(
                    method: "state.subscribe",
                    reason: "result: expected {subscription, revision, value}, got \(result)"
                ))
                return
            }
            currentID = nil
            guard let early = registry.register(self, id: id, epoch: epoch) else {
                continue  // made on a connection that has since gone: subscribe again
            }
            currentID = id
            registeredEpoch = epoch
            if Task.isCancelled { break }
            deliverCurrent(result["value"] ?? .null, revision: revision)
            if let early, early.revision > revision { deliver(early.value, revision: early.revision) }
            // Wait for this connection to go (or for the consumer to stop: `next` returns nil);
            // a signal left from an older connection is stale.
            var gone = false
            while let newEpoch = await lostSignals.next() {
                if newEpoch > epoch { gone = true; break }
            }
            guard gone, !Task.isCancelled else { break }
        }
        // The consumer stopped: end the subscription on the daemon (in a task of its own, as
        // this one is cancelled); an id from a connection that is gone means nothing now.
        if let currentID, registry.currentEpoch == registeredEpoch {
            await Task {
                _ = try? await client.call(
                    "state.unsubscribe",
                    params: ["subscription": .int(currentID)],
                    timeout: .seconds(2)
                )
            }.value
        }
        continuation.finish()
    }
}
