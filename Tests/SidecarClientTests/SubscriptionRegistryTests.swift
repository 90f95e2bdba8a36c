import Foundation
import SidecarProtocol
import Testing

@testable import SidecarClient

/// How the client routes server notifications to its subscription streams.
@Suite("Subscription registry")
struct SubscriptionRegistryTests {
    /// A stream that records what it is given.
    private final class Recorder: RoutedSubscription, @unchecked Sendable {
        private let lock = NSLock()
        private var delivered: [JSONValue] = []
        private var lostEpochs: [Int] = []
        var deliveries: [JSONValue] { lock.withLock { delivered } }
        var losses: [Int] { lock.withLock { lostEpochs } }
        func deliver(_ params: JSONValue) { lock.withLock { delivered.append(params) } }
        func connectionLost(newEpoch: Int) { lock.withLock { lostEpochs.append(newEpoch) } }
    }

    private func tasksChanged(_ subscriptions: [Int64], status: String) -> RPCNotification {
        RPCNotification(method: "tasks.changed", params: ["subscriptions": .array(subscriptions.map(JSONValue.int)), "task": ["status": .string(status)]])
    }

    @Test("a tasks.changed reaches every registered subscription it names, once each; state and task ids do not mix")
    func routesByServiceAndID() {
        let registry = SubscriptionRegistry()
        let byTask = Recorder()
        let byKind = Recorder()
        let state = Recorder()
        #expect(registry.register(byTask, key: .init(service: .tasks, id: 1), epoch: 0) == [])
        #expect(registry.register(byKind, key: .init(service: .tasks, id: 2), epoch: 0) == [])
        #expect(registry.register(state, key: .init(service: .state, id: 1), epoch: 0) == [])

        #expect(registry.route(tasksChanged([1, 2], status: "running")))
        #expect(byTask.deliveries.count == 1 && byKind.deliveries.count == 1)
        #expect(state.deliveries.isEmpty, "state subscription 1 is not task subscription 1")
        #expect(registry.route(RPCNotification(method: "state.changed", params: ["subscription": 1, "value": 5, "revision": 3])))
        #expect(state.deliveries == [["subscription": 1, "value": 5, "revision": 3]])
        #expect(!registry.route(RPCNotification(method: "other.event", params: ["subscription": 1])), "not a subscription's")
    }

    @Test("notifications for an id not registered yet are held, in order and bounded, and handed over at registration")
    func earlyNotificationsAreHeld() {
        let registry = SubscriptionRegistry()
        for index in 0..<20 {
            #expect(!registry.route(tasksChanged([7], status: "s\(index)")), "nobody took it yet: it also goes to client.notifications")
        }
        let late = Recorder()
        let early = registry.register(late, key: .init(service: .tasks, id: 7), epoch: 0)
        #expect(early?.map { $0["task"]?["status"]?.stringValue } == (4..<20).map { "s\($0)" }, "the newest 16, oldest first")
        #expect(registry.register(Recorder(), key: .init(service: .tasks, id: 8), epoch: 0) == [], "claimed once")
    }

    @Test("a lost connection voids every id: registrations from before it are refused, and live streams are told")
    func lostConnectionsVoidIDs() {
        let registry = SubscriptionRegistry()
        let stream = Recorder()
        registry.add(stream)
        #expect(registry.register(stream, key: .init(service: .tasks, id: 1), epoch: 0) == [])
        registry.connectionLost()
        #expect(stream.losses == [1])
        #expect(!registry.route(tasksChanged([1], status: "queued")), "id 1 of the old connection routes nowhere")
        #expect(registry.register(stream, key: .init(service: .tasks, id: 1), epoch: 0) == nil, "made before the loss")
        #expect(registry.register(stream, key: .init(service: .tasks, id: 1), epoch: 1) != nil)
        registry.remove(stream, key: .init(service: .tasks, id: 1))
        #expect(registry.countLive() == 0 && registry.countRoutes() == 0)
    }
}
