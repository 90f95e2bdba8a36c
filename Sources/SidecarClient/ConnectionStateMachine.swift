/// The client's connection lifecycle without any I/O: each event returns what to do.
///
/// `Connection` is what a call writes to; `Waiter` is a call waiting for a connection. Each
/// connection gets a generation number, so that news of an old connection's end cannot
/// disturb a newer one.
struct ConnectionStateMachine<Connection, Waiter> {
    enum State {
        case connected(Connection, generation: Int)
        /// A reconnect round is running; calls wait for it.
        case reconnecting(waiters: [Int: Waiter])
        /// The last round gave up (or reconnecting is off); the next call starts a new round.
        case disconnected(lastError: SidecarClientError)
        case closed
    }

    private(set) var state: State
    private var generation = 0
    private let reconnectEnabled: Bool

    init(connection: Connection, reconnectEnabled: Bool) {
        self.state = .connected(connection, generation: 0)
        self.reconnectEnabled = reconnectEnabled
    }

    /// The generation of the current connection, when connected.
    var currentGeneration: Int? {
        if case .connected(_, let generation) = state { return generation }
        return nil
    }

    // MARK: - Calls

    enum AcquireAction {
        case use(Connection, generation: Int)
        /// Register a waiter with ``addWaiter(_:id:)``; start a reconnect round first if asked.
        case wait(startReconnect: Bool)
        case fail(SidecarClientError)
    }

    /// A call needs a connection.
    mutating func acquire() -> AcquireAction {
        switch state {
        case .connected(let connection, let generation):
            return .use(connection, generation: generation)
        case .reconnecting:
            return .wait(startReconnect: false)
        case .disconnected(let lastError):
            guard reconnectEnabled else { return .fail(lastError) }
            state = .reconnecting(waiters: [:])
            return .wait(startReconnect: true)
        case .closed:
            return .fail(.clientClosed)
        }
    }

    /// Parks a call until the reconnect round ends. Returns `false` (and keeps nothing) when
    /// no round is running any more; the caller then acquires again.
    mutating func addWaiter(_ waiter: Waiter, id: Int) -> Bool {
        guard case .reconnecting(var waiters) = state else { return false }
        waiters[id] = waiter
        state = .reconnecting(waiters: waiters)
        return true
    }

    /// A waiting call timed out or was cancelled: the waiter to fail, if it still waits.
    mutating func removeWaiter(id: Int) -> Waiter? {
        guard case .reconnecting(var waiters) = state, let waiter = waiters.removeValue(forKey: id) else {
            return nil
        }
        state = .reconnecting(waiters: waiters)
        return waiter
    }

    // MARK: - Connection events

    enum LostAction: Equatable {
        case none
        case startReconnect
    }

    /// The connection of `generation` ended; `reason` is the daemon's connection-level error.
    mutating func connectionLost(generation lost: Int, reason: RPCError?) -> LostAction {
        guard case .connected(_, let current) = state, current == lost else { return .none }
        if let reason, reason.code == .permissionDenied {
            // Reconnecting cannot help: the daemon will refuse again.
            state = .disconnected(lastError: .rpc(reason))
            return .none
        }
        guard reconnectEnabled else {
            state = .disconnected(lastError: .connectionClosed)
            return .none
        }
        state = .reconnecting(waiters: [:])
        return .startReconnect
    }

    enum ReconnectedAction {
        /// Use the connection; resume these waiters with it; run the reconnect hook.
        case resume([Waiter], generation: Int)
        /// The client closed meanwhile: close the new connection.
        case close(Connection)
    }

    /// A reconnect round connected.
    mutating func reconnected(_ connection: Connection) -> ReconnectedAction {
        guard case .reconnecting(let waiters) = state else { return .close(connection) }
        generation += 1
        state = .connected(connection, generation: generation)
        return .resume(Array(waiters.values), generation: generation)
    }

    /// A reconnect round gave up with `error`: the waiters to fail with it.
    mutating func reconnectFailed(_ error: SidecarClientError) -> [Waiter] {
        guard case .reconnecting(let waiters) = state else { return [] }
        state = .disconnected(lastError: error)
        return Array(waiters.values)
    }

    /// ``SidecarClient/close()``: the connection to close and the waiters to fail.
    mutating func close() -> (connection: Connection?, waiters: [Waiter]) {
        defer { state = .closed }
        switch state {
        case .connected(let connection, _): return (connection, [])
        case .reconnecting(let waiters): return (nil, Array(waiters.values))
        case .disconnected, .closed: return (nil, [])
        }
    }
}

extension ConnectionStateMachine: Sendable where Connection: Sendable, Waiter: Sendable {}
extension ConnectionStateMachine.State: Sendable where Connection: Sendable, Waiter: Sendable {}
