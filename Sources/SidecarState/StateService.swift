#if canImport(Glibc)
import Glibc
#endif
import NIOCore
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
/// One event loop owns the document (``eventLoop``): every change, read and subscription
/// runs there, in the order it arrives, with no task or lock in between. A change is applied
/// in memory at once (so a later request reads it), its subscribers are notified in revision
/// order, and its future completes only once it is committed: the changes of one loop tick go
/// to the database as one write, without waiting for earlier writes to commit (the database
/// commits them in order, grouping those that queue up), so an acknowledged change survives
/// `kill -9` and a burst of changes costs a few commits.
///
/// Every method may be called from any thread; called on ``eventLoop`` (a connection served
/// by that loop) it does not hop.
public final class StateService: Sendable {
    /// Settings from the daemon (`--history-limit`).
    public struct Configuration: Sendable {
        /// How many changes `state.history` and `state.revert` can reach back.
        public var historyLimit: Int = 10_000
        /// The fewest changes between two writes of the whole document (see ``SnapshotPolicy``:
        /// a large document is written again only once as many bytes of changes followed it).
        public var snapshotInterval: Int = 100
        /// Subtrees kept in memory only (`--ephemeral`).
        public var ephemeral = EphemeralPaths()

        public init() {}
    }

    /// The schema this service needs; pass it to ``SidecarDatabase`` at start-up.
    public static let migrations = [StateStorage.migration]

    /// The event loop that owns the document.
    public let eventLoop: any EventLoop
    private let database: SidecarDatabase
    private let configuration: Configuration
    private let core: NIOLoopBoundBox<Core>

    /// Loads the document from `database`.
    /// - Parameters:
    ///   - database: where the change log and snapshots live.
    ///   - eventLoop: the loop that will own the document (the daemon's first event loop).
    ///   - configuration: history and ephemeral settings.
    public init(database: SidecarDatabase, eventLoop: any EventLoop, configuration: Configuration = Configuration()) async throws {
        self.database = database
        self.eventLoop = eventLoop
        self.configuration = configuration
        let loaded = try await database.read { db in
            try StateStorage.load(db, snapshotMinimumChanges: configuration.snapshotInterval)
        }
        self.core = .makeBoxSendingValue(Core(document: loaded.document, snapshotPolicy: loaded.snapshotPolicy), eventLoop: eventLoop)
    }

    // MARK: - Reading

    /// `state.get` for a caller on ``eventLoop``: the value at `path` (or `nil`) and the revision.
    /// Use ``value(at:)`` from elsewhere.
    public func valueOnLoop(at path: JSONPointer) -> (value: JSONValue?, revision: Int64) {
        core.withValue { core in (core.document.value(at: path), core.document.revision) }
    }

    /// `state.get`: the value at `path` (or `nil`) and the revision, read on ``eventLoop``
    /// after every change that arrived before it.
    public func value(at path: JSONPointer) -> EventLoopFuture<(value: JSONValue?, revision: Int64)> {
        onLoop { self.eventLoop.makeSucceededFuture(self.valueOnLoop(at: path)) }
    }

    /// `state.query`: the values a JSONPath selects, with their normalized paths.
    public func query(_ path: JSONPath) -> EventLoopFuture<(values: [JSONValue], paths: [String], revision: Int64)> {
        onLoop {
            let document = self.core.value.document
            guard let nodes = path.select(in: document.root, nodeLimit: JSONPath.maximumNodes) else { throw StateError.selectorTooCostly }
            return self.eventLoop.makeSucceededFuture((nodes.map(\.value), nodes.map { $0.path.description }, document.revision))
        }
    }

    /// `state.history`: changes newest first, including every change made before the call.
    public func history(path: JSONPointer?, limit: Int, beforeRevision: Int64?) -> EventLoopFuture<[StateChange]> {
        onLoop {
            self.stored(through: self.core.value.document.revision).flatMap {
                self.eventLoop.makeFutureWithTask {
                    try await self.database.read { db in
                        try StateStorage.history(path: path, limit: limit, beforeRevision: beforeRevision, in: db)
                    }
                }
            }
        }
    }

    /// The revision and the number of live subscriptions, for `sidecar.metrics`.
    public func statistics() -> EventLoopFuture<(revision: Int64, subscriptions: Int)> {
        onLoop {
            let core = self.core.value
            return self.eventLoop.makeSucceededFuture((core.document.revision, core.subscriptions.count))
        }
    }

    // MARK: - Changing

    /// What ``applyOnLoop(_:action:ifRevision:)`` did.
    public struct AppliedEdit: Sendable {
        /// The change, or `nil` when the edit changed nothing (a delete of a missing path),
        /// which makes no revision.
        public var change: StateChange?
        /// The document's revision after it.
        public var revision: Int64
        /// Completes once the change is committed (at once when there was none); fails with
        /// the storage error when the commit failed.
        public var committed: EventLoopFuture<Void>
    }

    /// Applies `edit` as the next revision; the future completes once it is committed.
    /// - Returns: the change, or `nil` when the edit changed nothing (a delete of a missing
    ///   path), which makes no revision; and the document's revision after it. Fails with
    ///   ``StateError`` (nothing changed), or the storage error once a commit failed.
    public func apply(_ edit: StateEdit, action: String?, ifRevision: Int64?) -> EventLoopFuture<(change: StateChange?, revision: Int64)> {
        onLoop {
            let applied = try self.applyOnLoop(edit, action: action, ifRevision: ifRevision)
            return applied.committed.map { (applied.change, applied.revision) }
        }
    }

    /// ``apply(_:action:ifRevision:)`` for a caller on ``eventLoop``: the change is made now,
    /// with no hop, and only its commit is waited for.
    /// - Throws: ``StateError`` when the edit is refused; nothing changed then.
    public func applyOnLoop(_ edit: StateEdit, action: String?, ifRevision: Int64?) throws -> AppliedEdit {
        eventLoop.preconditionInEventLoop()
        // No copy of the document is held past this check: one would make the change below
        // copy every container on its path instead of changing it in place.
        let unchangedRevision: Int64? = core.withValue { core in
            guard case .delete(let path) = edit, ifRevision == nil || ifRevision == core.document.revision,
                core.document.value(at: path) == nil
            else { return nil }
            return core.document.revision
        }
        if let unchangedRevision {
            try refuseIfStorageFailed()
            return AppliedEdit(change: nil, revision: unchangedRevision, committed: eventLoop.makeSucceededVoidFuture())
        }
        let change = try self.change(edit, action: action, ifRevision: ifRevision)
        return AppliedEdit(change: change, revision: change.revision, committed: store(change))
    }

    /// `state.revert`: a new revision whose document equals the document at `target`.
    /// Fails with ``StateRevertError`` when `target` is in the future or no longer in the history.
    public func revert(to target: Int64, action: String?) -> EventLoopFuture<StateChange> {
        onLoop { try self.revertOnLoop(to: target, action: action, attemptsLeft: 10) }
    }

    private func revertOnLoop(to target: Int64, action: String?, attemptsLeft: Int) throws -> EventLoopFuture<StateChange> {
        try refuseIfStorageFailed()
        let current = core.value.document.revision
        guard target >= 0, target <= current else { throw StateRevertError.future(target, current: current) }
        return stored(through: current).flatMap {
            self.eventLoop.makeFutureWithTask {
                try await self.database.read { db in try StateStorage.changes(after: target, in: db) }
            }
        }.flatMap { later in
            // Back on the loop: the changes read are the undo log from `current` down to `target`,
            // unless another change came in while reading; then read again.
            do {
                guard self.core.value.document.revision == current else {
                    guard attemptsLeft > 1 else { throw StateRevertError.busy(target) }
                    return try self.revertOnLoop(to: target, action: action, attemptsLeft: attemptsLeft - 1)
                }
                guard let later, later.count == current - target else { throw StateRevertError.beyondHistory(target) }
                var root = self.core.value.document.root
                for change in later.reversed() {
                    do {
                        try change.inverse.apply(to: &root)
                    } catch {
                        throw StateRevertError.beyondHistory(target)
                    }
                }
                let change = try self.change(.set(.root, root), action: action ?? "revert to \(target)", ifRevision: nil)
                return self.store(change).map { change }
            } catch {
                return self.eventLoop.makeFailedFuture(error)
            }
        }
    }

    /// Applies `edit` in memory and notifies the subscribers whose slice it changed.
    private func change(_ edit: StateEdit, action: String?, ifRevision: Int64?) throws -> StateChange {
        try refuseIfStorageFailed()
        return try core.withValue { core in
            let change = try core.document.apply(edit, action: action, ifRevision: ifRevision, timeMilliseconds: Self.now())
            for delivery in core.subscriptions.deliveries(forChangeAt: change.path, in: core.document.root) {
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
            return change
        }
    }

    private func refuseIfStorageFailed() throws {
        if let failure = core.withValue({ $0.storageFailure }) { throw StateError.storageFailed(failure) }
    }

    // MARK: - Storing

    /// Queues `change` for the next transaction; the future completes once it is committed.
    /// The changes of one loop tick share one future, as they share one write.
    private func store(_ change: StateChange) -> EventLoopFuture<Void> {
        let ephemeral = configuration.ephemeral
        return core.withValue { core in
            // `.none`, not `nil`: JSONValue is itself expressible by `nil` (as JSON null).
            let snapshot: JSONValue? = core.snapshotPolicy.changeMade() ? ephemeral.storable(document: core.document.root) : .none
            core.unstored.changes.append((ephemeral.storable(change), snapshot))
            if let promise = core.unstored.promise { return promise.futureResult }
            let promise = eventLoop.makePromise(of: Void.self)
            core.unstored.promise = promise
            // After the rest of this loop tick's reads: the changes they make go in one write.
            eventLoop.execute { self.handOffUnstored() }
            return promise.futureResult
        }
    }

    /// Hands every unstored change to the database in one write. Writes are not held back
    /// while earlier ones commit: the database queues them and commits them in order, the
    /// next transaction starting as soon as the one before it returns.
    private func handOffUnstored() {
        let batch = core.withValue { core in
            defer { core.unstored = UnstoredBatch() }
            return core.unstored
        }
        guard let promise = batch.promise else { return }  // a failure answered them already
        let historyLimit = configuration.historyLimit
        let changes = batch.changes
        let newest = changes.last?.change.revision
        database.write({ db in
            try StateStorage.record(changes, historyLimit: historyLimit, in: db)
        }, completion: { (result: Result<StateStorage.Written, any Error>) in
            self.eventLoop.execute {
                switch result {
                case .success(let written): self.committed(through: newest, written: written, promise: promise)
                case .failure(let error): self.failed(promise, error: error)
                }
            }
        })
    }

    /// Answers a batch's callers once its write has committed (batches finish in order).
    private func committed(through newest: Int64?, written: StateStorage.Written, promise: EventLoopPromise<Void>) {
        // Promises are completed after leaving the box: their callbacks may call back in.
        let released = core.withValue { core -> [EventLoopPromise<Void>] in
            core.snapshotPolicy.stored(logBytes: written.logBytes, snapshotBytes: written.snapshotBytes)
            core.storedRevision = newest ?? core.storedRevision
            guard !core.storeWaiters.isEmpty else { return [] }
            let stored = core.storedRevision
            let ready = core.storeWaiters.filter { $0.revision <= stored }.map(\.promise)
            core.storeWaiters.removeAll { $0.revision <= stored }
            return ready
        }
        promise.succeed()
        for waiter in released { waiter.succeed() }
    }

    /// The first failure stops all changes: memory now holds changes the disk does not. Batches
    /// already queued behind it fail too (they no longer follow the stored log).
    private func failed(_ promise: EventLoopPromise<Void>, error: any Error) {
        let (isFirstFailure, unstored, waiters) = core.withValue { core in
            let isFirst = core.storageFailure == nil
            if isFirst { core.storageFailure = "the state could not be stored (\(error)); restart the daemon" }
            defer {
                core.unstored = UnstoredBatch()
                core.storeWaiters = []
            }
            return (isFirst, core.unstored.promise, core.storeWaiters.map(\.promise))
        }
        let refused = StateError.storageFailed(core.value.storageFailure ?? "\(error)")
        promise.fail(isFirstFailure ? error : refused)
        unstored?.fail(refused)
        for waiter in waiters { waiter.fail(refused) }
    }

    /// Completes once every change up to `revision` is committed.
    private func stored(through revision: Int64) -> EventLoopFuture<Void> {
        core.withValue { core in
            if core.storedRevision >= revision { return eventLoop.makeSucceededVoidFuture() }
            if let failure = core.storageFailure { return eventLoop.makeFailedFuture(StateError.storageFailed(failure)) }
            let promise = eventLoop.makePromise(of: Void.self)
            core.storeWaiters.append((revision, promise))
            return promise.futureResult
        }
    }

    // MARK: - Subscriptions

    /// The most subscriptions one connection may hold: every change is checked against each
    /// subscription it may affect, so their number sets what a change costs.
    public static let maximumSubscriptionsPerConnection = 1_000

    /// `state.subscribe`: watches `selector` for `subscriber`.
    public func subscribe(_ selector: StateSelector, subscriber: StateSubscriber) -> EventLoopFuture<(id: UInt64, value: JSONValue, revision: Int64)> {
        onLoop {
            try self.core.withValue { core in
                let limit = Self.maximumSubscriptionsPerConnection
                guard core.subscriptions.count(where: { $0.connectionID == subscriber.connectionID }) < limit else {
                    throw StateError.invalid(
                        "this connection holds \(limit) subscriptions, the most one may; unsubscribe some, or watch a wider selector",
                        operationIndex: nil)
                }
                let (id, value) = try core.subscriptions.subscribe(selector, subscriber: subscriber, document: core.document.root)
                return self.eventLoop.makeSucceededFuture((id, value, core.document.revision))
            }
        }
    }

    /// `state.unsubscribe`: only the connection that made a subscription can end it.
    public func unsubscribe(_ id: UInt64, connectionID: UInt64) -> EventLoopFuture<Bool> {
        onLoop {
            let removed = self.core.withValue { $0.subscriptions.unsubscribe(id, ifOwnedBy: { $0.connectionID == connectionID }) }
            return self.eventLoop.makeSucceededFuture(removed)
        }
    }

    /// Ends every subscription of a closed connection.
    public func connectionClosed(_ connectionID: UInt64) {
        eventLoop.execute {
            self.core.withValue { $0.subscriptions.removeAll { $0.connectionID == connectionID } }
        }
    }

    // MARK: - Helpers

    /// Runs `body` on ``eventLoop``: at once when already there, else after what is queued there.
    func onLoop<T: Sendable>(_ body: @escaping @Sendable () throws -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        eventLoop.onLoop(body)
    }

    private static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }
}

/// What the owner loop holds: the document, its subscriptions and the changes on their way to disk.
private struct Core: Sendable {
    var document: StateDocument
    var subscriptions = StateSubscriptions<StateSubscriber>()
    /// Set when a change could not be stored: memory and disk may differ, so no more changes are taken.
    var storageFailure: String?
    /// Changes applied in memory that wait to be handed to the database at the end of this
    /// loop tick.
    var unstored = UnstoredBatch()
    /// The newest revision known to be committed.
    var storedRevision: Int64
    /// Readers of the history waiting for a revision to be committed.
    var storeWaiters: [(revision: Int64, promise: EventLoopPromise<Void>)] = []
    /// When the whole document is stored again.
    var snapshotPolicy: SnapshotPolicy

    init(document: StateDocument, snapshotPolicy: SnapshotPolicy) {
        self.document = document
        self.storedRevision = document.revision
        self.snapshotPolicy = snapshotPolicy
    }
}

/// The changes of one loop tick on their way to disk, as stored (ephemeral subtrees removed),
/// and the promise their callers wait on; it exists once a change is queued, and then the
/// hand-off is scheduled.
private struct UnstoredBatch: Sendable {
    /// Each change, with the whole document when ``SnapshotPolicy`` says it is due.
    var changes: [(change: StateChange, snapshot: JSONValue?)] = []
    var promise: EventLoopPromise<Void>?
}

/// Why `state.revert` cannot reach a revision.
public enum StateRevertError: RPCErrorConvertible, Sendable, Equatable {
    case future(Int64, current: Int64)
    case beyondHistory(Int64)
    /// Other changes kept arriving while the history was read.
    case busy(Int64)

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
        case .busy(let target):
            return RPCError(
                code: .conflict,
                message: "Conflict: the document kept changing while reverting to \(target); retry",
                data: ["toRevision": .int(target)]
            )
        }
    }
}
