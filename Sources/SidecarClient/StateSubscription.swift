import Foundation
import SidecarProtocol

/// One `client.state.subscribe(_:)` stream: subscribes, yields the slice, follows
/// `state.changed`, and subscribes again after each reconnect.
///
/// Values are yielded in revision order: a value whose revision is older than one already
/// yielded is dropped, so the stream always ends on the latest slice it has heard of.
final class StateSubscription: RoutedSubscription, @unchecked Sendable {
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

    /// A `state.changed` for this subscription (params `{subscription, value, revision, action}`).
    func deliver(_ params: JSONValue) {
        guard let revision = params["revision"]?.intValue else { return }
        deliver(params["value"] ?? .null, revision: revision)
    }

    private func deliver(_ value: JSONValue, revision: Int64) {
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
        let registry = client.subscriptions
        registry.add(self)
        var lostSignals = lost.makeAsyncIterator()
        var currentKey: SubscriptionRegistry.Key?
        var registeredEpoch = -1
        defer {
            registry.remove(self, key: currentKey)
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
            } catch SidecarClientError.connectionClosed where client.configuration.reconnect.isEnabled {
                // Sent on a connection that then dropped (a daemon that died just after
                // accepting it): the client reconnects, and the next call waits for that.
                continue
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
            currentKey = nil
            let key = SubscriptionRegistry.Key(service: .state, id: id)
            guard let early = registry.register(self, key: key, epoch: epoch) else {
                continue  // made on a connection that has since gone: subscribe again
            }
            currentKey = key
            registeredEpoch = epoch
            if Task.isCancelled { break }
            deliverCurrent(result["value"] ?? .null, revision: revision)
            for params in early { deliver(params) }  // only those newer than the current slice yield
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
        if let currentKey, registry.currentEpoch == registeredEpoch {
            await Task {
                _ = try? await client.call(
                    "state.unsubscribe",
                    params: ["subscription": .int(currentKey.id)],
                    timeout: .seconds(2)
                )
            }.value
        }
        continuation.finish()
    }
}
