import Foundation
import SidecarProtocol

/// A client-side stream fed by server notifications: a `client.state.subscribe` or a
/// `client.tasks.watch`.
protocol RoutedSubscription: AnyObject, Sendable {
    /// The params of a notification for this subscription; called on the connection's event
    /// loop, in the order the notifications arrived.
    func deliver(_ params: JSONValue)
    /// The connection of epochs before `newEpoch` is gone: the subscription's id means nothing now.
    func connectionLost(newEpoch: Int)
}

/// The client's live subscription streams: routes `state.changed` and `tasks.changed`
/// notifications to them by subscription id, and tells them when the connection they
/// subscribed on is gone.
///
/// Subscription ids are only meaningful on the connection that made them (and each service
/// numbers its own), so every registration carries the *epoch* (the count of lost
/// connections) it was made in; a registration from an older epoch is refused and the
/// subscription subscribes again. `route` runs on the connection's event loop, everything
/// else on callers' tasks: one lock.
final class SubscriptionRegistry: @unchecked Sendable {
    /// The service whose subscription ids a key holds.
    enum Service: Hashable, Sendable {
        case state
        case tasks
    }

    /// A subscription id of one service.
    struct Key: Hashable, Sendable {
        var service: Service
        var id: Int64
    }

    /// The most subscriptions with early notifications held: ids never registered (another
    /// caller's raw `state.subscribe`, or an abandoned one) must not pile up.
    private static let earlyKeyLimit = 256
    /// The most early notifications held per subscription, the newest kept: they only bridge
    /// the moment between a subscribe call's answer and its registration (a task watch may
    /// skip a state then, as a slow reader's coalesced notifications do).
    private static let earlyPerKeyLimit = 16

    private let lock = NSLock()
    private var epoch = 0
    private var routes: [Key: any RoutedSubscription] = [:]
    /// Notifications that arrived before the response to the subscribe call that made their
    /// subscription (the protocol allows it), in arrival order; claimed at registration.
    private var early: [Key: [JSONValue]] = [:]
    private var live: [ObjectIdentifier: any RoutedSubscription] = [:]

    /// The current epoch; read it before sending the subscribe call.
    var currentEpoch: Int { lock.withLock { epoch } }

    /// Takes the notifications of registered subscriptions; returns `false` for anything else,
    /// which then goes to ``SidecarClient/notifications``.
    @Sendable func route(_ notification: RPCNotification) -> Bool {
        guard let params = notification.params else { return false }
        let service: Service
        let ids: [Int64]
        switch notification.method {
        case "state.changed":
            service = .state
            ids = params["subscription"]?.intValue.map { [$0] } ?? []
        case "tasks.changed":
            service = .tasks
            ids = params["subscriptions"]?.arrayValue?.compactMap(\.intValue) ?? []
        default:
            return false
        }
        let targets: [any RoutedSubscription] = lock.withLock {
            var targets: [any RoutedSubscription] = []
            for id in ids {
                let key = Key(service: service, id: id)
                if let subscription = routes[key] {
                    targets.append(subscription)
                    continue
                }
                if early.count >= Self.earlyKeyLimit, early[key] == nil { early.removeAll() }
                early[key, default: []].append(params)
                if early[key, default: []].count > Self.earlyPerKeyLimit { early[key]?.removeFirst() }
            }
            return targets
        }
        for subscription in targets { subscription.deliver(params) }
        return !targets.isEmpty
    }

    /// How many subscription streams are live (for tests).
    func countLive() -> Int { lock.withLock { live.count } }

    /// How many subscriptions the daemon has confirmed and notifications are routed to (for tests).
    func countRoutes() -> Int { lock.withLock { routes.count } }

    /// Starts tracking `subscription`, so that it hears of lost connections.
    func add(_ subscription: any RoutedSubscription) {
        lock.withLock { live[ObjectIdentifier(subscription)] = subscription }
    }

    /// Stops tracking `subscription` and routing `key` to it.
    func remove(_ subscription: any RoutedSubscription, key: Key?) {
        lock.withLock {
            live[ObjectIdentifier(subscription)] = nil
            if let key, routes[key] === subscription { routes[key] = nil }
        }
    }

    /// Routes `key` to `subscription` if the connection has not changed since `epoch`.
    /// - Returns: the notifications for `key` that arrived early, oldest first; `nil` when
    ///   the epoch is stale (the id belongs to a connection that is gone).
    func register(_ subscription: any RoutedSubscription, key: Key, epoch: Int) -> [JSONValue]? {
        lock.withLock {
            guard epoch == self.epoch else { return nil }
            routes[key] = subscription
            return early.removeValue(forKey: key) ?? []
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
