import NIOCore
import SidecarProtocol

/// What the scheduler's event loop holds: every unfinished task and what is running it.
struct TaskSchedulerCore: Sendable {
    /// How a running task is being run.
    enum Runner: Sendable {
        /// By the daemon's own pool; cancelling the Swift task stops it.
        case builtIn(Task<Void, Never>?)
        /// By an external worker's connection, until `expiresAt` (Unix ms) unless it heartbeats.
        case external(connectionID: UInt64, leaseMilliseconds: Int64, expiresAt: Int64)
    }

    /// A `tasks.claim` long poll waiting for work.
    struct ClaimWaiter: Sendable {
        var kinds: Set<String>
        var maximum: Int
        var leaseMilliseconds: Int64
        var connectionID: UInt64
        var promise: EventLoopPromise<[TaskRecord]>
    }

    /// A change waiting for the next transaction.
    enum Write: Sendable {
        case save(TaskRecord)
        case saveSchedule(TaskSchedule)
        case deleteSchedule(String)
    }

    var tasks: [String: TaskRecord] = [:]
    /// Queued tasks raised above their priority by `--priority-aging`, and the rank they have now.
    var agedRanks: [String: Int] = [:]
    var queue = TaskQueue()
    var idempotency: [String: String] = [:]
    var runners: [String: Runner] = [:]
    var freeWorkers: Int
    var ids = TaskIDGenerator()
    var metrics = TaskMetrics()
    var isStarted = false
    var isShuttingDown = false
    /// A ``TaskScheduler/dispatch()`` pass is running: a nested call asks for another pass
    /// (``isDispatchRequested``) instead of running its own.
    var isDispatching = false
    var isDispatchRequested = false
    /// Running built-in tasks whose cancellation was asked for.
    var cancelRequested: Set<String> = []
    /// Externally running tasks cancelled under their worker: its next call gets -32006.
    var cancelledUnderWorker: [String: UInt64] = [:]

    var waiters: [String: [UInt64: EventLoopPromise<TaskRecord>]] = [:]
    var nextWaiterID: UInt64 = 0
    var subscribers: [UInt64: TaskScheduler.Subscriber] = [:]
    var nextSubscriptionID: UInt64 = 0
    var claimWaiters: [UInt64: ClaimWaiter] = [:]
    var nextClaimID: UInt64 = 0

    var schedules: [String: TaskSchedule] = [:]

    /// Storage: changes not yet handed to the database, and sequence numbers that let a
    /// reader wait for everything issued before it to be committed.
    var unstored: [Write] = []
    var unstoredPromises: [EventLoopPromise<Void>] = []
    var isStoring = false
    var issuedSequence: UInt64 = 0
    var storedSequence: UInt64 = 0
    var storeBarriers: [(sequence: UInt64, promise: EventLoopPromise<Void>)] = []

    var tick: Scheduled<Void>?
    var tickDeadline: Int64?

    init(freeWorkers: Int) {
        self.freeWorkers = freeWorkers
    }

    /// Takes the next queued task among `kinds` off the queue, skipping stale entries (a task
    /// cancelled meanwhile, or one whose entry was replaced by an aged one).
    mutating func takeNextQueued(kinds: Set<String>?) -> TaskRecord? {
        while let (id, rank) = queue.popReady(kinds: kinds) {
            guard let task = tasks[id], task.status == .queued, rank == (agedRanks[id] ?? task.priority.rank) else { continue }
            agedRanks[id] = nil
            return task
        }
        return nil
    }
}
