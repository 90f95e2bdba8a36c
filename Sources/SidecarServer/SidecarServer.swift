#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import ServiceLifecycle
import SidecarProtocol

/// The daemon's transport: listens on the Unix socket (bound, or passed by socket
/// activation), admits connections, serves JSON-RPC on them, and shuts down gracefully.
///
/// It is a swift-service-lifecycle `Service`: `run()` returns after a graceful shutdown or
/// an idle exit.
///
/// ```swift
/// let server = SidecarServer(configuration: ServerConfiguration(socketPath: path), logger: logger)
/// try await ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm], logger: logger).run()
/// ```
public final class SidecarServer: Service, Sendable {
    public let configuration: ServerConfiguration
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    /// Whether `run()` shuts the group down (it made it).
    private let ownsGroup: Bool
    private let metrics: ServerMetrics
    private let router: MethodRouter
    private let introspection: ServerIntrospection
    private let shutdown = ShutdownSignal()
    private let events: ServerEvents
    private let hasPendingWork: @Sendable () -> Bool

    /// Creates a server; nothing listens until `run()`.
    /// - Parameters:
    ///   - configuration: limits, socket path and timeouts.
    ///   - logger: where the transport logs.
    ///   - events: callbacks for readiness and shutdown, used by the daemon for sd_notify.
    ///   - services: the state store and the other services whose methods the daemon serves.
    ///   - hasPendingWork: whether a service still has work that must keep the daemon up
    ///     (checked before an idle exit).
    ///   - registerMethods: binds the services' methods to the router.
    ///   - eventLoopGroup: the loops that serve the connections, shared with the services
    ///     (``StateService`` owns its document on one of them); the caller shuts it down after
    ///     `run()` returns. Without one the server makes its own with `configuration.threads`
    ///     threads and shuts it down itself.
    public init(
        configuration: ServerConfiguration,
        eventLoopGroup: MultiThreadedEventLoopGroup? = nil,
        logger: Logger,
        events: ServerEvents = ServerEvents(),
        services: SidecarServices? = nil,
        hasPendingWork: @escaping @Sendable () -> Bool = { false },
        registerMethods: (inout MethodRouter) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.events = events
        self.hasPendingWork = hasPendingWork
        self.ownsGroup = eventLoopGroup == nil
        self.group = eventLoopGroup ?? MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        let metrics = ServerMetrics(eventLoops: Array(group.makeIterator()))
        self.metrics = metrics
        let introspection = ServerIntrospection(configuration: configuration, metrics: metrics, services: services)
        self.introspection = introspection
        var router = MethodRouter()
        SidecarMethods.register(into: &router, server: introspection)
        services?.register(into: &router)
        registerMethods(&router)
        self.router = router
    }

    /// The methods the server answers, sorted.
    public var methodNames: [String] { router.methodNames }

    /// The number of open client connections.
    public var connectionCount: Int { metrics.connectionsCurrent.load(ordering: .relaxed) }

    // MARK: - Running

    public func run() async throws {
        do {
            try await serve()
        } catch {
            if ownsGroup { try? await group.shutdownGracefully() }
            throw error
        }
        // Only once everything that holds the loops (the listener, its quiescing helper) is gone.
        if ownsGroup { try await group.shutdownGracefully() }
        logger.info("stopped")
    }

    private func serve() async throws {
        let listener = try await listen()
        let channel = listener.channel
        logger.info(
            "listening on \(listener.path)",
            metadata: ["activated": "\(listener.activated)", "pid": "\(getpid())"]
        )
        events.ready(listener.path)

        let stop = AsyncStream.makeStream(of: Void.self)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { tasks in
                tasks.addTask { for await _ in stop.stream { return } }
                if let idle = configuration.idleExitSeconds, idle > 0 {
                    tasks.addTask { await self.waitUntilIdle(seconds: idle, serverChannel: channel) }
                }
                await tasks.next()
                tasks.cancelAll()
            }
        } onGracefulShutdown: {
            stop.continuation.yield()
        }

        shutdown.trigger()
        events.stopping()
        logger.info("shutting down", metadata: ["connections": "\(connectionCount)"])
        await drain(listener.quiescing)
        if !listener.activated { _ = unlink(listener.path) }
    }

    /// Stops accepting, lets in-flight requests finish (bounded by the shutdown timeout),
    /// then closes whatever is left.
    private func drain(_ quiescing: ServerQuiescingHelper) async {
        let drained = group.next().makePromise(of: Void.self)
        quiescing.initiateShutdown(promise: drained)
        let timeout = TimeAmount.nanoseconds(Int64(configuration.shutdownTimeoutSeconds * 1e9))
        let timer = group.next().scheduleTask(in: timeout) {
            drained.fail(ShutdownTimedOut())
        }
        do {
            try await drained.futureResult.get()
            timer.cancel()
        } catch {
            logger.warning("shutdown timeout reached; closing the remaining connections", metadata: ["timeoutSeconds": "\(configuration.shutdownTimeoutSeconds)"])
        }
    }

    private struct ShutdownTimedOut: Error {}

    // MARK: - Idle exit

    /// Returns once the daemon has been idle (no connection, no request, no pending work)
    /// for `seconds`, with accepting paused so no connection is lost: a connection that
    /// arrives after the pause waits in the socket's backlog for the next activation.
    private func waitUntilIdle(seconds: Double, serverChannel: any Channel) async {
        let period = min(1.0, seconds / 4)
        var idleSince: NIODeadline?
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(period))
            guard isIdle else {
                idleSince = nil
                continue
            }
            let since = idleSince ?? .now()
            idleSince = since
            guard NIODeadline.now() - since >= .nanoseconds(Int64(seconds * 1e9)) else { continue }
            // Pause accepting, let any accept already under way finish, then look again.
            try? await serverChannel.setOption(ChannelOptions.autoRead, value: false).get()
            try? await serverChannel.eventLoop.submit {}.get()
            if isIdle {
                logger.info("idle for \(seconds) s, exiting", metadata: ["idleExitSeconds": "\(seconds)"])
                return
            }
            try? await serverChannel.setOption(ChannelOptions.autoRead, value: true).get()
            idleSince = nil
        }
    }

    private var isIdle: Bool {
        metrics.connectionsCurrent.load(ordering: .relaxed) == 0
            && metrics.requestsInFlight.load(ordering: .relaxed) == 0
            && !hasPendingWork()
    }

    // MARK: - Listening

    private struct Listener {
        var channel: any Channel
        var path: String
        var activated: Bool
        var quiescing: ServerQuiescingHelper
    }

    private func listen() async throws -> Listener {
        let quiescing = ServerQuiescingHelper(group: group)
        let bootstrap = makeBootstrap(quiescing: quiescing)
        // Where the server listens is recorded before the first connection can be accepted:
        // under socket activation a client is usually already waiting, and may ask at once.
        if let descriptor = try SocketActivation.takeListeningSocket() {
            let path = SocketActivation.boundPath(of: descriptor) ?? configuration.socketPath
            introspection.listening(on: path, activated: true)
            let channel = try await bootstrap.withBoundSocket(descriptor).get()
            return Listener(channel: channel, path: path, activated: true, quiescing: quiescing)
        }
        let path = configuration.socketPath
        introspection.listening(on: path, activated: false)
        try await SocketFile.prepare(path, group: group)
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false).get()
        } catch {
            throw ServerStartupError("cannot listen on \(path): \(error)")
        }
        try SocketFile.restrictToOwner(path)
        return Listener(channel: channel, path: path, activated: false, quiescing: quiescing)
    }

    private func makeBootstrap(quiescing: ServerQuiescingHelper) -> ServerBootstrap {
        let admission = ConnectionAdmission(
            router: router,
            configuration: configuration,
            metrics: metrics,
            policy: PeerPolicy(ownerUID: getuid(), allowedUIDs: configuration.allowedUIDs),
            shutdown: shutdown,
            logger: logger
        )
        return ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 256 * 1024))
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 1)
            // A peer that half-closes after its last request still gets the answers.
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in admission.admit(channel) }
    }
}

/// Callbacks from the server to the process that runs it (the daemon uses them for sd_notify).
public struct ServerEvents: Sendable {
    /// Called once the socket accepts requests, with its path.
    public var ready: @Sendable (String) -> Void
    /// Called when a graceful shutdown begins.
    public var stopping: @Sendable () -> Void

    public init(ready: @escaping @Sendable (String) -> Void = { _ in }, stopping: @escaping @Sendable () -> Void = {}) {
        self.ready = ready
        self.stopping = stopping
    }
}

