import NIOCore

extension TaskScheduler {
    /// Writes `tasks` in the next transaction; the future completes once it has committed.
    func persist(_ tasks: [TaskRecord]) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        core.withValue { core in
            core.unstored += tasks.map { .save($0) }
            core.unstoredPromises.append(promise)
            core.issuedSequence += 1
        }
        flushIfNeeded()
        return promise.futureResult
    }

    /// Writes a change in the next transaction without waiting for it.
    func persistLater(_ write: TaskSchedulerCore.Write) {
        core.withValue { core in
            core.unstored.append(write)
            core.issuedSequence += 1
        }
        flushIfNeeded()
    }

    /// Completes once every change issued so far is committed.
    func storedBarrier() -> EventLoopFuture<Void> {
        core.withValue { core in
            if core.storedSequence >= core.issuedSequence { return eventLoop.makeSucceededVoidFuture() }
            let promise = eventLoop.makePromise(of: Void.self)
            core.storeBarriers.append((core.issuedSequence, promise))
            return promise.futureResult
        }
    }

    /// Hands the waiting changes to the database in one transaction, unless one is running.
    func flushIfNeeded() {
        let batch: (writes: [TaskSchedulerCore.Write], promises: [EventLoopPromise<Void>], sequence: UInt64)? = core.withValue { core in
            guard !core.isStoring, !core.unstored.isEmpty || !core.unstoredPromises.isEmpty else { return nil }
            defer {
                core.unstored = []
                core.unstoredPromises = []
                core.isStoring = true
            }
            return (core.unstored, core.unstoredPromises, core.issuedSequence)
        }
        guard let batch else { return }
        let writes = Self.lastSavePerTask(batch.writes)
        database.write({ db in
            // Prepared once per transaction: looking the statement up costs a hash of its SQL.
            let save = try TaskStore.saveStatement(in: db)
            var scratch: [UInt8] = []
            scratch.reserveCapacity(256)
            for write in writes {
                switch write {
                case .save(let task): try TaskStore.save(task, with: save, scratch: &scratch)
                case .saveSchedule(let schedule): try TaskStore.saveSchedule(schedule, in: db)
                case .deleteSchedule(let name): try TaskStore.deleteSchedule(named: name, in: db)
                }
            }
        }, completion: { result in
            self.eventLoop.execute { self.finishFlush(batch.promises, sequence: batch.sequence, result: result) }
        })
    }

    /// The batch with only the last save of each task (a `sidecar.noop` is saved running and
    /// then succeeded within one batch: one row write is enough), other writes kept in order.
    static func lastSavePerTask(_ writes: [TaskSchedulerCore.Write]) -> [TaskSchedulerCore.Write] {
        var lastIndex: [String: Int] = [:]
        for (index, write) in writes.enumerated() {
            if case .save(let task) = write { lastIndex[task.id] = index }
        }
        guard lastIndex.count < writes.count else { return writes }
        return writes.enumerated().compactMap { index, write in
            if case .save(let task) = write, lastIndex[task.id] != index { return nil }
            return write
        }
    }

    private func finishFlush(_ promises: [EventLoopPromise<Void>], sequence: UInt64, result: Result<Void, any Error>) {
        if case .failure(let error) = result {
            logger.error("tasks could not be stored", metadata: ["error": "\(error)"])
        }
        let released = core.withValue { core -> [EventLoopPromise<Void>] in
            core.isStoring = false
            core.storedSequence = sequence
            let ready = core.storeBarriers.filter { $0.sequence <= sequence }.map(\.promise)
            core.storeBarriers.removeAll { $0.sequence <= sequence }
            return ready
        }
        for promise in promises { promise.completeWith(result) }
        for barrier in released { barrier.succeed() }
        flushIfNeeded()
    }
}
