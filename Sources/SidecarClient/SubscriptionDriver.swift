import SidecarProtocol

/// A subscription stream as ``SubscriptionDriver`` runs it: what to call, and what to do with
/// the answer.
protocol DrivenSubscription: RoutedSubscription {
    /// Runs the stream's subscription (one driver per stream).
    var driver: SubscriptionDriver { get }
    /// Whose subscription ids it holds.
    var service: SubscriptionRegistry.Service { get }
    /// The subscribe call (`state.subscribe`, `tasks.subscribe`) and its params.
    var subscribeCall: (method: String, params: JSONValue) { get }
    /// The call that ends a subscription, given `{"subscription": id}`.
    var unsubscribeMethod: String { get }
    /// Whether the stream has ended (then nothing more is subscribed).
    var hasFinished: Bool { get }
    /// Takes a subscribe call's result: calls `register` (which routes the subscription's
    /// notifications to it and returns those that came early, or `nil` when the connection
    /// it was made on is gone) and yields what the result and the early notifications hold.
    /// - Returns: `false` when `register` returned `nil`: the driver subscribes again.
    /// - Throws: when the result is not what the method answers; the stream ends with it.
    func subscribed(_ result: JSONValue, register: () -> [JSONValue]?) throws -> Bool
    /// Ends the stream, with `error` or without; later calls do nothing.
    func finish(throwing error: (any Error)?)
}

extension DrivenSubscription {
    func connectionLost(newEpoch: Int) {
        driver.connectionLost(newEpoch: newEpoch)
    }

    /// Starts the subscription on `client` in a task of its own, which is cancelled (and the
    /// subscription ended) once the consumer stops: call it with the stream's continuation.
    func start<Element>(on client: SidecarClient, endingWith continuation: AsyncThrowingStream<Element, any Error>.Continuation) {
        let task = Task { await driver.run(self, client: client) }
        continuation.onTermination = { _ in task.cancel() }
    }
}

/// Runs the life of one subscription stream: subscribe, follow the notifications until the
/// connection goes, subscribe again on the next one, and unsubscribe once the consumer
/// stops, the stream ends or the client closes.
///
/// Subscription ids mean something only on the connection that made them, so each is
/// registered with the epoch it was made in (see ``SubscriptionRegistry``); one made on a
/// connection that has since gone is dropped and the call made again.
final class SubscriptionDriver: Sendable {
    /// The epoch after each lost connection (the newest only).
    private let lost: AsyncStream<Int>
    private let lostSink: AsyncStream<Int>.Continuation

    init() {
        (lost, lostSink) = AsyncStream.makeStream(of: Int.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The connection of epochs before `newEpoch` is gone.
    func connectionLost(newEpoch: Int) {
        lostSink.yield(newEpoch)
    }

    /// Runs `subscription` until its task is cancelled (the consumer stopped), it finishes,
    /// the client closes, or subscribing fails (the stream then ends with the error).
    func run(_ subscription: some DrivenSubscription, client: SidecarClient) async {
        let registry = client.subscriptions
        registry.add(subscription)
        var lostSignals = lost.makeAsyncIterator()
        var currentKey: SubscriptionRegistry.Key?
        var registeredEpoch = -1
        defer {
            registry.remove(subscription, key: currentKey)
            lostSink.finish()
        }
        let call = subscription.subscribeCall
        while !Task.isCancelled, !subscription.hasFinished {
            let epoch = registry.currentEpoch
            let result: JSONValue
            do {
                // Not cancelled with this task: a subscription the daemon made must be known
                // here, to be ended below, rather than leak on the connection.
                result = try await Task { try await client.call(call.method, params: call.params) }.value
            } catch SidecarClientError.clientClosed {
                break
            } catch SidecarClientError.connectionClosed where client.configuration.reconnect.isEnabled {
                // Sent on a connection that then dropped (a daemon that died just after
                // accepting it): the client reconnects, and the next call waits for that.
                continue
            } catch {
                if Task.isCancelled { break }
                subscription.finish(throwing: error)
                return
            }
            let key: SubscriptionRegistry.Key
            do {
                guard let id = result["subscription"]?.intValue else {
                    throw SidecarClientError.decodingFailed(
                        method: call.method, reason: "result: expected an integer 'subscription', got \(result)")
                }
                key = SubscriptionRegistry.Key(service: subscription.service, id: id)
                currentKey = nil
                guard try subscription.subscribed(result, register: { registry.register(subscription, key: key, epoch: epoch) })
                else { continue }  // made on a connection that has since gone: subscribe again
            } catch {
                subscription.finish(throwing: error)
                return
            }
            currentKey = key
            registeredEpoch = epoch
            if Task.isCancelled || subscription.hasFinished { break }
            // Wait for this connection to go, or for the consumer to stop (`next` returns nil);
            // a signal left from an older connection is stale.
            var gone = false
            while let newEpoch = await lostSignals.next() {
                if newEpoch > epoch { gone = true; break }
            }
            guard gone, !Task.isCancelled else { break }
        }
        // End the subscription on the daemon (in a task of its own, as this one may be
        // cancelled); an id from a connection that is gone means nothing now.
        if let currentKey, registry.currentEpoch == registeredEpoch {
            let method = subscription.unsubscribeMethod
            await Task {
                _ = try? await client.call(method, params: ["subscription": .int(currentKey.id)], timeout: .seconds(2))
            }.value
        }
        subscription.finish(throwing: nil)
    }
}
