import NIOCore
import SidecarProtocol

/// Sends server notifications to one client connection, from any thread or task.
///
/// Services keep one per subscriber (a state subscription, a task watcher). While the peer
/// is not reading, notifications with the same `coalescingKey` replace each other, so a slow
/// reader costs memory bounded by its keys; see PROTOCOL.md, "Back-pressure".
///
/// ```swift
/// context.notifier.send(RPCNotification(method: "state.changed", params: params), coalescingKey: subscriptionID)
/// ```
public struct ConnectionNotifier: Sendable {
    private let eventLoop: any EventLoop
    private let handler: NIOLoopBound<WeakHandler>

    final class WeakHandler {
        weak var handler: RPCConnectionHandler?

        init(_ handler: RPCConnectionHandler) {
            self.handler = handler
        }
    }

    init(handler: RPCConnectionHandler, eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.handler = NIOLoopBound(WeakHandler(handler), eventLoop: eventLoop)
    }

    /// Queues `notification` for the connection; does nothing once the connection has closed.
    public func send(_ notification: RPCNotification, coalescingKey: String) {
        let handler = self.handler
        eventLoop.execute {
            handler.value.handler?.send(notification, coalescingKey: coalescingKey)
        }
    }
}
