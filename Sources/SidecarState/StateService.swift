#if canImport(Glibc)
import Glibc
#endif
import SidecarProtocol
import SidecarStore

/// Who receives a subscription's changes: a connection, reached through a function that
/// sends `state.changed` params to it (the transport supplies it; this layer knows no sockets).
public struct StateSubscriber: Sendable {
    /// The connection the subscription belongs to; its subscriptions end with it.
    public var connectionID: UInt64
    /// Sends one notification's params, coalesced per subscription by the transport.
    public var send: @Sendable (_ subscription: UInt64, _ params: JSONValue) -> Void

    public init(connectionID: UInt64, send: @escaping @Sendable (_ subscription: UInt64, _ params: JSONValue) -> Void) {
        self.connectionID = connectionID
        self.send = send
    }
}

/// The shared, durable app state: one JSON document with revisions, history and slice
/// subscriptions, kept in memory and logged to SQLite.
///
/// A change is applied in memory in revision order, its subscribers are notified in that
/// order, and the caller is answered only once the change is committed (group commit), so an
/// acknowledged change survives `kill -9`.
public actor StateService {
    /// Settings from the daemon (`--history-limit`).
    public struct Configuration: Sendable {
        /// How many changes `state.history` and `state.revert` can reach back.
        public var historyLimit: Int = 10_000
        /// How often (in changes) the whole document is written, to bound start-up replay.
        public var snapshotInterval: Int = 100
        /// Subtrees kept in memory only (`--ephemeral`).
        public var ephemeral = EphemeralPaths()

        public init() {}
    }

    /// The schema this service needs; pass it to ``SidecarDatabase`` at start-up.
    public static let migrations = [StateStorage.migration]

    private let database: SidecarDatabase
    private let configuration: Configuration
    private var document: StateDocument {
        didSet { published.withLock { $0 = document } }
    }
    /// The document as of the last applied change, readable without entering the actor:
    /// `state.get` is answered from it on the connection's event loop.
    private nonisolated let published: Locked<StateDocument>
    private var subscriptions = StateSubscriptions<StateSubscriber>()
    /// Set when a change could not be stored: memory and disk may differ, so no more changes are taken.
    private var storageFailure: String?

    /// Loads the document from `database`.
    public init(database: SidecarDatabase, configuration: Configuration = Configuration()) async throws {
        self.database = database
        self.configuration = configuration
        let loaded = try await database.read { db in try StateStorage.load(db) }
        self.published = Locked(loaded)
        self.document = loaded
    }

    /// `state.get`, without entering the actor: the value at `path` (or `nil`) in the latest
    /// applied document, and its revision.
    public nonisolated func currentValue(at path: JSONPointer) -> (value: JSONValue?, revision: Int64) {
        let document = published.withLock { $0 }
        return (document.value(at: path), document.revision)
    }

    /// The current revision.
    public var revision: Int64 { document.revision }

    // MARK: - Reading

    /// `state.query`: the values a JSONPath selects, with their normalized paths.
    public func query(_ path: JSONPath) -> (values: [JSONValue], paths: [String], revision: Int64) {
        let nodes = path.select(in: document.root)
        return (nodes.map(\.value), nodes.map { $0.path.description }, document.revision)
    }

    // MARK: - Changing

    /// Applies `edit` as the next revision and returns once it is committed.
    /// - Returns: the change, or `nil` when the edit changed nothing (a delete of a missing
    ///   path), which makes no revision; and the document's revision after it.
    public func apply(_ edit: StateEdit, action: String?, ifRevision: Int64?) async throws -> (change: StateChange?, revision: Int64) {
        if let storageFailure { throw StateError.storageFailed(storageFailure) }
        if case .delete(let path) = edit, ifRevision == nil || ifRevision == document.revision, document.value(at: path) == nil {
            return (nil, document.revision)
        }
        let change = try document.apply(edit, action: action, ifRevision: ifRevision, timeMilliseconds: Self.now())
        try await commit(change)
        return (change, change.revision)
    }

    /// `state.revert`: a new revision whose document equals the document at `target`.
    /// - Throws: ``StateRevertError`` when `target` is in the future or no longer in the history.
    public func revert(to target: Int64, action: String?) async throws -> StateChange {
        if let storageFailure { throw StateError.storageFailed(storageFailure) }
        guard target >= 0, target <= document.revision else { throw StateRevertError.future(target, current: document.revision) }
        let current = document.revision
        let later = try await database.read { db in try StateStorage.changes(after: target, in: db) }
        guard let later, later.count == current - target else { throw StateRevertError.beyondHistory(target) }
        var root = document.root
        for change in later.reversed() {
            do {
                try change.inverse.apply(to: &root)
            } catch {
                throw StateRevertError.beyondHistory(target)
            }
        }
        let change = try document.apply(.set(.root, root), action: action ?? "revert to \(target)", timeMilliseconds: Self.now())
        try await commit(change)
        return change
    }

    /// `state.history`: changes newest first.
    public func history(path: JSONPointer?, limit: Int, beforeRevision: Int64?) async throws -> [StateChange] {
        try await database.read { db in
            try StateStorage.history(path: path, limit: limit, beforeRevision: beforeRevision, in: db)
        }
    }

    private func commit(_ change: StateChange) async throws {
        notifySubscribers(of: change)
        // Typed: JSONValue is ExpressibleByNilLiteral, so a bare `nil` here would be JSON null.
        let ephemeral = configuration.ephemeral
        let snapshot: JSONValue? =
            change.revision % Int64(configuration.snapshotInterval) == 0 ? ephemeral.storable(document: document.root) : .none
        let stored = ephemeral.storable(change)
        let historyLimit = configuration.historyLimit
        do {
            try await database.write { db in
                try StateStorage.record(stored, snapshot: snapshot, historyLimit: historyLimit, in: db)
            }
        } catch {
            storageFailure = "the state could not be stored (\(error)); restart the daemon"
            throw error
        }
    }

    // MARK: - Subscriptions

    /// `state.subscribe`: watches `selector` for `subscriber`.
    public func subscribe(_ selector: StateSelector, subscriber: StateSubscriber) -> (id: UInt64, value: JSONValue, revision: Int64) {
        let (id, value) = subscriptions.subscribe(selector, subscriber: subscriber, document: document.root)
        return (id, value, document.revision)
    }

    /// `state.unsubscribe`: only the connection that made a subscription can end it.
    public func unsubscribe(_ id: UInt64, connectionID: UInt64) -> Bool {
        subscriptions.unsubscribe(id, ifOwnedBy: { $0.connectionID == connectionID })
    }

    /// Ends every subscription of a closed connection.
    public func connectionClosed(_ connectionID: UInt64) {
        subscriptions.removeAll { $0.connectionID == connectionID }
    }

    /// The number of live subscriptions.
    public var subscriptionCount: Int { subscriptions.count }

    private func notifySubscribers(of change: StateChange) {
        for delivery in subscriptions.deliveries(forChangeAt: change.path, in: document.root) {
            delivery.subscriber.send(
                delivery.id,
                [
                    "subscription": .int(Int64(delivery.id)),
                    "value": delivery.value,
                    "revision": .int(change.revision),
                    "action": change.action.map(JSONValue.string) ?? .null,
                ]
            )
        }
    }

    private static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }
}

/// Why `state.revert` cannot reach a revision.
public enum StateRevertError: Error, Sendable, Equatable {
    case future(Int64, current: Int64)
    case beyondHistory(Int64)

    public var rpcError: RPCError {
        switch self {
        case .future(let target, let current):
            return RPCError.invalidParams("'toRevision' \(target) is not a past revision; the document is at \(current)")
        case .beyondHistory(let target):
            return RPCError(
                code: .notFound,
                message: "Not found: revision \(target) is older than the retained history (--history-limit)",
                data: ["toRevision": .int(target)]
            )
        }
    }
}
