import Foundation
import Logging
import NIOCore
import SidecarProtocol

/// A connection to the `sidecard` daemon: calls, notifications and batches over JSON-RPC 2.0,
/// with many calls in flight at once and automatic reconnection.
///
/// ```swift
/// let client = try await SidecarClient.connect()          // $SIDECAR_SOCKET, or the default path
/// let pong = try await client.call("sidecar.ping")        // "pong"
/// let status = try await client.call("sidecar.status")
/// print(status["pid"]?.intValue ?? 0)
/// await client.close()
/// ```
///
/// Calls are safe from any task. Each gets a fresh id; replies are matched by id, in whatever
/// order the daemon sends them. A daemon error is thrown as ``SidecarClientError/rpc(_:)``.
///
/// When the connection drops, calls in flight fail with ``SidecarClientError/connectionClosed``
/// (they may have run), the client reconnects following ``Configuration/reconnect``, new calls
/// wait for the new connection until their timeout, and ``Configuration/onReconnect`` runs.
public actor SidecarClient {
    /// The socket path this client connects (and reconnects) to.
    public nonisolated let path: String
    /// The configuration the client was connected with.
    public nonisolated let configuration: Configuration
    /// Notifications the daemon sends on its own, in arrival order, across reconnects.
    ///
    /// Iterate it from one task. At most ``Configuration/notificationBufferSize`` unread
    /// notifications are kept (the newest); the stream ends when the client is closed.
    ///
    /// ```swift
    /// Task {
    ///     for await notification in client.notifications {
    ///         print(notification.method, notification.params ?? .null)
    ///     }
    /// }
    /// ```
    public nonisolated let notifications: AsyncStream<RPCNotification>

    private nonisolated let notificationSink: AsyncStream<RPCNotification>.Continuation
    /// The live `state.subscribe` and `tasks.watch` streams: routes `state.changed` and
    /// `tasks.changed` to them, and tells them when the connection they subscribed on is gone.
    nonisolated let subscriptions: SubscriptionRegistry
    private var machine: ConnectionStateMachine<Connection, ConnectionWaiter>
    private var nextRequestID: Int64 = 1
    private var nextWaiterID = 0
    private var reconnectTask: Task<Void, Never>?
    private nonisolated var logger: Logger { configuration.logger }

    /// A call parked while the client reconnects.
    private struct ConnectionWaiter: Sendable {
        var continuation: CheckedContinuation<(Connection, Int), any Error>
        var timeout: Task<Void, Never>
    }

    // MARK: - Connecting

    /// Connects to the daemon.
    ///
    /// One attempt is made: a daemon that is not there fails here, at once, rather than after
    /// a round of retries. Reconnecting applies to connections that drop later.
    ///
    /// ```swift
    /// let client = try await SidecarClient.connect(to: "/run/user/1000/sidecar/sidecar.sock")
    /// ```
    /// - Parameters:
    ///   - path: the socket; `nil` resolves it with ``SocketPath/resolve(explicit:environment:uid:)``
    ///     from the process environment (`$SIDECAR_SOCKET`, then `$XDG_RUNTIME_DIR`, then `/tmp`).
    ///   - configuration: timeouts, reconnect policy, hooks.
    /// - Returns: a connected client; call ``close()`` when done.
    /// - Throws: ``SidecarClientError/cannotConnect(path:reason:)`` naming the path tried.
    public static func connect(
        to path: String? = nil,
        configuration: Configuration = Configuration()
    ) async throws(SidecarClientError) -> SidecarClient {
        let path = SocketPath.resolve(explicit: path, environment: ProcessInfo.processInfo.environment)
        let (notifications, sink) = AsyncStream.makeStream(
            of: RPCNotification.self,
            bufferingPolicy: .bufferingNewest(max(1, configuration.notificationBufferSize))
        )
        let registry = SubscriptionRegistry()
        let connection: Connection
        do {
            connection = try await Connection.open(
                path: path,
                configuration: configuration,
                notifications: sink,
                intercept: registry.route
            )
        } catch {
            sink.finish()
            throw error
        }
        let client = SidecarClient(
            path: path,
            configuration: configuration,
            connection: connection,
            notifications: notifications,
            sink: sink,
            subscriptions: registry
        )
        await client.watch(connection, generation: 0)
        return client
    }

    /// Connects, runs `body` with the client, and closes the client however `body` ends.
    ///
    /// ```swift
    /// let status = try await SidecarClient.withClient { client in
    ///     try await client.call("sidecar.status")
    /// }
    /// ```
    /// - Parameters:
    ///   - path: the socket, as for ``connect(to:configuration:)``.
    ///   - configuration: timeouts, reconnect policy, hooks.
    ///   - body: what to do with the connected client.
    /// - Returns: what `body` returns.
    /// - Throws: ``SidecarClientError/cannotConnect(path:reason:)``, or what `body` throws.
    public static func withClient<Result>(
        to path: String? = nil,
        configuration: Configuration = Configuration(),
        _ body: (SidecarClient) async throws -> Result
    ) async throws -> Result {
        let client = try await connect(to: path, configuration: configuration)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    private init(
        path: String,
        configuration: Configuration,
        connection: Connection,
        notifications: AsyncStream<RPCNotification>,
        sink: AsyncStream<RPCNotification>.Continuation,
        subscriptions: SubscriptionRegistry
    ) {
        self.subscriptions = subscriptions
        self.path = path
        self.configuration = configuration
        self.notifications = notifications
        self.notificationSink = sink
        self.machine = ConnectionStateMachine(connection: connection, reconnectEnabled: configuration.reconnect.isEnabled)
    }

    deinit {
        reconnectTask?.cancel()
        notificationSink.finish()
        if case .connected(let connection, _) = machine.state {
            connection.channel.close(promise: nil)
        }
    }

    /// Closes the connection and stops reconnecting. Calls in flight fail with
    /// ``SidecarClientError/connectionClosed``, later calls with ``SidecarClientError/clientClosed``,
    /// and ``notifications`` ends.
    ///
    /// ```swift
    /// defer { Task { await client.close() } }
    /// ```
    public func close() async {
        let (connection, waiters) = machine.close()
        reconnectTask?.cancel()
        reconnectTask = nil
        for waiter in waiters {
            waiter.timeout.cancel()
            waiter.continuation.resume(throwing: SidecarClientError.clientClosed)
        }
        notificationSink.finish()
        subscriptions.connectionLost()
        if let connection {
            try? await connection.channel.close()
        }
    }

    // MARK: - Calls

    /// Calls `method` and returns its result.
    ///
    /// ```swift
    /// let value = try await client.call("sidecar.echo", params: ["value": [1, 2, 3]])
    /// ```
    /// - Parameters:
    ///   - method: the method name, e.g. `sidecar.status`.
    ///   - params: an array or object, or `nil` to send none.
    ///   - timeout: the limit for the whole call (waiting for a reconnect, sending, the reply);
    ///     `nil` uses ``Configuration/defaultTimeout``.
    /// - Returns: the `result` member of the reply.
    /// - Throws: ``SidecarClientError/rpc(_:)`` with the daemon's error; ``SidecarClientError/timedOut``,
    ///   ``SidecarClientError/connectionClosed``, ``SidecarClientError/clientClosed``,
    ///   ``SidecarClientError/cannotConnect(path:reason:)`` (while reconnecting), or `CancellationError`.
    public nonisolated func call(
        _ method: String,
        params: JSONValue? = nil,
        timeout: Duration? = nil
    ) async throws -> JSONValue {
        let results = try await send([.call(method, params: params)], asBatch: false, timeout: timeout)
        guard let result = results.first else { throw SidecarClientError.connectionClosed }
        return try result.mapError(SidecarClientError.rpc).get()
    }

    /// Sends a notification: a request without an id, which the daemon runs but never answers.
    /// Returns once the request has been written to the socket.
    ///
    /// ```swift
    /// try await client.notify("sidecar.echo", params: ["value": "ignored"])
    /// ```
    /// - Throws: ``SidecarClientError`` when it could not be written before `timeout`.
    public nonisolated func notify(
        _ method: String,
        params: JSONValue? = nil,
        timeout: Duration? = nil
    ) async throws {
        _ = try await send([.notification(method, params: params)], asBatch: false, timeout: timeout)
    }

    /// Sends several calls and notifications in one frame (a JSON-RPC batch).
    ///
    /// ```swift
    /// let results = try await client.batch([.call("sidecar.ping"), .call("no.such.method")])
    /// // [.success("pong"), .failure(RPCError(code: .methodNotFound, …))]
    /// ```
    /// - Parameters:
    ///   - calls: the elements, in order. An empty list sends nothing and returns `[]`.
    ///   - timeout: the limit for the whole batch; `nil` uses ``Configuration/defaultTimeout``.
    /// - Returns: one result per element that is not a notification, in the order of `calls`;
    ///   a daemon error for one element is that element's `.failure`. A batch of notifications
    ///   only returns `[]` as soon as it is written (the daemon sends no reply to it).
    /// - Throws: ``SidecarClientError`` when the batch as a whole fails (timeout, connection lost).
    public nonisolated func batch(
        _ calls: [BatchCall],
        timeout: Duration? = nil
    ) async throws -> [Result<JSONValue, RPCError>] {
        guard !calls.isEmpty else { return [] }
        return try await send(calls, asBatch: true, timeout: timeout)
    }

    /// Calls `sidecar.ping` and returns the round-trip time.
    ///
    /// ```swift
    /// let rtt = try await client.ping()
    /// print("pong in \(rtt)")
    /// ```
    /// - Throws: as ``call(_:params:timeout:)``, or ``SidecarClientError/protocolViolation(_:)``
    ///   when the answer is not `"pong"`.
    public nonisolated func ping(timeout: Duration? = nil) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        let answer = try await call("sidecar.ping", timeout: timeout)
        let elapsed = clock.now - start
        guard answer == "pong" else {
            throw SidecarClientError.protocolViolation("sidecar.ping answered \(answer), not \"pong\"")
        }
        return elapsed
    }

    // MARK: - Introspection

    /// The calls written on the current connection and not yet answered (for tests).
    func pendingCallCount() async throws -> Int {
        guard case .connected(let connection, _) = machine.state else { return 0 }
        let channel = connection.channel
        return try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: RPCClientHandler.self).pendingCount
        }.get()
    }

    // MARK: - Sending

    /// Writes `calls` as one frame and waits for the replies of those that expect one.
    private nonisolated func send(
        _ calls: [BatchCall],
        asBatch: Bool,
        timeout: Duration?
    ) async throws -> [Result<JSONValue, RPCError>] {
        let deadline = ContinuousClock.now + (timeout ?? configuration.defaultTimeout)
        let expected = calls.count { !$0.isNotification }
        while true {
            try Task.checkCancellation()
            let (connection, generation, firstID) = try await reserve(ids: expected, deadline: deadline)
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw SidecarClientError.timedOut }

            let (requests, replies) = Self.makeRequests(calls, firstID: firstID, on: connection.channel.eventLoop)
            let message = OutboundMessage(
                requests: requests,
                isBatch: asBatch,
                deadline: .now() + TimeAmount(remaining)
            )
            let ids = requests.compactMap(\.id)
            let written = connection.channel.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenFailure { error in
                // A ChannelError means the pipeline was gone: the handler never saw the message.
                guard error is ChannelError else { return }
                for reply in replies { reply.fail(RequestNotSent()) }
            }
            connection.channel.writeAndFlush(message, promise: written)

            do {
                return try await withTaskCancellationHandler {
                    if replies.isEmpty {
                        try await written.futureResult.get()
                        return []
                    }
                    var results: [Result<JSONValue, RPCError>] = []
                    results.reserveCapacity(replies.count)
                    for reply in replies {
                        do {
                            results.append(.success(try await reply.futureResult.get()))
                        } catch SidecarClientError.rpc(let error) {
                            results.append(.failure(error))
                        }
                    }
                    return results
                } onCancel: {
                    connection.channel.triggerUserOutboundEvent(CancelRequests(ids: ids), promise: nil)
                }
            } catch is RequestNotSent {
                await connectionUnusable(generation: generation)
            } catch let error as ChannelError {
                logger.debug("sidecar request not sent", metadata: ["error": "\(error)"])
                await connectionUnusable(generation: generation)
            }
            // Not sent at all, so it is safe to send again once reconnected.
        }
    }

    /// The requests of one frame, with fresh ids from `firstID` and a reply promise for each call.
    private static func makeRequests(
        _ calls: [BatchCall],
        firstID: Int64,
        on eventLoop: any EventLoop
    ) -> ([OutboundRequest], [EventLoopPromise<JSONValue>]) {
        var requests: [OutboundRequest] = []
        var replies: [EventLoopPromise<JSONValue>] = []
        requests.reserveCapacity(calls.count)
        var nextID = firstID
        for call in calls {
            if call.isNotification {
                requests.append(OutboundRequest(id: nil, method: call.method, params: call.params, reply: nil))
            } else {
                let reply = eventLoop.makePromise(of: JSONValue.self)
                requests.append(OutboundRequest(id: nextID, method: call.method, params: call.params, reply: reply))
                replies.append(reply)
                nextID += 1
            }
        }
        return (requests, replies)
    }

    /// A connection to write to (waiting for a reconnect if need be) and `count` fresh ids.
    private func reserve(
        ids count: Int,
        deadline: ContinuousClock.Instant
    ) async throws -> (Connection, generation: Int, firstID: Int64) {
        let (connection, generation) = try await acquireConnection(deadline: deadline)
        let firstID = nextRequestID
        nextRequestID += Int64(count)
        return (connection, generation, firstID)
    }

    private func acquireConnection(deadline: ContinuousClock.Instant) async throws -> (Connection, Int) {
        switch machine.acquire() {
        case .use(let connection, let generation):
            return (connection, generation)
        case .fail(let error):
            throw error
        case .wait(let startReconnect):
            if startReconnect { self.startReconnect() }
        }
        let waiterID = nextWaiterID
        nextWaiterID += 1
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let timeout = Task { [weak self] in
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    guard !Task.isCancelled else { return }
                    await self?.expireWaiter(id: waiterID, with: SidecarClientError.timedOut)
                }
                let waiter = ConnectionWaiter(continuation: continuation, timeout: timeout)
                guard machine.addWaiter(waiter, id: waiterID) else {
                    // Cannot happen while this runs synchronously after acquire(); answer anyway.
                    timeout.cancel()
                    continuation.resume(throwing: SidecarClientError.connectionClosed)
                    return
                }
            }
        } onCancel: {
            Task { await self.expireWaiter(id: waiterID, with: CancellationError()) }
        }
    }

    private func expireWaiter(id: Int, with error: any Error) {
        guard let waiter = machine.removeWaiter(id: id) else { return }
        waiter.timeout.cancel()
        waiter.continuation.resume(throwing: error)
    }

    // MARK: - Reconnecting

    /// Learns of the end of `connection` when it closes.
    private func watch(_ connection: Connection, generation: Int) {
        connection.closed.whenComplete { [weak self] result in
            let reason = (try? result.get()) ?? nil
            Task { await self?.connectionLost(generation: generation, reason: reason) }
        }
    }

    private func connectionUnusable(generation: Int) {
        connectionLost(generation: generation, reason: nil)
    }

    private func connectionLost(generation: Int, reason: RPCError?) {
        if machine.currentGeneration == generation {
            // Their subscriptions ended with the connection; they subscribe again (and wait
            // for the reconnect, or fail with it).
            subscriptions.connectionLost()
        }
        switch machine.connectionLost(generation: generation, reason: reason) {
        case .none:
            break
        case .startReconnect:
            logger.info("sidecar connection lost, reconnecting", metadata: ["path": "\(path)"])
            startReconnect()
        }
    }

    private func startReconnect() {
        reconnectTask = Task { await self.reconnect() }
    }

    /// One round of attempts, following the reconnect policy.
    private func reconnect() async {
        let policy = configuration.reconnect
        let clock = ContinuousClock()
        let start = clock.now
        var lastError = SidecarClientError.connectionClosed
        var attempt = 1
        while policy.allowsAttempt(attempt, elapsed: clock.now - start) {
            let delay = policy.delay(beforeAttempt: attempt)
            if delay > .zero {
                do { try await Task.sleep(for: delay, clock: clock) } catch { return }  // closed
            }
            guard !Task.isCancelled else { return }
            do {
                let connection = try await Connection.open(
                    path: path,
                    configuration: configuration,
                    notifications: notificationSink,
                    intercept: subscriptions.route
                )
                reconnected(connection)
                return
            } catch {
                logger.debug("sidecar reconnect attempt failed", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                lastError = error
            }
            attempt += 1
        }
        logger.warning("sidecar reconnect gave up", metadata: ["path": "\(path)", "error": "\(lastError)"])
        for waiter in machine.reconnectFailed(lastError) {
            waiter.timeout.cancel()
            waiter.continuation.resume(throwing: lastError)
        }
    }

    private func reconnected(_ connection: Connection) {
        switch machine.reconnected(connection) {
        case .close(let connection):
            connection.channel.close(promise: nil)
        case .resume(let waiters, let generation):
            logger.info("sidecar reconnected", metadata: ["path": "\(path)"])
            watch(connection, generation: generation)
            for waiter in waiters {
                waiter.timeout.cancel()
                waiter.continuation.resume(returning: (connection, generation))
            }
            if let hook = configuration.onReconnect {
                Task { await hook(self) }
            }
        }
    }
}
