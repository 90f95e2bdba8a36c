import GRDB

/// A write waiting for its transaction: the caller's work, and how to answer the caller.
struct PendingWrite: Sendable {
    /// When the caller asked; the gap to the start of its transaction is its pool wait.
    var enqueuedAt: ContinuousClock.Instant
    /// Runs the caller's work and returns the acknowledgement to send once the transaction
    /// has committed.
    var run: @Sendable (Database) throws -> @Sendable () -> Void
    /// Fails the caller.
    var fail: @Sendable (any Error) -> Void
    /// Whether SQLite aborted an earlier transaction under this write, which now runs again
    /// (its pool wait was counted the first time).
    var isRetry = false
}

/// Group commit: writes that arrive while a transaction is in progress wait and then go
/// together into the next one, so a burst of N writes costs a few commits (and, with
/// `synchronous = FULL`, a few `fsync`s) instead of N.
///
/// - Each write runs in its own `SAVEPOINT`: a write that throws is rolled back alone and
///   fails only its caller.
/// - Callers are resumed only after `COMMIT` returns. If `COMMIT` fails, every write of the
///   transaction fails with that error.
/// - If SQLite aborts the whole transaction while running one write (disk full, I/O error,
///   an `ON CONFLICT ROLLBACK` constraint), that write fails and the writes of the batch that
///   had succeeded run again in the next transaction: their work must have no effects
///   outside the database.
///
/// There is no timer: the first write of an idle store starts a transaction at once, and the
/// batch is whatever queued up while the previous transaction ran.
final class GroupCommitter: Sendable {
    private struct Queue {
        var pending: [PendingWrite] = []
        /// Whether a drain loop owns the writer connection; exactly one at a time.
        var isDraining = false
        var isClosed = false
        /// ``close()`` callers waiting for the drain loop to finish.
        var closeWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let queue = Locked(Queue())
    private let pool: DatabasePool
    private let instrumentation: DatabaseInstrumentation
    private let maximumBatch: Int

    init(pool: DatabasePool, instrumentation: DatabaseInstrumentation, maximumBatch: Int) {
        self.pool = pool
        self.instrumentation = instrumentation
        self.maximumBatch = max(1, maximumBatch)
    }

    /// Queues `write`; starts a drain loop on the writer connection unless one is running.
    /// - Returns: `false` when the store is closed (the write was not queued).
    func submit(_ write: PendingWrite) -> Bool {
        let startsDrain: Bool? = queue.withLock { queue in
            guard !queue.isClosed else { return nil }
            queue.pending.append(write)
            guard !queue.isDraining else { return false }
            queue.isDraining = true
            return true
        }
        guard let startsDrain else { return false }
        if startsDrain {
            pool.asyncWriteWithoutTransaction { db in self.drain(db) }
        }
        return true
    }

    var isClosed: Bool {
        queue.withLock { $0.isClosed }
    }

    /// Writes queued for the next transaction (not counting those of the running one).
    var pendingCount: Int {
        queue.withLock { $0.pending.count }
    }

    /// Refuses new writes and returns once every write already queued has been answered.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = queue.withLock { queue in
                queue.isClosed = true
                guard queue.isDraining else { return true }
                queue.closeWaiters.append(continuation)
                return false
            }
            if finished { continuation.resume() }
        }
    }

    // MARK: - Writer side

    /// Commits batches until the queue is empty. Runs on the writer connection's queue.
    private func drain(_ db: Database) {
        while true {
            var waiters: [CheckedContinuation<Void, Never>] = []
            let batch: [PendingWrite] = queue.withLock { queue in
                if queue.pending.isEmpty {
                    queue.isDraining = false
                    swap(&waiters, &queue.closeWaiters)
                    return []
                }
                if queue.pending.count <= maximumBatch {
                    var batch: [PendingWrite] = []
                    swap(&batch, &queue.pending)
                    return batch
                }
                let batch = Array(queue.pending.prefix(maximumBatch))
                queue.pending.removeFirst(maximumBatch)
                return batch
            }
            guard !batch.isEmpty else {
                for waiter in waiters { waiter.resume() }
                return
            }
            let retry = commit(batch, db)
            if !retry.isEmpty {
                queue.withLock { $0.pending.insert(contentsOf: retry, at: 0) }
            }
        }
    }

    /// Runs `batch` in one transaction and answers its callers.
    ///
    /// Writes rarely fail, so the batch first runs without a savepoint per write (one statement
    /// each instead of three). Only when a write throws is that transaction rolled back and the
    /// batch run again write by write in savepoints, so that the failure stays its own.
    /// - Returns: writes to run again because SQLite aborted the transaction under them.
    private func commit(_ batch: [PendingWrite], _ db: Database) -> [PendingWrite] {
        if commitOptimistically(batch, db) { return [] }
        return commitInSavepoints(batch, db)
    }

    /// Runs `batch` in one transaction without savepoints and answers its callers.
    /// - Returns: `false`, with nothing committed or answered, when a write of several threw
    ///   or the transaction could not begin; the caller then takes the careful path. A write
    ///   alone needs no savepoint: when it throws, rolling back the transaction undoes it alone.
    private func commitOptimistically(_ batch: [PendingWrite], _ db: Database) -> Bool {
        let began = ContinuousClock.now
        do {
            try db.beginTransaction(.immediate)
        } catch {
            return false
        }
        var acknowledgements: [@Sendable () -> Void] = []
        acknowledgements.reserveCapacity(batch.count)
        do {
            for write in batch {
                acknowledgements.append(try write.run(db))
            }
            try db.commit()
        } catch {
            if db.isInsideTransaction { try? db.rollback() }
            guard batch.count == 1 else { return false }
            instrumentation.recordWriteWaits(batch.lazy.filter { !$0.isRetry }.map { began - $0.enqueuedAt })
            instrumentation.recordTransaction(succeeded: true, committed: 0, failed: 1, busy: .now - began)
            batch[0].fail(error)
            return true
        }
        instrumentation.recordWriteWaits(batch.lazy.filter { !$0.isRetry }.map { began - $0.enqueuedAt })
        instrumentation.recordTransaction(succeeded: true, committed: batch.count, failed: 0, busy: .now - began)
        for acknowledge in acknowledgements { acknowledge() }
        return true
    }

    /// Runs `batch` in one transaction, each write in its own savepoint, and answers its callers.
    private func commitInSavepoints(_ batch: [PendingWrite], _ db: Database) -> [PendingWrite] {
        let began = ContinuousClock.now
        instrumentation.recordWriteWaits(batch.lazy.filter { !$0.isRetry }.map { began - $0.enqueuedAt })

        do {
            try db.beginTransaction(.immediate)
        } catch {
            for write in batch { write.fail(error) }
            instrumentation.recordTransaction(succeeded: false, committed: batch.count, failed: 0, busy: .now - began)
            return []
        }

        var succeeded: [PendingWrite] = []
        var acknowledgements: [@Sendable () -> Void] = []
        succeeded.reserveCapacity(batch.count)
        acknowledgements.reserveCapacity(batch.count)
        var failed = 0
        for (position, write) in batch.enumerated() {
            do {
                var acknowledgement: (@Sendable () -> Void)?
                try db.inSavepoint {
                    acknowledgement = try write.run(db)
                    return .commit
                }
                if let acknowledgement {
                    succeeded.append(write)
                    acknowledgements.append(acknowledgement)
                }
            } catch {
                failed += 1
                write.fail(error)
                if !db.isInsideTransaction {
                    // SQLite rolled back the whole transaction, undoing the writes before
                    // this one too: they go again, ahead of those not tried yet.
                    instrumentation.recordTransaction(succeeded: false, committed: 0, failed: failed, busy: .now - began)
                    return (succeeded + batch[(position + 1)...]).map { write in
                        var write = write
                        write.isRetry = true
                        return write
                    }
                }
            }
        }

        do {
            try db.commit()
        } catch {
            try? db.rollback()
            for write in succeeded { write.fail(error) }
            instrumentation.recordTransaction(
                succeeded: false, committed: succeeded.count, failed: failed, busy: .now - began)
            return []
        }
        instrumentation.recordTransaction(succeeded: true, committed: succeeded.count, failed: failed, busy: .now - began)
        for acknowledge in acknowledgements { acknowledge() }
        return []
    }
}
