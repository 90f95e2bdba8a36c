import Atomics
import Logging
import NIOCore
import SidecarProtocol

/// Decides, for each accepted connection, whether it is served: under the connection limit,
/// and from a permitted user. A refused connection gets one error frame and is closed; an
/// admitted one gets the framing and RPC handlers.
struct ConnectionAdmission: Sendable {
    let router: MethodRouter
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let policy: PeerPolicy
    let shutdown: ShutdownSignal
    let logger: Logger
    private let nextConnectionID = ManagedAtomic<UInt64>(1)

    init(
        router: MethodRouter,
        configuration: ServerConfiguration,
        metrics: ServerMetrics,
        policy: PeerPolicy,
        shutdown: ShutdownSignal,
        logger: Logger
    ) {
        self.shutdown = shutdown
        self.router = router
        self.configuration = configuration
        self.metrics = metrics
        self.policy = policy
        self.logger = logger
    }

    /// Sets up `channel`'s pipeline; runs on the channel's event loop.
    func admit(_ channel: any Channel) -> EventLoopFuture<Void> {
        let id = nextConnectionID.loadThenWrappingIncrement(ordering: .relaxed)
        let open = metrics.connectionsCurrent.wrappingIncrementThenLoad(ordering: .relaxed)
        guard open <= configuration.maximumConnections else {
            metrics.connectionsCurrent.wrappingDecrement(ordering: .relaxed)
            metrics.connectionRefused()
            logger.warning("refusing connection: limit reached", metadata: ["maximumConnections": "\(configuration.maximumConnections)"])
            return refuse(channel, with: .serverBusy(maximumConnections: configuration.maximumConnections))
        }
        metrics.connectionsCurrent.wrappingDecrement(ordering: .relaxed)  // counted again once admitted
        return PeerCredentials.read(from: channel).flatMap { peer in
            guard policy.allows(peer.uid) else {
                metrics.connectionRefused()
                logger.warning("refusing connection from another user", metadata: ["uid": "\(peer.uid)", "pid": "\(peer.pid)"])
                return refuse(channel, with: .permissionDenied(uid: peer.uid))
            }
            logger.debug("connection accepted", metadata: ["connection": "\(id)", "uid": "\(peer.uid)", "pid": "\(peer.pid)"])
            return serve(channel, connection: ConnectionInfo(id: id, uid: peer.uid, pid: peer.pid))
        }
    }

    private func serve(_ channel: any Channel, connection: ConnectionInfo) -> EventLoopFuture<Void> {
        metrics.connectionOpened()
        let metrics = self.metrics
        channel.closeFuture.whenComplete { _ in metrics.connectionClosed() }
        return channel.eventLoop.makeCompletedFuture {
            let handlers = channel.pipeline.syncOperations
            try handlers.addHandler(
                RPCConnectionHandler(
                    router: router,
                    connection: connection,
                    shard: metrics.shard(for: channel.eventLoop),
                    serverMetrics: metrics,
                    maximumOutboundBytes: configuration.maximumOutboundBytes,
                    maximumFrameLength: configuration.maximumFrameLength,
                    shutdown: shutdown,
                    logger: logger
                )
            )
        }
    }

    private func refuse(_ channel: any Channel, with error: RPCError) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(RefusingHandler(error: error))
        }
    }
}
